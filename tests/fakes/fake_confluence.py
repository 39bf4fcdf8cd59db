"""A fake Confluence Cloud site (REST v1 under ``/wiki``) for the real atlassian-python-api client.

Reproduces the JSON shapes Kura reads: spaces with ``expand=permissions``,
``content/search`` with CQL and cursor pagination via ``_links.next``, content
with expansions (only what was asked for is included), restrictions, group
members and user lookups. Like the real site, CQL ``lastmodified`` compares in
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
                            "anonymous": anonymous}

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
        template, operation = found
        unknown = set(req.query) - {p["name"] for p in operation["parameters"]}
        if unknown:
            return Response(400, {"statusCode": 400, "message": f"unknown query parameters {sorted(unknown)}"})
        if operation["deprecated"]:
            self.deprecated_calls.append(template)
        if req.path.startswith("/wiki/api/v2/"):
            return self._route_v2(req, req.path.removeprefix("/wiki/api/v2/"))
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
            start, limit = int(req.arg("cursor") or 0), min(int(req.arg("limit") or 25), self.page_size)
            links = {"base": f"{self.url}/wiki"}
            if start + limit < len(keys):
                query = urlencode({**{k: v[0] for k, v in req.query.items()}, "cursor": start + limit})
                links["next"] = f"/wiki/api/v2/spaces?{query}"
            results = [{"id": str(abs(hash(k)) % 10_000), "key": k, "name": self.spaces[k]["name"], "type": "global",
                        "status": "current"} for k in keys[start:start + limit]]
            return Response(200, {"results": results, "_links": links})
        if m := re.fullmatch(r"(pages|blogposts)/(\d+)(/labels)?", path):
            page = self.pages.get(m.group(2))
            if page is None or page.type != m.group(1)[:-1]:
                return Response(404, {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found"}]})
            if m.group(3):
                return Response(200, {"results": [{"id": f"l-{n}", "name": n, "prefix": "global"} for n in page.labels],
                                      "_links": {"base": f"{self.url}/wiki"}})
            if page.broken:
                return Response(500, {"errors": [{"status": 500, "code": "INTERNAL_SERVER_ERROR", "title": "Error"}]})
            item = {"id": page.id, "status": "current", "title": page.title,
                    "spaceId": str(abs(hash(page.space)) % 10_000), "parentId": page.parent, "authorId": page.author,
                    "createdAt": page.created.isoformat().replace("+00:00", "Z"),
                    "version": {"number": page.version, "authorId": page.author,
                                "createdAt": page.when.isoformat().replace("+00:00", "Z")},
                    "_links": {"webui": f"/spaces/{page.space}/pages/{page.id}", "base": f"{self.url}/wiki"}}
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
        links = {"base": f"{self.url}/wiki"}
        if start + limit < len(ids):
            query = urlencode({**{k: v[0] for k, v in req.query.items()}, "cursor": start + limit})
            links["next"] = f"/wiki/api/v2/{path}?{query}"
        return Response(200, {"results": items, "_links": links})

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
    paths["/wiki/rest/api/group/{groupName}/member"] = {"deprecated": False, "parameters": [
        {"name": "start", "in": "query"}, {"name": "limit", "in": "query"}, {"name": "expand", "in": "query"}]}
    compiled = [(re.compile(re.sub(r"\{[^}]+\}", "[^/]+", t) + "$"), t, op) for t, op in paths.items()]
    return sorted(compiled, key=lambda c: (c[1].count("{"), -len(c[1])))  # literal paths before templates


def _spec_operation(path: str) -> tuple[str, dict[str, Any]] | None:
    for pattern, template, operation in _spec_paths():
        if pattern.match(path):
            return template, operation
    return None
