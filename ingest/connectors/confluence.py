"""Confluence connector: pages and blog posts with structure, breadcrumb, labels and read access.

One sync (``poll``; ``load`` is the same without the cursor, re-reading every page):

1. Spaces in scope (``KURA_CONFLUENCE_SPACES`` or every global space minus
   ``KURA_CONFLUENCE_EXCLUDE_SPACES``) and who may read each one.
2. The id listing: one paged CQL search over the spaces, expanding only
   ancestors and view restrictions. Ids in the ledger but not listed were
   deleted or moved out of scope -> ``deleted_ids``. Listed ids whose access
   changed (or that are new) are fetched again.
3. The change listing: CQL ``lastmodified >= <cursor>`` in modification order;
   a result whose version differs from the ledger is fetched. The cursor moves
   with each batch, so an interrupted sync resumes there.
4. Failed documents from earlier syncs are retried.

Page restrictions and space permissions do not change ``lastmodified``; step 2
is what catches them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from core.identity import IdentityStore
from core.errors import ConnectorAuthError
from core.settings import Settings
from core.types import Document, Section, content_hash
from ingest.connectors.batching import BatchBuilder
from ingest.connectors.checkpoints import CheckpointedBatch, CheckpointStore, LedgerEntry
from ingest.connectors.confluence_access import AccessResolver, ContentInfo
from ingest.connectors.confluence_api import ConfluenceApi
from ingest.connectors.html_to_sections import html_to_sections
from ingest.connectors.timeutil import parse_time

logger = logging.getLogger(__name__)

SOURCE = "confluence"
LISTING_EXPAND = "space,ancestors,restrictions.read.restrictions.user,restrictions.read.restrictions.group"


def access_digest(principals: tuple[str, ...]) -> str:
    return content_hash("|".join(sorted(principals)))


def fingerprint(version: int | str, principals: tuple[str, ...]) -> str:
    """Ledger fingerprint: the page version and a digest of who may read it."""
    return f"{version}|{access_digest(principals)}"


def split_fingerprint(fp: str) -> tuple[str, str]:
    version, _, access = fp.partition("|")
    return version, access


class ConfluenceConnector:
    """Incremental Confluence sync emitting checkpointed batches (commit each after indexing it)."""

    name = SOURCE

    def __init__(self, settings: Settings, checkpoints: CheckpointStore, identity: IdentityStore,
                 api: ConfluenceApi | None = None) -> None:
        self.settings = settings
        self.checkpoints = checkpoints
        self.identity = identity
        self.api = api or ConfluenceApi(settings)

    def load(self) -> Iterator[CheckpointedBatch]:
        """Everything in scope, every page read again (catches what versions do not show, such as comments)."""
        return self._sync(cursor={}, refetch=True)

    def poll(self, since: datetime | None = None) -> Iterator[CheckpointedBatch]:
        """What changed since the stored checkpoint (or since ``since`` when given)."""
        cursor = self.checkpoints.cursor(SOURCE)
        if since is not None:
            cursor = {"since": since.astimezone(timezone.utc).isoformat()}
        return self._sync(cursor)

    # --- the sync ------------------------------------------------------------------------
    def _sync(self, cursor: dict[str, Any], refetch: bool = False) -> Iterator[CheckpointedBatch]:
        ledger = self.checkpoints.ledger(SOURCE)
        queued = self.checkpoints.failures(SOURCE)
        builder = BatchBuilder(SOURCE, self.settings.connector_batch_size, self.checkpoints.cursor(SOURCE))
        access = AccessResolver(self.api, self.identity)

        spaces = self._spaces(access)
        if not spaces:
            logger.warning("Confluence: no spaces in scope; set KURA_CONFLUENCE_SPACES")
        listing = self._listing(spaces, access)
        principals = {cid: access.effective(info, spaces[info.space_key], listing) for cid, info in listing.items()}
        self.identity.replace_grants(SOURCE, access.grants(list(spaces.values()) + [
            info.read_restriction for info in listing.values() if info.read_restriction]))

        # Deleted or out of scope: in the ledger, absent from the listing.
        for doc_id in ledger:
            if doc_id.split(":", 1)[1] not in listing:
                if (batch := builder.delete(doc_id)) is not None:
                    yield batch
        for doc_id in queued:
            if doc_id.split(":", 1)[1] not in listing:
                builder.resolve(doc_id)

        def stale_access(cid: str) -> bool:
            entry = ledger.get(f"{SOURCE}:{cid}")
            return entry is None or split_fingerprint(entry.fingerprint)[1] != access_digest(principals[cid])

        todo = {cid for cid in listing if refetch or stale_access(cid)}
        todo |= {doc_id.split(":", 1)[1] for doc_id in queued} & set(listing)

        # Edited since the cursor, oldest first, so the cursor can follow.
        for item in self._changed(spaces, cursor):
            cid = str(item["id"])
            builder.advance({"since": (item.get("version") or {}).get("when") or cursor.get("since")})
            if cid not in listing:
                continue
            entry = ledger.get(f"{SOURCE}:{cid}")
            version = str((item.get("version") or {}).get("number", ""))
            if cid in todo or entry is None or split_fingerprint(entry.fingerprint)[0] != version:
                todo.discard(cid)
                yield from self._emit(builder, cid, listing[cid], principals[cid], queued)
        for cid in sorted(todo):
            yield from self._emit(builder, cid, listing[cid], principals[cid], queued)
        if (batch := builder.take()) is not None:
            yield batch

    def _emit(self, builder: BatchBuilder, cid: str, info: ContentInfo, principals: tuple[str, ...],
              queued: dict[str, str]) -> Iterator[CheckpointedBatch]:
        try:
            content = self.api.content(cid, info)
            document = self._document(content, principals)
        except ConnectorAuthError:
            raise
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status == 404:  # deleted between listing and fetch: the next listing removes it
                builder.resolve(f"{SOURCE}:{cid}")
                return
            batch = builder.fail(cid, f"HTTP {status}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad page must not stop the sync
            logger.warning("Confluence page %s failed: %s", cid, exc.__class__.__name__)
            batch = builder.fail(cid, f"{exc.__class__.__name__}: {exc}")
        else:
            version = (content.get("version") or {}).get("number", "")
            batch = builder.add(document, LedgerEntry(fingerprint(version, principals), info.space_key))
        if batch is not None:
            yield batch

    # --- listings ------------------------------------------------------------------------
    def _spaces(self, access: AccessResolver) -> dict[str, frozenset[str]]:
        """Space key -> read principals for every space in scope (Cloud: v2; Data Center: v1)."""
        excluded = set(self.settings.confluence_exclude_spaces)
        if self.settings.confluence_cloud:
            return self._spaces_v2(access, excluded)
        keys = list(self.settings.confluence_spaces) or [s["key"] for s in self.api.spaces()]
        spaces = {}
        for key in keys:
            if key in excluded:
                continue
            try:
                space = self.api.space(key)
            except requests.HTTPError as exc:
                raise ConnectorAuthError(
                    f"Confluence space {key!r} (KURA_CONFLUENCE_SPACES) was not found or is not visible to the "
                    f"API user (HTTP {exc.response.status_code if exc.response is not None else '?'})"
                ) from exc
            if "permissions" not in space:
                raise ConnectorAuthError(
                    f"Confluence did not return the permissions of space {key!r}: the API user needs space admin "
                    "rights to read them, and Kura will not guess who may read a space"
                )
            spaces[key] = access.space_readers(space)
        return spaces

    def _spaces_v2(self, access: AccessResolver, excluded: set[str]) -> dict[str, frozenset[str]]:
        """Cloud: space ids from v2 ``spaces``, readers from v2 ``spaces/{id}/permissions`` (v1 ``space/{key}``
        is deprecated)."""
        configured = list(self.settings.confluence_spaces)
        found = {s["key"]: str(s["id"]) for s in (self.api.spaces_by_key(configured) if configured
                                                  else self.api.spaces())}
        if missing := [key for key in configured if key not in found and key not in excluded]:
            raise ConnectorAuthError(f"Confluence spaces {missing} (KURA_CONFLUENCE_SPACES) were not found or are "
                                     "not visible to the API user")
        spaces = {}
        for key, space_id in found.items():
            if key in excluded:
                continue
            try:
                spaces[key] = access.space_readers_v2(self.api.space_permissions(space_id), key)
            except requests.HTTPError as exc:
                raise ConnectorAuthError(
                    f"Confluence did not return the permissions of space {key!r} (HTTP "
                    f"{exc.response.status_code if exc.response is not None else '?'}): the API user needs "
                    "permission to view the space (and, with OAuth, the read:space:confluence scope); Kura will "
                    "not guess who may read a space"
                ) from exc
        return spaces

    def _types_cql(self, spaces: dict[str, Any]) -> str:
        types = "page, blogpost" if self.settings.confluence_include_blogposts else "page"
        keys = ", ".join(f'"{k}"' for k in sorted(spaces))
        return f"type in ({types}) and space in ({keys})"

    def _listing(self, spaces: dict[str, Any], access: AccessResolver) -> dict[str, ContentInfo]:
        listing: dict[str, ContentInfo] = {}
        if not spaces:
            return listing
        for item in self.api.search(self._types_cql(spaces), LISTING_EXPAND):
            cid = str(item["id"])
            listing[cid] = ContentInfo(
                id=cid,
                space_key=(item.get("space") or {}).get("key", ""),
                ancestor_ids=tuple(str(a["id"]) for a in item.get("ancestors") or []),
                read_restriction=access.restriction(item),
                type=item.get("type", "page"),
                space_name=(item.get("space") or {}).get("name", ""),
                ancestor_titles=tuple(a.get("title", "") for a in item.get("ancestors") or []),
            )
        return {cid: info for cid, info in listing.items() if info.space_key in spaces}

    def _changed(self, spaces: dict[str, Any], cursor: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if not spaces:
            return iter(())
        cql = self._types_cql(spaces)
        since = parse_time(cursor.get("since"))
        if since is not None:
            # CQL dates are minutes in the API user's own time zone: step back far enough to cover any offset.
            start = since - timedelta(hours=self.settings.confluence_cql_overlap_hours)
            cql += f' and lastmodified >= "{start.strftime("%Y-%m-%d %H:%M")}"'
        return self.api.search(cql + " order by lastmodified asc", "version")

    # --- documents -------------------------------------------------------------------------
    def _document(self, content: dict[str, Any], principals: tuple[str, ...]) -> Document:
        cid = str(content["id"])
        body = ((content.get("body") or {}).get("storage") or {}).get("value", "")
        sections = html_to_sections(body)
        if self.settings.confluence_include_comments:
            sections += self._comments(cid, content.get("type", "page"))
        space = content.get("space") or {}
        history = content.get("history") or {}
        version = content.get("version") or {}
        creator = history.get("createdBy") or {}
        links = content.get("_links") or {}
        ancestors = [a.get("title", "") for a in content.get("ancestors") or []]
        labels = [label["name"] for label in ((content.get("metadata") or {}).get("labels") or {}).get("results", [])]
        return Document(
            source=SOURCE,
            source_id=cid,
            title=content.get("title", ""),
            sections=tuple(sections),
            url=(links.get("base") or self.api.base_url) + links.get("webui", ""),
            author=creator.get("displayName", ""),
            created_at=parse_time(history.get("createdDate")),
            updated_at=parse_time(version.get("when")),
            principals=principals,
            metadata={
                "space": space.get("key", ""),
                "space_name": space.get("name", ""),
                "breadcrumb": [space.get("name", "")] + ancestors,
                "labels": labels,
                "version": version.get("number"),
                "type": content.get("type", "page"),
                "last_modified_by": (version.get("by") or {}).get("displayName", ""),
            },
        )

    def _comments(self, cid: str, content_type: str) -> list[Section]:
        sections = []
        for comment in self.api.comments(cid, content_type):
            author = comment["author"]
            text = "\n".join(s.text for s in html_to_sections(comment["body"]))
            if text.strip():
                sections.append(Section(text=f"{author}: {text}" if author else text, heading_path=("Comments",),
                                        kind="message"))
        return sections
