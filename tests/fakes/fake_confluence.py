"""A fake Confluence Cloud site (REST v1 and v2 under ``/wiki``) for the real atlassian-python-api client.

Reproduces the JSON shapes Kura reads: v2 spaces and space permissions
(principals by id, cursor paged), ``content/search`` with CQL and cursor
pagination via ``_links.next``, content with expansions (only what was asked
for is included), restrictions, group members and user lookups. Every request
is checked against the v1/v2 OpenAPI subsets in ``specs/`` (path, parameter
names, integer types, limits), and every v2 answer against the documented 200
schema (:mod:`tests.fakes.openapi_shape`). As a Cloud site (``cloud=True``,
the default) it refuses the resources the v1 spec marks deprecated with 410,
so a connector that falls back to them fails its tests; as Data Center
(``cloud=False``) it has no v2 and serves v1 only, ``space/{key}?expand=permissions``
included. Like the real site, CQL ``lastmodified`` compares in
the API user's time zone (here UTC+9), and users in restrictions come without
their email unless the site shows it. Tests mutate the data between syncs and
inject 429/500 faults through :class:`FakeServer`.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from pathlib import Path
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from tests.fakes.http_fake import FakeServer, Request, Response
from tests.fakes.openapi_shape import shape_errors

SPECS = Path(__file__).parent / "specs"
USER_TZ = timezone(timedelta(hours=9))


@dataclass
class Page:
    id: str
    space: str
    title: str
    body: str
    type: str = "page"
    parent: str | None = None
    version: int = 1
    when: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    author: str = "u-aiko"
    labels: list[str] = field(default_factory=list)
    read_users: list[str] = field(default_factory=list)  # account ids
    read_groups: list[str] = field(default_factory=list)
    broken: bool = False  # GET content/{id} answers 500 every time
    # (author account id, storage-format body[, replies in the same form]): footer comments and their reply trees
    comments: list[tuple] = field(default_factory=list)


class FakeConfluence(FakeServer):
    def __init__(self, username: str = "kura-bot@example.com", token: str = "conf-token", page_size: int = 2) -> None:
        super().__init__()
        self.username, self.token = username, token
        self.page_size = page_size  # small, so pagination is exercised
        self.users: dict[str, dict[str, str]] = {}
        self.groups: dict[str, list[str]] = {}
        self.spaces: dict[str, dict[str, Any]] = {}
        self.pages: dict[str, Page] = {}
        self.show_emails_in_restrictions = False
        self.show_space_permissions = True
        self.cloud = True  # False: a Data Center site (no v2, deprecated-on-Cloud v1 resources served)
        self.spec_violations: list[str] = []  # answers of the fake itself that broke the v2 response schema
        self.deprecated_calls: list[str] = []  # spec paths marked "deprecated" that were called
        self.hidden_emails: set[str] = set()  # accounts whose privacy setting hides their email (User.email == "")
        self.expansion_limit = 25  # an expanded restriction list carries at most this many; the rest is paged
        self._clock = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)

    # --- test data ---------------------------------------------------------------------
    def tick(self) -> datetime:
        self._clock += timedelta(minutes=7)
        return self._clock

    def add_user(self, account_id: str, email: str, name: str) -> None:
        self.users[account_id] = {"email": email, "displayName": name}

    def add_space(self, key: str, name: str, read_groups=(), read_users=(), anonymous: bool = False) -> None:
        self.spaces[key] = {"name": name, "groups": list(read_groups), "users": list(read_users),
                            "anonymous": anonymous, "id": str(98300 + len(self.spaces))}  # v2 ids: int64 as string

    def add_page(self, page: Page) -> Page:
        page.when = page.created = self.tick()
        self.pages[page.id] = page
        return page

    def edit_page(self, page_id: str, body: str | None = None, title: str | None = None) -> None:
        page = self.pages[page_id]
        page.body = body if body is not None else page.body
        page.title = title if title is not None else page.title
        page.version += 1
        page.when = self.tick()

    # --- routing -----------------------------------------------------------------------
    def route(self, req: Request) -> Response:
        if not self._authorized(req):
            return Response(401, {"statusCode": 401, "message": "Client must be authenticated to access this resource."})
        found = _spec_operation(req.path)
        if found is None:
            return Response(404, {"statusCode": 404, "message": f"no such resource in the OpenAPI spec: {req.path}"})
        template, operation, path_args = found
        if problem := _bad_parameters(operation, req.query, path_args):
            return Response(400, {"statusCode": 400, "message": problem})
        if operation.get("data_center_only") and self.cloud:
            return Response(404, {"statusCode": 404, "message": f"{template} exists on Data Center only"})
        if operation["deprecated"]:
            self.deprecated_calls.append(template)
            if self.cloud:  # removed here so that a fall-back to v1 fails a test instead of passing quietly
                return Response(410, {"statusCode": 410, "message": f"{template} is deprecated: use the v2 API"})
        if req.path.startswith("/wiki/api/v2/"):
            if not self.cloud:
                return Response(404, {"statusCode": 404, "message": "Data Center has no REST API v2"})
            response = self._route_v2(req, req.path.removeprefix("/wiki/api/v2/"))
            if response.status == 200 and (errors := shape_errors(operation["response"], response.body)):
                self.spec_violations += errors
                return Response(500, {"message": f"the fake's answer breaks the v2 spec: {errors[:3]}"})
            return response
        path = req.path.removeprefix("/wiki/rest/api/")
        if req.path == path:
            return Response(404, {"message": "not under /wiki/rest/api"})
        if path == "space":
            keys = sorted(self.spaces)
            return self._paged(req, [{"key": k, "name": self.spaces[k]["name"], "type": "global"} for k in keys])
        if m := re.fullmatch(r"space/([^/]+)", path):
            return self._space(m.group(1))
        if path == "content/search":
            return self._search(req)
        if m := re.fullmatch(r"content/(\d+)", path):
            page = self.pages.get(m.group(1))
            if page is None:
                return Response(404, {"statusCode": 404, "message": "No content found with id"})
            if page.broken:
                return Response(500, {"statusCode": 500, "message": "Internal server error"})
            return Response(200, self._content(page, (req.arg("expand") or "").split(",")))
        if m := re.fullmatch(r"content/(\d+)/restriction/byOperation/read", path):
            page = self.pages.get(m.group(1))
            if page is None:
                return Response(404, {"statusCode": 404, "message": "No content found with id"})
            return Response(200, {"operation": "read", "restrictions": self._subjects(
                page.read_users, page.read_groups, int(req.arg("start") or 0), int(req.arg("limit") or 100))})
        if m := re.fullmatch(r"content/(\d+)/child/comment", path):
            page = self.pages.get(m.group(1))
            expand = (req.arg("expand") or "").split(",")
            comments = [{"id": f"{page.id}-c{i}", "type": "comment", "status": "current", "title": f"Re: {page.title}",
                         **({"body": {"storage": {"value": body, "representation": "storage"}}}
                            if "body.storage" in expand else {}),
                         **({"history": {"createdBy": self._user(author, False)}} if "history" in expand else {})}
                        for i, (author, body) in enumerate(page.comments if page else [])]
            return self._paged(req, comments)
        if m := re.fullmatch(r"group/gid-([^/]+)/membersByGroupId", path):
            return self._paged(req, [self._user(a, with_email=True) for a in self.groups.get(m.group(1), [])])
        if path == "group/member" or (m := re.fullmatch(r"group/([^/]+)/member", path)):  # Cloud / Data Center
            members = self.groups.get(req.arg("name") or (m.group(1) if m else ""), [])
            return self._paged(req, [self._user(a, with_email=True) for a in members])
        if path == "group/by-id":
            name = (req.arg("id") or "").removeprefix("gid-")
            if name not in self.groups:
                return Response(404, {"statusCode": 404, "message": "group not found"})
            return Response(200, {"type": "group", "name": name, "id": f"gid-{name}"})
        if path == "user":
            account = req.arg("accountId") or ""
            if account not in self.users:
                return Response(404, {"message": "user not found"})
            return Response(200, self._user(account, with_email=True))
        return Response(404, {"message": f"unknown resource {path}"})

    def _route_v2(self, req: Request, path: str) -> Response:
        """Cloud's v2 API: footer comments and their children, cursor-paged with ``_links.next`` from the root."""
        if path == "spaces":
            keys = sorted(self.spaces)
            if req.arg("keys"):
                keys = [k for k in keys if k in req.arg("keys").split(",")]
            results = [{"id": self.spaces[k]["id"], "key": k, "name": self.spaces[k]["name"], "type": "global",
                        "status": "current"} for k in keys]
            return self._cursor_page(req, path, results)
        if m := re.fullmatch(r"spaces/(\d+)/permissions", path):
            key = next((k for k, s in self.spaces.items() if s["id"] == m.group(1)), None)
            if key is None or not self.show_space_permissions:  # the spec: not found, or not allowed to see them
                return Response(404, {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found"}]})
            return self._cursor_page(req, path, self._space_permissions(key))
        if m := re.fullmatch(r"(pages|blogposts)/(\d+)(/labels)?", path):
            page = self.pages.get(m.group(2))
            if page is None or page.type != m.group(1)[:-1]:
                return Response(404, {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found"}]})
            if m.group(3):
                return Response(200, {"results": [{"id": f"l-{n}", "name": n, "prefix": "global"} for n in page.labels],
                                      "_links": {}})
            if page.broken:
                return Response(500, {"errors": [{"status": 500, "code": "INTERNAL_SERVER_ERROR", "title": "Error"}]})
            item = {"id": page.id, "status": "current", "title": page.title,
                    "spaceId": self.spaces[page.space]["id"], "authorId": page.author,
                    "createdAt": page.created.isoformat().replace("+00:00", "Z"),
                    "version": {"number": page.version, "authorId": page.author,
                                "createdAt": page.when.isoformat().replace("+00:00", "Z")},
                    "_links": {"webui": f"/spaces/{page.space}/pages/{page.id}"}}
            if page.parent:  # the schema has no null here (its prose says null): absent when there is none
                item["parentId"] = page.parent
            if req.arg("body-format") == "storage":
                item["body"] = {"storage": {"representation": "storage", "value": page.body}}
            return Response(200, item)
        comments = self._comment_index()
        if m := re.fullmatch(r"(pages|blogposts)/(\d+)/footer-comments", path):
            page = self.pages.get(m.group(2))
            if page is None:
                return Response(404, {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found"}]})
            ids = [cid for cid, (pid, parent, _) in comments.items() if pid == page.id and parent is None]
        elif m := re.fullmatch(r"footer-comments/(\d+)/children", path):
            if m.group(1) not in comments:
                return Response(404, {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found"}]})
            ids = [cid for cid, (_, parent, _) in comments.items() if parent == m.group(1)]
        else:
            return Response(404, {"errors": [{"status": 404, "code": "NOT_FOUND", "title": f"unknown {path}"}]})
        start = int(req.arg("cursor") or 0)
        limit = min(int(req.arg("limit") or 25), self.page_size)
        items = []
        for cid in ids[start:start + limit]:
            page_id, parent, (author, body) = comments[cid]
            item = {"id": cid, "status": "current", "title": "Re:", "version": {"number": 1, "authorId": author}}
            item["pageId" if parent is None else "parentCommentId"] = parent or page_id
            if req.arg("body-format") == "storage":
                item["body"] = {"storage": {"representation": "storage", "value": body}}
            items.append(item)
        links = {}
        if start + limit < len(ids):
            query = urlencode({**{k: v[0] for k, v in req.query.items()}, "cursor": start + limit})
            links["next"] = f"/wiki/api/v2/{path}?{query}"
        return Response(200, {"results": items, "_links": links})

    def _space_permissions(self, key: str) -> list[dict[str, Any]]:
        """A space's permission assignments as v2 lists them: one per principal and operation, by id only.

        Reads are interleaved with other operations, so a reader that forgets to filter on ``read``/``space``
        (or stops after the first page) gets a different answer. Anonymous access is a ``role`` principal: the
        spec names the type but not its ids, so the id here is this fake's own.
        """
        space, found = self.spaces[key], []

        def grant(kind: str, principal: str, operation: str, target: str) -> None:
            found.append({"id": str(len(found) + 1), "principal": {"type": kind, "id": principal},
                          "operation": {"key": operation, "targetType": target}})

        grant("group", "gid-confluence-administrators", "administer", "space")
        for group in space["groups"]:
            grant("group", f"gid-{group}", "read", "space")
            grant("group", f"gid-{group}", "create", "page")
        for account in space["users"]:
            grant("user", account, "create", "comment")
            grant("user", account, "read", "space")
        if space["anonymous"]:
            grant("role", "anonymous", "read", "space")
        return found

    def _cursor_page(self, req: Request, path: str, items: list[Any]) -> Response:
        """One page of a v2 list: an opaque cursor in ``_links.next`` and in the ``Link`` header, as the spec says."""
        cursor = req.arg("cursor")
        start = int(base64.urlsafe_b64decode(cursor).decode().removeprefix("after:")) if cursor else 0
        limit = min(int(req.arg("limit") or 25), self.page_size)
        body: dict[str, Any] = {"results": items[start:start + limit], "_links": {}}
        headers = {}
        if start + limit < len(items):
            token = base64.urlsafe_b64encode(f"after:{start + limit}".encode()).decode()
            query = urlencode({**{k: v[0] for k, v in req.query.items()}, "cursor": token})
            body["_links"]["next"] = f"/wiki/api/v2/{path}?{query}"
            headers["Link"] = f'<{body["_links"]["next"]}>; rel="next"'
        return Response(200, body, headers)

    def _comment_index(self) -> dict[str, tuple[str, str | None, tuple[str, str]]]:
        """comment id -> (page id, parent comment id or None, (author, body)), numbered depth first."""
        index: dict[str, tuple[str, str | None, tuple[str, str]]] = {}

        def walk(page_id: str, parent: str | None, comments: list[tuple]) -> None:
            for comment in comments:
                cid = str(5000 + len(index))
                index[cid] = (page_id, parent, (comment[0], comment[1]))
                walk(page_id, cid, comment[2] if len(comment) > 2 else [])

        for page in sorted(self.pages.values(), key=lambda p: int(p.id)):
            walk(page.id, None, page.comments)
        return index

    def _authorized(self, req: Request) -> bool:
        """Basic auth with an API token (Cloud) or a bearer personal access token (Data Center)."""
        basic = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
        return req.headers.get("authorization") in (f"Basic {basic}", f"Bearer {self.token}")

    def _paged(self, req: Request, items: list[Any]) -> Response:
        start = int(req.arg("cursor") or req.arg("start") or 0)
        limit = min(int(req.arg("limit") or 25), self.page_size)
        chunk = items[start:start + limit]
        links: dict[str, str] = {"base": f"{self.url}/wiki", "context": "/wiki"}
        if start + limit < len(items):
            query = urlencode({k: v[0] for k, v in req.query.items() if k not in ("cursor", "start")})
            # content/search pages with an opaque cursor; the other v1 lists with start (as their specs say).
            key = "cursor" if req.path.endswith("content/search") else "start"
            links["next"] = f"{req.path.removeprefix('/wiki')}?{query}&{key}={start + limit}"
        return Response(200, {"results": chunk, "start": start, "limit": limit, "size": len(chunk), "_links": links})

    # --- resources -----------------------------------------------------------------------
    def _user(self, account_id: str, with_email: bool) -> dict[str, Any]:
        user = self.users.get(account_id, {"email": "", "displayName": account_id})
        with_email = with_email and account_id not in self.hidden_emails
        return {"type": "known", "accountId": account_id, "accountType": "atlassian",
                "email": user["email"] if with_email else "", "publicName": user["displayName"],
                "displayName": user["displayName"]}

    def _subjects(self, users: list[str], groups: list[str], start: int = 0,
                  limit: int | None = None) -> dict[str, Any]:
        """User and group lists paged by start/limit, as Confluence returns them (at most ``expansion_limit``)."""
        limit = min(limit or self.expansion_limit, self.expansion_limit)
        users, groups = users[start:start + limit], groups[start:start + limit]
        return {
            "user": {"results": [self._user(u, self.show_emails_in_restrictions) for u in users],
                     "start": start, "limit": limit, "size": len(users)},
            "group": {"results": [{"type": "group", "name": g, "id": f"gid-{g}"} for g in groups],
                      "start": start, "limit": limit, "size": len(groups)},
        }

    def _space(self, key: str) -> Response:
        space = self.spaces.get(key)
        if space is None:
            return Response(404, {"statusCode": 404, "message": f"No space with key : {key}"})
        body: dict[str, Any] = {"id": abs(hash(key)) % 10_000, "key": key, "name": space["name"], "type": "global"}
        if self.show_space_permissions:
            body["permissions"] = [
                {"id": 1, "subjects": self._subjects(space["users"], space["groups"]),
                 "operation": {"operation": "read", "targetType": "space"},
                 "anonymousAccess": space["anonymous"], "unlicensedAccess": False},
                {"id": 2, "subjects": self._subjects([], ["confluence-administrators"]),
                 "operation": {"operation": "administer", "targetType": "space"},
                 "anonymousAccess": False, "unlicensedAccess": False},
            ]
        return Response(200, body)

    def _ancestors(self, page: Page) -> list[Page]:
        chain, parent = [], page.parent
        while parent:
            chain.insert(0, self.pages[parent])
            parent = self.pages[parent].parent
        return chain

    def _content(self, page: Page, expand: list[str]) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": page.id, "type": page.type, "status": "current", "title": page.title,
            "_links": {"webui": f"/spaces/{page.space}/pages/{page.id}", "self": f"{self.url}/wiki/rest/api/content/{page.id}",
                       "base": f"{self.url}/wiki"},
        }
        if "space" in expand:
            item["space"] = {"key": page.space, "name": self.spaces[page.space]["name"], "type": "global"}
        if "version" in expand:
            item["version"] = {"number": page.version, "when": page.when.isoformat().replace("+00:00", "Z"),
                               "by": self._user(page.author, False), "minorEdit": False}
        if "ancestors" in expand:
            item["ancestors"] = [{"id": a.id, "type": "page", "title": a.title} for a in self._ancestors(page)]
        if "body.storage" in expand:
            item["body"] = {"storage": {"value": page.body, "representation": "storage"}}
        if "metadata.labels" in expand:
            item["metadata"] = {"labels": {"results": [{"prefix": "global", "name": n} for n in page.labels],
                                           "size": len(page.labels)}}
        if "history" in expand:
            item["history"] = {"latest": True, "createdBy": self._user(page.author, False),
                               "createdDate": page.created.isoformat().replace("+00:00", "Z")}
        if any(e.startswith("restrictions.read") for e in expand):
            item["restrictions"] = {"read": {"operation": "read",
                                             "restrictions": self._subjects(page.read_users, page.read_groups)}}
        return item

    def _search(self, req: Request) -> Response:
        cql = req.arg("cql") or ""
        types = _in_list(cql, "type") or ["page", "blogpost"]
        spaces = _in_list(cql, "space")
        pages = [p for p in self.pages.values() if p.type in types and (spaces is None or p.space in spaces)]
        if m := re.search(r'lastmodified\s*>=\s*"([^"]+)"', cql):
            since = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=USER_TZ)
            pages = [p for p in pages if p.when >= since]
        if re.search(r"order by lastmodified", cql):
            pages.sort(key=lambda p: (p.when, p.id))
        else:
            pages.sort(key=lambda p: int(p.id))
        expand = (req.arg("expand") or "").split(",")
        return self._paged(req, [self._content(p, expand) for p in pages])


def _in_list(cql: str, field_name: str) -> list[str] | None:
    m = re.search(rf"\b{field_name} in \(([^)]*)\)", cql)
    if not m:
        return None
    return [v.strip().strip('"') for v in m.group(1).split(",") if v.strip()]


@functools.cache
def _spec_paths() -> list[tuple[re.Pattern, str, dict[str, Any]]]:
    """Every GET the fake may be asked, from the Confluence v1 and v2 OpenAPI subsets (specs/README.md)."""
    paths = {}
    for name in ("confluence_v1_subset.json", "confluence_v2_subset.json"):
        paths.update(json.loads((SPECS / name).read_text())["paths"])
    # Data Center's member list (no Cloud spec has it): kept for the Data Center code path.
    paths["/wiki/rest/api/group/{groupName}/member"] = {"deprecated": False, "data_center_only": True, "parameters": [
        {"name": "start", "in": "query"}, {"name": "limit", "in": "query"}, {"name": "expand", "in": "query"}]}
    compiled = [(re.compile(re.sub(r"\{([^}]+)\}", r"(?P<\1>[^/]+)", t) + "$"), t, op) for t, op in paths.items()]
    return sorted(compiled, key=lambda c: (c[1].count("{"), -len(c[1])))  # literal paths before templates


def _spec_operation(path: str) -> tuple[str, dict[str, Any], dict[str, str]] | None:
    for pattern, template, operation in _spec_paths():
        if m := pattern.match(path):
            return template, operation, m.groupdict()
    return None


def _bad_parameters(operation: dict[str, Any], query: dict[str, list[str]], path_args: dict[str, str]) -> str | None:
    """What the real API answers 400 to: an unknown query parameter, a non-integer where the spec says integer
    (a v2 space id, a limit), a limit outside 1..maximum."""
    specs = {p["name"]: p for p in operation["parameters"]}
    unknown = set(query) - set(specs)
    if unknown:
        return f"unknown query parameters {sorted(unknown)}"
    values = {**{k: v[0] for k, v in query.items()}, **path_args}
    for name, value in values.items():
        spec = specs.get(name) or {}
        if spec.get("type") != "integer":
            continue
        if not re.fullmatch(r"-?\d+", value):
            return f"{name} must be an integer, not {value!r}"
        if name == "limit" and not 1 <= int(value) <= (spec.get("maximum") or 2**31):
            return f"limit must be between 1 and {spec.get('maximum')}"
    return None
