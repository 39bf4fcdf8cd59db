"""The Confluence REST calls Kura makes, on atlassian-python-api, with retries and clear auth errors.

On Cloud (``https://SITE.atlassian.net/wiki``), spaces, space permissions,
pages, blog posts, their labels and footer comments are read from the v2 API
(``api/v2/...``, cursor paged): the v1 ``space/{key}``, ``content/{id}`` and
``child/comment`` resources are deprecated there. v1 stays for what v2 has no
equivalent of (none of these are deprecated): CQL search with expanded
ancestors and restrictions, restriction paging, users, and groups by id (v2
names a group only by its id; v1 ``group/by-id`` gives its name and
``group/{id}/membersByGroupId`` its members). Server/Data Center has no v2 and
reads everything from v1 (``https://HOST[/context]/rest/api``); v2 answers are
reshaped into the v1 form so the connector handles one shape. The library's own
Retry-After handling is switched off: :mod:`ingest.connectors.retry` does it
for every source the same way (bounded, jittered, logged).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from urllib.parse import urlsplit

import requests
from atlassian import Confluence

from core.errors import ConfigError
from core.settings import Settings
from ingest.connectors.retry import Fault, RetryPolicy, http_fault

logger = logging.getLogger(__name__)

AUTH_HINT = (
    "Check KURA_CONFLUENCE_URL, KURA_CONFLUENCE_USERNAME and KURA_CONFLUENCE_TOKEN (an API token on Cloud, "
    "a personal access token on Server/Data Center with no username), and that the user may read the spaces"
)


def classify(exc: BaseException) -> Fault | None:
    """Map requests/atlassian errors to retry faults."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        r = exc.response
        return http_fault(r.status_code, r.headers.get("Retry-After"), f"Confluence HTTP {r.status_code}: {exc}",
                          auth_hint=AUTH_HINT)
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return Fault("transient", f"Confluence unreachable: {exc.__class__.__name__}")
    return None


def classify_document(exc: BaseException) -> Fault | None:
    """For one page: 403/404 mean this page (moved, restricted), not bad credentials."""
    fault = classify(exc)
    if fault and fault.kind == "auth" and exc.response is not None and exc.response.status_code == 403:
        return Fault("permanent", fault.message)
    return fault


