"""The Drive v3 and Admin Directory calls Kura makes, on google-api-python-client, with retries.

Credentials come from ``KURA_GOOGLE_CREDENTIALS_FILE``: a service-account key
(optionally impersonating ``KURA_GOOGLE_IMPERSONATE`` with domain-wide
delegation) or an OAuth ``authorized_user`` file. ``google-auth-httplib2``
refreshes an expired access token on a 401 by itself; a refresh the token
server refuses is an auth error. Discovery documents are the ones bundled with
the client (``static_discovery``); ``KURA_GOOGLE_API_BASE_URL`` points the
clients at another endpoint (tests, proxies).
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import google.auth.exceptions
import httplib2
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from core.errors import ConfigError
from core.settings import Settings
from ingest.connectors.retry import Fault, RetryPolicy, http_fault

logger = logging.getLogger(__name__)

DOC_MIME = "application/vnd.google-apps.document"
FOLDER_MIME = "application/vnd.google-apps.folder"
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive.readonly"
DIRECTORY_SCOPE = "https://www.googleapis.com/auth/admin.directory.group.member.readonly"
FILE_FIELDS = (
    "id,name,mimeType,trashed,parents,version,modifiedTime,createdTime,webViewLink,driveId,"
    "owners(displayName,emailAddress),lastModifyingUser(displayName,emailAddress)"
)
AUTH_HINT = (
    "Check KURA_GOOGLE_CREDENTIALS_FILE (and KURA_GOOGLE_IMPERSONATE for domain-wide delegation), and that "
    "the folders or shared drives are shared with that account"
)
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
EXPORT_TOO_LARGE = "exportSizeLimitExceeded"  # files.export: "the exported content is limited to 10 MB"


def _reasons(exc: HttpError) -> set[str]:
    try:
        error = json.loads(exc.content.decode("utf-8")).get("error", {})
    except (ValueError, AttributeError):
        return set()
    return {e.get("reason", "") for e in error.get("errors", []) if isinstance(e, dict)} | {
        d.get("reason", "") for d in error.get("details", []) if isinstance(d, dict)}


def listing_fields(file_fields: str) -> str:
    """files.list's field mask: incompleteSearch says whether the listing may be missing files."""
    return f"nextPageToken,incompleteSearch,files({file_fields})"


def classify(exc: BaseException) -> Fault | None:
    if isinstance(exc, HttpError):
        status = exc.resp.status
        message = f"Google HTTP {status}: {exc.reason}"
        if status == 403 and _reasons(exc) & RATE_REASONS:  # Drive reports some rate limits as 403
            return Fault("rate_limited", message, None)
        return http_fault(status, exc.resp.get("retry-after"), message, auth_hint=AUTH_HINT)
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return Fault("auth", f"Google refused to issue an access token ({exc}). {AUTH_HINT}")
    if isinstance(exc, (google.auth.exceptions.TransportError, TimeoutError, socket.timeout, ConnectionError,
                        httplib2.HttpLib2Error)):
        return Fault("transient", f"Google unreachable: {exc.__class__.__name__}")
    return None


def export_too_large(exc: BaseException) -> bool:
    """Drive refused the export because the Doc exceeds the 10 MB export limit: retrying cannot help."""
    return isinstance(exc, HttpError) and exc.resp.status == 403 and EXPORT_TOO_LARGE in _reasons(exc)


def classify_document(exc: BaseException) -> Fault | None:
    """For one file: 403/404 are about this file (export refused, unshared), not the credentials."""
    fault = classify(exc)
    if fault and fault.kind == "auth" and isinstance(exc, HttpError) and exc.resp.status == 403:
        return Fault("permanent", fault.message)
    return fault


def load_credentials(settings: Settings):
    path = settings.google_credentials_file
    if path is None:
        raise ConfigError("KURA_GOOGLE_CREDENTIALS_FILE is not set (a service-account key or authorized_user JSON)")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"KURA_GOOGLE_CREDENTIALS_FILE {path} is not a readable JSON key file: {exc}") from exc
    scopes = [DRIVE_SCOPE] + ([DIRECTORY_SCOPE] if settings.google_directory_groups else [])
    kind = info.get("type")
    try:
        if kind == "service_account":
            return service_account.Credentials.from_service_account_info(
                info, scopes=scopes, subject=settings.google_impersonate)
        if kind == "authorized_user":
            return user_credentials.Credentials.from_authorized_user_info(info, scopes=scopes)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"KURA_GOOGLE_CREDENTIALS_FILE {path}: {exc}") from exc
    raise ConfigError(f"KURA_GOOGLE_CREDENTIALS_FILE {path}: type {kind!r} is neither service_account nor "
                      "authorized_user")


