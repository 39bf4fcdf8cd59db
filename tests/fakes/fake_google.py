"""A fake Google OAuth token endpoint, Drive v3 and Admin Directory for the real google-api-python-client.

Reproduces what Kura reads: ``files.list`` with a ``q`` of parents/mimeType/
trashed terms and page tokens, ``files.get``, ``files.export`` (HTML),
``permissions.list``, ``changes.getStartPageToken`` and ``changes.list`` (every
edit, sharing change, move, trash and deletion appends a change and bumps the
file ``version``, like Drive), and ``members.list``. Access tokens come from
``POST /token`` (a service-account JWT grant); ``expire_tokens()`` makes every
issued token answer 401 so the client must refresh, ``revoke()`` makes the
token endpoint refuse.

Spec-driven (:mod:`tests.fakes.google_spec`): every request is checked against
the Drive v3 / Admin Directory discovery documents (unknown parameter, page
size over the documented maximum, unknown field in ``fields=`` -> 400), every
answer carries only the fields ``fields=`` selects (Drive's defaults when it is
absent), the token endpoint verifies the service-account JWT against the key
the test wrote (:meth:`FakeGoogle.trust_key_file`), and the documented limits
are emulated: ``incompleteSearch`` (:attr:`FakeGoogle.unsearched`), the 10 MB
export limit (``exportSizeLimitExceeded``), ``maxResults`` <= 200 on members.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.google_spec import SpecError, check_request, shape
from tests.fakes.http_fake import FakeServer, Request, Response

EXPORT_LIMIT_BYTES = 10 * 1024 * 1024  # files.export: "the exported content is limited to 10 MB"
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive.readonly"
DOC = "application/vnd.google-apps.document"
FOLDER = "application/vnd.google-apps.folder"


@dataclass
class DriveFile:
    id: str
    name: str
    parents: list[str]
    html: str = ""
    mime: str = DOC
    version: int = 1
    modified: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    trashed: bool = False
    drive_id: str | None = None
    owner: tuple[str, str] = ("aiko@example.com", "Aiko Tanaka")
    permissions: list[dict[str, Any]] = field(default_factory=list)
    broken: bool = False  # export answers 500 every time


def _error(status: int, message: str, reason: str) -> Response:
    return Response(status, {"error": {"code": status, "message": message,
                                       "errors": [{"message": message, "domain": "global", "reason": reason}]}})


class FakeGoogle(FakeServer):
    def __init__(self, page_size: int = 2) -> None:
        super().__init__()
        self.page_size = page_size
        self.files: dict[str, DriveFile] = {}
        self.groups: dict[str, list[str]] = {}
        self.directory_enabled = True
        self.changes: list[tuple[str, bool]] = []  # (file id, removed); token N = index N
        self.tokens_issued: list[str] = []
        self.valid_tokens: set[str] = set()
        self.revoked = False
        self.oldest_valid_token = 0  # older change page tokens answer 400, as expired tokens do
        self.unsearched: set[str] = set()  # file ids an allDrives search missed: the page says incompleteSearch
        self.unreadable_groups: set[str] = set()  # Directory answers 403 for these groups
        self.trusted_keys: dict[str, Any] = {}  # service account email -> public key the JWT must be signed with
        self.rejected: list[tuple[Request, str]] = []  # requests answered 400 by the spec check, and why
        self._clock = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)

    # --- test data -----------------------------------------------------------------------
    def _touch(self, f: DriveFile, bump: bool = True) -> None:
        self._clock += timedelta(minutes=3)
        f.modified = self._clock
        if bump:
            f.version += 1
        self.changes.append((f.id, False))

    def add(self, f: DriveFile) -> DriveFile:
        self.files[f.id] = f
        self._touch(f, bump=False)
        return f

    def edit(self, file_id: str, html: str) -> None:
        self.files[file_id].html = html
        self._touch(self.files[file_id])

    def share(self, file_id: str, permissions: list[dict[str, Any]]) -> None:
        self.files[file_id].permissions = permissions
        self._touch(self.files[file_id])

    def move(self, file_id: str, parents: list[str]) -> None:
        self.files[file_id].parents = parents
        self._touch(self.files[file_id])

    def trash(self, file_id: str) -> None:
        self.files[file_id].trashed = True
        self._touch(self.files[file_id])

    def delete(self, file_id: str) -> None:
        del self.files[file_id]
        self.changes.append((file_id, True))

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def revoke(self) -> None:
        self.revoked = True
        self.valid_tokens.clear()

    # --- routing -------------------------------------------------------------------------
    def route(self, req: Request) -> Response:
        if req.path == "/token":
            return self._token(req)
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.valid_tokens:
            return _error(401, "Request had invalid authentication credentials.", "authError")
        try:
            method_id = check_request(req.method, req.path, req.query)
        except SpecError as exc:
            self.rejected.append((req, str(exc)))
            return _error(400, str(exc), "badRequest")
        response = self._serve(req)
        if isinstance(response.body, dict) and response.status == 200:
            response.body = shape(method_id, req.query, response.body)
        return response

    def _serve(self, req: Request) -> Response:
        path = req.path
        if path == "/drive/v3/files":
            return self._list(req)
        if m := re.fullmatch(r"/drive/v3/files/([^/]+)", path):
            f = self.files.get(m.group(1))
            return Response(200, self._meta(f)) if f else _error(404, f"File not found: {m.group(1)}.", "notFound")
        if m := re.fullmatch(r"/drive/v3/files/([^/]+)/export", path):
            f = self.files.get(m.group(1))
            if f is None:
                return _error(404, "File not found.", "notFound")
            if f.broken:
                return _error(500, "Internal Error", "internalError")
            data = f.html.encode("utf-8")
            if len(data) > EXPORT_LIMIT_BYTES:
                return _error(403, "This file is too large to be exported.", "exportSizeLimitExceeded")
            return Response(200, data, content_type="text/html; charset=utf-8")
        if m := re.fullmatch(r"/drive/v3/files/([^/]+)/permissions", path):
            f = self.files.get(m.group(1))
            if f is None:
                return _error(404, "File not found.", "notFound")
            return self._page(req, "permissions", [dict(p, kind="drive#permission") for p in f.permissions])
        if path == "/drive/v3/changes/startPageToken":
            return Response(200, {"kind": "drive#startPageToken", "startPageToken": str(len(self.changes))})
        if path == "/drive/v3/changes":
            return self._changes(req)
        if m := re.fullmatch(r"/admin/directory/v1/groups/([^/]+)/members", path):
            if not self.directory_enabled or m.group(1) in self.unreadable_groups:
                return _error(403, "Not Authorized to access this resource/api", "forbidden")
            members = [{"kind": "admin#directory#member", "email": e, "role": "MEMBER", "type": "USER",
                        "status": "ACTIVE"} for e in self.groups.get(m.group(1), [])]
            return self._page(req, "members", members)
        return _error(404, f"unknown path {path}", "notFound")

    def trust_key_file(self, path) -> None:
        """Accept JWT grants signed with the private key of this service-account file (and only those)."""
        from cryptography.hazmat.primitives import serialization

        info = json.loads(open(path, encoding="utf-8").read())
        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        self.trusted_keys[info["client_email"]] = key.public_key()

    def _token(self, req: Request) -> Response:
        form = parse_qs(req.body.decode("utf-8"))
        if self.revoked:
            return Response(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        if form.get("grant_type", [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Response(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        problem = self._jwt_problem(form.get("assertion", [""])[0], f"{self.url}/token")
        if problem:
            return Response(400, {"error": "invalid_grant", "error_description": problem})
        token = f"ya29.fake-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        self.valid_tokens.add(token)
        return Response(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def _jwt_problem(self, assertion: str, audience: str) -> str | None:
        """Why Google's token endpoint would refuse this service-account JWT (None: it is good)."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(part: str) -> bytes:
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

        try:
            header_b64, claims_b64, signature_b64 = assertion.split(".")
            header, claims = json.loads(b64(header_b64)), json.loads(b64(claims_b64))
        except ValueError:
            return "Invalid JWT: malformed"
        if header.get("alg") != "RS256":
            return "Invalid JWT: alg must be RS256"
        key = self.trusted_keys.get(claims.get("iss", ""))
        if key is None:
            return "Invalid JWT Signature."  # no key of this account: signed by someone else
        try:
            key.verify(b64(signature_b64), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "Invalid JWT Signature."
        now = time.time()
        # google-auth always addresses Google's endpoint, whatever token_uri says; both are accepted.
        if claims.get("aud") not in (audience, "https://oauth2.googleapis.com/token"):
            return "Invalid JWT: aud must be the token endpoint"
        if not (claims.get("iat", 0) - 300 <= now <= claims.get("exp", 0)) or claims["exp"] - claims["iat"] > 3600:
            return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
        if DRIVE_SCOPE not in str(claims.get("scope", "")).split():
            return "Invalid JWT: the scope does not include drive.readonly"
        return None

    def _page(self, req: Request, key: str, items: list[Any]) -> Response:
        start = int(req.arg("pageToken") or 0)
        body: dict[str, Any] = {key: items[start:start + self.page_size]}
        if start + self.page_size < len(items):
            body["nextPageToken"] = str(start + self.page_size)
        return Response(200, body)

    def _meta(self, f: DriveFile) -> dict[str, Any]:
        meta = {"kind": "drive#file", "id": f.id, "name": f.name, "mimeType": f.mime, "trashed": f.trashed,
                "parents": list(f.parents), "version": str(f.version),
                "modifiedTime": f.modified.isoformat().replace("+00:00", "Z"),
                "createdTime": "2024-04-01T00:00:00.000Z",
                "webViewLink": f"https://docs.google.com/document/d/{f.id}/edit",
                "owners": [{"emailAddress": f.owner[0], "displayName": f.owner[1]}],
                "lastModifyingUser": {"emailAddress": f.owner[0], "displayName": f.owner[1]}}
        if f.drive_id:
            meta["driveId"] = f.drive_id
        return meta

    def _list(self, req: Request) -> Response:
        q = req.arg("q") or ""
        files = sorted(self.files.values(), key=lambda f: f.id)
        if m := re.search(r"'([^']+)' in parents", q):
            files = [f for f in files if m.group(1) in f.parents]
        mimes = re.findall(r"mimeType = '([^']+)'", q)
        if mimes:
            files = [f for f in files if f.mime in mimes]
        if "trashed = false" in q:
            files = [f for f in files if not f.trashed]
        if req.arg("corpora") == "drive":
            files = [f for f in files if f.drive_id == req.arg("driveId")]
        incomplete = req.arg("corpora") == "allDrives" and any(f.id in self.unsearched for f in files)
        files = [f for f in files if not (incomplete and f.id in self.unsearched)]
        response = self._page(req, "files", [self._meta(f) for f in files])
        response.body.update(kind="drive#fileList", incompleteSearch=incomplete)
        return response

    def _changes(self, req: Request) -> Response:
        start = int(req.arg("pageToken") or 0)
        if start < self.oldest_valid_token:
            return _error(400, "Invalid Value", "invalid")
        window = self.changes[start:start + self.page_size]
        changes = []
        for file_id, removed in window:
            change = {"kind": "drive#change", "changeType": "file", "fileId": file_id, "removed": removed,
                      "time": self._clock.isoformat().replace("+00:00", "Z")}
            if not removed and file_id in self.files:
                change["file"] = self._meta(self.files[file_id])
            elif not removed:
                change["removed"] = True
            changes.append(change)
        body: dict[str, Any] = {"kind": "drive#changeList", "changes": changes}
        if start + self.page_size < len(self.changes):
            body["nextPageToken"] = str(start + self.page_size)
        else:
            body["newStartPageToken"] = str(len(self.changes))
        return Response(200, body)


@functools.cache
def _private_key_pem() -> str:
    """One RSA key per test session (generating one takes a noticeable fraction of a second)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def service_account_file(path, token_uri: str, fake: FakeGoogle | None = None) -> None:
    """Write a service-account key file whose token endpoint is the fake (which then trusts its key)."""
    pem = _private_key_pem()
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "kura-test", "private_key_id": "k1", "private_key": pem,
        "client_email": "kura-sync@kura-test.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": token_uri,
    }))
    if fake is not None:
        fake.trust_key_file(path)