class ConfluenceApi:
    """Paged, retried reads from one Confluence site."""

    def __init__(self, settings: Settings, retry: RetryPolicy | None = None, client: Confluence | None = None) -> None:
        if not settings.confluence_url:
            raise ConfigError("KURA_CONFLUENCE_URL is not set (e.g. https://example.atlassian.net/wiki)")
        if settings.confluence_token is None:
            raise ConfigError("KURA_CONFLUENCE_TOKEN is not set")
        self.settings = settings
        self.base_url = settings.confluence_url.rstrip("/")
        self.retry = retry or RetryPolicy.from_settings(settings)
        self.client = client or self._client(settings)
        self._names: dict[str, str] = {}

    def _client(self, settings: Settings) -> Confluence:
        token = settings.confluence_token.get_secret_value()
        auth: dict[str, Any] = (
            {"username": settings.confluence_username, "password": token}
            if settings.confluence_username
            else {"token": token}
        )
        return Confluence(
            url=self.base_url,
            cloud=settings.confluence_cloud,
            timeout=max(1, int(settings.connector_timeout_s)),
            retry_with_header=False,  # our RetryPolicy honours Retry-After with bounded attempts
            backoff_and_retry=False,
            **auth,
        )

    # --- raw access ------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None, *, document: bool = False) -> Any:
        classifier = classify_document if document else classify
        return self.retry.call(lambda: self.client.get(path, params=params), classify=classifier,
                               what=f"Confluence GET {path.split('?')[0]}")

    def paged(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every result of a paged v1 resource, following ``_links.next`` (Cloud cursors and Server offsets)."""
        response = self.get(path, params)
        while True:
            yield from (response or {}).get("results", [])
            next_link = ((response or {}).get("_links") or {}).get("next")
            if not next_link:
                return
            response = self.get(self._relative(next_link))

    def _relative(self, link: str) -> str:
        """A ``_links.next`` relative to our base URL: v1 links are relative to the context path (``/rest/...``),
        v2 links to the site root (``/wiki/api/v2/...``)."""
        if link.startswith(("http://", "https://")):
            link = link[len(self.base_url):] if link.startswith(self.base_url) else link
        context = urlsplit(self.base_url).path.rstrip("/")
        if context and link.startswith(context + "/"):
            link = link[len(context):]
        return link.lstrip("/")

    # --- resources -------------------------------------------------------------------
    def spaces(self) -> Iterator[dict[str, Any]]:
        """Every global space (``key``, ``name``): v2 on Cloud, where v1 ``space`` is deprecated."""
        if self.settings.confluence_cloud:
            return self.paged("api/v2/spaces", {"type": "global", "limit": 250})
        return self.paged("rest/api/space", {"limit": 100, "type": "global"})

    def spaces_by_key(self, keys: list[str]) -> Iterator[dict[str, Any]]:
        """The v2 spaces (``id``, ``key``, ``name``) of the given keys (Cloud); absent keys are not returned."""
        for i in range(0, len(keys), 100):
            yield from self.paged("api/v2/spaces", {"keys": ",".join(keys[i:i + 100]), "limit": 250})

    def space_permissions(self, space_id: str) -> Iterator[dict[str, Any]]:
        """Every permission assignment of a space (Cloud, v2): ``{principal: {type, id}, operation: {key,
        targetType}}``, one per principal and operation, followed page by page through ``_links.next``."""
        return self.paged(f"api/v2/spaces/{space_id}/permissions", {"limit": 250})

    def space(self, key: str) -> dict[str, Any]:
        """A space with its permissions, v1 (Data Center, which has no v2; deprecated on Cloud)."""
        return self.get(f"rest/api/space/{key}", {"expand": "permissions"})

    def group(self, group_id: str) -> dict[str, Any]:
        """A group (``id``, ``name``) by id: v2 permissions name groups only by id (Cloud)."""
        return self.get("rest/api/group/by-id", {"id": group_id})

    def search(self, cql: str, expand: str, limit: int = 100) -> Iterator[dict[str, Any]]:
        return self.paged("rest/api/content/search", {"cql": cql, "expand": expand, "limit": limit})

    def content(self, content_id: str, info: Any = None) -> dict[str, Any]:
        """A page or blog post with its body, version, labels and history, in the v1 shape."""
        if not self.settings.confluence_cloud or info is None:
            expand = "body.storage,version,ancestors,space,metadata.labels,history"
            return self.get(f"rest/api/content/{content_id}", {"expand": expand}, document=True)
        kind = "blogposts" if info.type == "blogpost" else "pages"
        item = self.get(f"api/v2/{kind}/{content_id}", {"body-format": "storage"}, document=True) or {}
        labels = list(self.paged(f"api/v2/{kind}/{content_id}/labels", {"limit": 250}))
        version = item.get("version") or {}
        links = item.get("_links") or {}
        return {
            "id": str(item.get("id", content_id)), "type": info.type, "title": item.get("title", ""),
            "body": item.get("body") or {},
            "space": {"key": info.space_key, "name": info.space_name},
            "ancestors": [{"id": i, "title": t} for i, t in zip(info.ancestor_ids, info.ancestor_titles)],
            "version": {"number": version.get("number"), "when": version.get("createdAt"),
                        "by": {"displayName": self.display_name(version.get("authorId", ""))}},
            "history": {"createdDate": item.get("createdAt"),
                        "createdBy": {"displayName": self.display_name(item.get("authorId", ""))}},
            "metadata": {"labels": {"results": [{"name": label.get("name", "")} for label in labels]}},
            "_links": {"webui": links.get("webui", ""), "base": links.get("base") or self.base_url},
        }

    def comments(self, content_id: str, content_type: str = "page") -> Iterator[dict[str, str]]:
        """Every footer comment and every reply to one, depth first, as ``{"author": name, "body": storage}``.

        Confluence ignores v1's ``depth=all`` (replies never came back); Cloud reads v2 footer comments and each
        comment's children (v1 ``child/comment`` is deprecated there); Data Center, which has no v2, walks v1
        ``child/comment`` of each comment.
        """
        if self.settings.confluence_cloud:
            kind = "blogposts" if content_type == "blogpost" else "pages"
            yield from self._comments_v2(f"api/v2/{kind}/{content_id}/footer-comments")
        else:
            yield from self._comments_v1(content_id)

    def _comments_v2(self, path: str) -> Iterator[dict[str, str]]:
        for comment in self.paged(path, {"body-format": "storage", "limit": 100}):
            author = (comment.get("version") or {}).get("authorId", "")
            yield {"author": self.display_name(author), "body": _storage(comment)}
            yield from self._comments_v2(f"api/v2/footer-comments/{comment['id']}/children")

    def _comments_v1(self, content_id: str) -> Iterator[dict[str, str]]:
        for comment in self.paged(f"rest/api/content/{content_id}/child/comment",
                                  {"expand": "body.storage,history", "limit": 100}):
            author = ((comment.get("history") or {}).get("createdBy") or {}).get("displayName", "")
            yield {"author": author, "body": _storage(comment)}
            yield from self._comments_v1(str(comment["id"]))

    def display_name(self, account_id: str) -> str:
        """A user's display name (v2 payloads carry only account ids); cached, empty when not visible."""
        if not account_id:
            return ""
        if account_id not in self._names:
            self._names[account_id] = (self.user({"accountId": account_id}) or {}).get("displayName", "")
        return self._names[account_id]

    def read_restriction(self, content_id: str) -> dict[str, Any]:
        """Every user and group of a page's view restriction, read page by page (start/limit)."""
        path = f"rest/api/content/{content_id}/restriction/byOperation/read"
        merged: dict[str, list[dict[str, Any]]] = {"user": [], "group": []}
        start, limit = 0, 100
        while True:
            page = self.get(path, {"expand": "restrictions.user,restrictions.group", "start": start, "limit": limit},
                            document=True) or {}
            restrictions = page.get("restrictions") or {}
            more, step = False, limit
            for kind in merged:
                block = restrictions.get(kind) or {}
                results = block.get("results") or []
                merged[kind] += results
                step = min(step, block.get("limit") or limit)  # the server may grant a smaller page than asked
                more = more or len(results) >= (block.get("limit") or limit)
            if not more:
                return {kind: {"results": found, "size": len(found)} for kind, found in merged.items()}
            start += step

    def group_members(self, group: str, group_id: str | None = None) -> Iterator[dict[str, Any]]:
        if self.settings.confluence_cloud and group_id:
            return self.paged(f"rest/api/group/{group_id}/membersByGroupId", {"limit": 200})
        if self.settings.confluence_cloud:  # deprecated; only when no permission entry gave the group's id
            return self.paged("rest/api/group/member", {"name": group, "limit": 200})
        return self.paged(f"rest/api/group/{group}/member", {"limit": 200})

    def user(self, user: dict[str, Any]) -> dict[str, Any] | None:
        """Look a user up (for the email the restriction entry left out); None when not visible."""
        if user.get("accountId"):
            params = {"accountId": user["accountId"]}
        elif user.get("username"):
            params = {"username": user["username"]}
        else:
            return None
        try:
            return self.get("rest/api/user", params, document=True)
        except requests.HTTPError:
            return None


def _storage(item: dict[str, Any]) -> str:
    return ((item.get("body") or {}).get("storage") or {}).get("value", "")