class GoogleApi:
    """Drive listings, changes, exports and permissions, and Directory group members."""

    def __init__(self, settings: Settings, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy.from_settings(settings)
        http = AuthorizedHttp(load_credentials(settings), http=httplib2.Http(timeout=settings.connector_timeout_s))
        self.drive = build("drive", "v3", http=http, client_options=self._endpoint("drive/v3/"),
                           static_discovery=True, cache_discovery=False)
        self._http = http
        self._directory = None
        self.incomplete_searches = 0  # listing pages Drive marked incompleteSearch, since this object was made

    def _endpoint(self, service_path: str) -> dict[str, str] | None:
        """Client options for the root override: it replaces rootUrl + servicePath of the discovery document."""
        root = self.settings.google_api_base_url
        return {"api_endpoint": root.rstrip("/") + "/" + service_path} if root else None

    def execute(self, request, what: str, *, document: bool = False) -> Any:
        return self.retry.call(lambda: request.execute(num_retries=0), what=what,
                               classify=classify_document if document else classify)

    # --- listings ---------------------------------------------------------------------
    def _pages(self, what: str, **params) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            page = self.execute(self.drive.files().list(pageToken=token, **params), what)
            if page.get("incompleteSearch"):
                # Drive did not search every corpus: files may be missing from this listing (see drive.v3 FileList).
                self.incomplete_searches += 1
                logger.warning("%s: Drive reports an incomplete search; missing files are not treated as deleted",
                               what)
            yield from page.get("files", [])
            token = page.get("nextPageToken")
            if not token:
                return

    def file(self, file_id: str) -> dict[str, Any]:
        return self.execute(self.drive.files().get(fileId=file_id, fields=FILE_FIELDS, supportsAllDrives=True),
                            "Drive files.get")

    def children(self, folder_id: str, fields: str = FILE_FIELDS) -> Iterator[dict[str, Any]]:
        """Google Docs and sub-folders directly inside a folder."""
        q = f"'{folder_id}' in parents and trashed = false and (mimeType = '{DOC_MIME}' or mimeType = '{FOLDER_MIME}')"
        return self._pages("Drive files.list", q=q, fields=listing_fields(fields), pageSize=1000,
                           corpora="allDrives", includeItemsFromAllDrives=True, supportsAllDrives=True)

    def drive_docs(self, drive_id: str | None, fields: str = FILE_FIELDS) -> Iterator[dict[str, Any]]:
        """Every Google Doc of one shared drive, or (``None``) everything visible to the account."""
        q = f"mimeType = '{DOC_MIME}' and trashed = false"
        scope = {"corpora": "drive", "driveId": drive_id} if drive_id else {"corpora": "allDrives"}
        return self._pages("Drive files.list", q=q, fields=listing_fields(fields), pageSize=1000,
                           includeItemsFromAllDrives=True, supportsAllDrives=True, **scope)

    # --- changes ----------------------------------------------------------------------
    def start_page_token(self) -> str:
        reply = self.execute(self.drive.changes().getStartPageToken(supportsAllDrives=True),
                             "Drive changes.getStartPageToken")
        return reply["startPageToken"]

    def changes(self, page_token: str) -> dict[str, Any]:
        """One page of changes: ``changes``, and ``nextPageToken`` or (at the end) ``newStartPageToken``."""
        fields = f"nextPageToken,newStartPageToken,changes(changeType,removed,fileId,time,file({FILE_FIELDS}))"
        request = self.drive.changes().list(pageToken=page_token, fields=fields, pageSize=100, includeRemoved=True,
                                            includeItemsFromAllDrives=True, supportsAllDrives=True, spaces="drive")
        return self.execute(request, "Drive changes.list")

    # --- one document -----------------------------------------------------------------
    def export_html(self, file_id: str) -> str:
        data = self.execute(self.drive.files().export(fileId=file_id, mimeType="text/html"), "Drive files.export",
                            document=True)
        return data.decode("utf-8") if isinstance(data, bytes) else str(data)

    def permissions(self, file_id: str) -> list[dict[str, Any]]:
        found, token = [], None
        while True:
            request = self.drive.permissions().list(
                fileId=file_id, pageToken=token, supportsAllDrives=True, pageSize=100,
                fields="nextPageToken,permissions(id,type,emailAddress,domain,role,deleted)")
            page = self.execute(request, "Drive permissions.list", document=True)
            found += page.get("permissions", [])
            token = page.get("nextPageToken")
            if not token:
                return found

    # --- groups -----------------------------------------------------------------------
    def group_members(self, group_email: str) -> list[str]:
        """Emails of a Google group's users, nested groups included (Directory API; needs admin consent)."""
        if self._directory is None:
            self._directory = build("admin", "directory_v1", http=self._http, client_options=self._endpoint(""),
                                    static_discovery=True, cache_discovery=False)
        emails, token = [], None
        while True:
            request = self._directory.members().list(groupKey=group_email, pageToken=token,
                                                     includeDerivedMembership=True, maxResults=200)
            page = self.execute(request, "Directory members.list", document=True)
            emails += [m["email"] for m in page.get("members", []) if m.get("type", "USER") == "USER" and m.get("email")]
            token = page.get("nextPageToken")
            if not token:
                return emails
