"""Google Docs connector (via Drive): documents in chosen folders, shared drives, or everything visible.

One sync:

1. The listing: the folders (recursively), shared drives or the whole
   account's Docs, metadata only (no content). Ledger ids not
   listed were deleted, trashed, unshared or moved out -> ``deleted_ids``;
   listed ids not in the ledger are fetched.
2. The first sync takes a Changes API start token *before* listing, then
   fetches every listed Doc; later syncs read ``changes.list`` from the stored
   token, one batch per page of changes, and fetch changed Docs in scope
   (a Drive ``version`` bump covers edits and sharing changes alike).
3. Failed documents from earlier syncs are retried.

A Doc is exported as HTML (keeps headings, lists and tables), its sharing comes
from ``permissions.list``: user -> ``user:<email>``, group -> ``group:<email>``,
domain -> ``domain:<domain>``, anyone -> ``public``. Group members are read from
the Directory API where the account may, and recorded in the IdentityStore.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from googleapiclient.errors import HttpError

from core.errors import ConfigError, ConnectorAuthError, ConnectorError
from core.identity import IdentityStore, user_principal
from core.settings import Settings
from core.types import PUBLIC, Document
from ingest.connectors.batching import BatchBuilder
from ingest.connectors.checkpoints import CheckpointedBatch, CheckpointStore, LedgerEntry
from ingest.connectors.google_api import DOC_MIME, FILE_FIELDS, FOLDER_MIME, GoogleApi, export_too_large
from ingest.connectors.html_to_sections import parse_html
from ingest.connectors.timeutil import parse_time

logger = logging.getLogger(__name__)

SOURCE = "gdocs"


def principal_for(permission: dict[str, Any]) -> str | None:
    """One Drive permission as a principal; None for entries that grant nothing."""
    if permission.get("deleted"):
        return None
    kind = permission.get("type")
    if kind == "anyone":
        return PUBLIC
    if kind == "domain" and permission.get("domain"):
        return f"domain:{permission['domain'].lower()}"
    if kind == "user" and permission.get("emailAddress"):
        return user_principal(permission["emailAddress"])
    if kind == "group" and permission.get("emailAddress"):
        return f"group:{permission['emailAddress'].lower()}"
    return None


class GoogleDocsConnector:
    """Incremental Drive sync emitting checkpointed batches (commit each after indexing it)."""

    name = SOURCE

    def __init__(self, settings: Settings, checkpoints: CheckpointStore, identity: IdentityStore,
                 api: GoogleApi | None = None) -> None:
        if not (settings.google_folder_ids or settings.google_shared_drive_ids or settings.google_all_visible):
            raise ConfigError("Google Docs has no scope: set KURA_GOOGLE_FOLDER_IDS, "
                              "KURA_GOOGLE_SHARED_DRIVE_IDS or KURA_GOOGLE_ALL_VISIBLE=true")
        self.settings = settings
        self.checkpoints = checkpoints
        self.identity = identity
        self.api = api or GoogleApi(settings)

    def load(self) -> Iterator[CheckpointedBatch]:
        """Everything in scope, every Doc read again; the change stream restarts from now."""
        return self._sync(cursor={}, refetch=True)

    def poll(self, since: datetime | None = None) -> Iterator[CheckpointedBatch]:
        """Changes since the stored page token (``since`` is not used: Drive changes are token based)."""
        return self._sync(self.checkpoints.cursor(SOURCE))

    # --- the sync ----------------------------------------------------------------------
    def _sync(self, cursor: dict[str, Any], refetch: bool = False) -> Iterator[CheckpointedBatch]:
        ledger = self.checkpoints.ledger(SOURCE)
        queued = self.checkpoints.failures(SOURCE)
        builder = BatchBuilder(SOURCE, self.settings.connector_batch_size, self.checkpoints.cursor(SOURCE))
        groups = set(cursor.get("groups", []))
        token = cursor.get("page_token") or self.api.start_page_token()  # taken before listing: nothing slips by

        searches_before = self.api.incomplete_searches
        listed, folders = self._listing()
        # An incomplete search (Drive's incompleteSearch) may leave out files that exist: only the change
        # stream's explicit removals delete anything then.
        complete = self.api.incomplete_searches == searches_before
        for doc_id in list(ledger) if complete else []:
            if doc_id.split(":", 1)[1] not in listed:
                del ledger[doc_id]  # so a change for the same file does not delete it twice
                if (batch := builder.delete(doc_id)) is not None:
                    yield batch
        for doc_id in queued if complete else []:
            if doc_id.split(":", 1)[1] not in listed:
                builder.resolve(doc_id)
        todo = {fid for fid in listed if refetch or f"{SOURCE}:{fid}" not in ledger or f"{SOURCE}:{fid}" in queued}
        if "page_token" in cursor:
            try:
                token = yield from self._changes(builder, token, listed, folders, ledger, todo, groups)
            except HttpError as exc:
                if exc.resp.status not in (400, 404, 410):
                    raise
                # The stored page token is no longer valid: restart the stream and compare the listing instead.
                logger.warning("Drive rejected the stored changes page token (HTTP %s); comparing versions instead",
                               exc.resp.status)
                token = self.api.start_page_token()
                listed, folders = self._listing()
                cursor = {}
        if "page_token" not in cursor:
            # First sync (or a re-load): the listing decides, the change stream starts at ``token``.
            todo |= {fid for fid, meta in listed.items()
                     if ledger.get(f"{SOURCE}:{fid}", LedgerEntry("")).fingerprint != str(meta.get("version"))}
        for fid in sorted(todo & set(listed)):
            yield from self._emit(builder, fid, ledger, groups, listed[fid])
        builder.advance({"page_token": token, "groups": sorted(groups)})
        if (batch := builder.take()) is not None:
            yield batch
        self._refresh_groups(groups)

    def _changes(self, builder, token, listed, folders, ledger, todo, groups) -> Iterator[CheckpointedBatch]:
        """Read the change stream from ``token``, one batch per page; returns the token to start from next time."""
        while True:
            page = self.api.changes(token)
            for change in page.get("changes", []):
                yield from self._change(builder, change, listed, folders, ledger, todo, groups)
            token = page.get("nextPageToken") or page.get("newStartPageToken")
            builder.advance({"page_token": token, "groups": sorted(groups)})
            if (batch := builder.take()) is not None:
                yield batch
            if "nextPageToken" not in page:
                return token

    def _change(self, builder, change, listed, folders, ledger, todo, groups) -> Iterator[CheckpointedBatch]:
        fid = change.get("fileId") or (change.get("file") or {}).get("id")
        file = change.get("file") or {}
        doc_id = f"{SOURCE}:{fid}"
        gone = change.get("removed") or file.get("trashed") or not self._in_scope(file, listed, folders)
        if gone or file.get("mimeType") != DOC_MIME:
            todo.discard(fid)
            if ledger.pop(doc_id, None) is not None and (batch := builder.delete(doc_id)) is not None:
                yield batch
            return
        if fid in todo or ledger.get(doc_id, LedgerEntry("")).fingerprint != str(file.get("version")):
            todo.discard(fid)
            yield from self._emit(builder, fid, ledger, groups, file)

    def _emit(self, builder, fid, ledger, groups, file) -> Iterator[CheckpointedBatch]:
        try:
            document = self._document(file)
        except ConnectorAuthError:
            raise
        except HttpError as exc:
            if exc.resp.status == 404:
                builder.resolve(f"{SOURCE}:{fid}")
                return
            if export_too_large(exc):
                # Drive never exports more than 10 MB: retrying every sync would fail forever. Skipped until the
                # Doc changes (its version is the ledger fingerprint), and reported in the sync result.
                logger.warning("Google Doc %s is over Drive's 10 MB export limit; skipped", fid)
                ledger[f"{SOURCE}:{fid}"] = LedgerEntry(str(file.get("version")))
                batch = builder.skip(f"{SOURCE}:{fid}", ledger[f"{SOURCE}:{fid}"],
                                     "over Drive's 10 MB export limit (files.export exportSizeLimitExceeded); "
                                     "skipped until the Doc changes")
            else:
                batch = builder.fail(fid, f"HTTP {exc.resp.status}: {exc.reason}")
        except Exception as exc:  # noqa: BLE001 - one bad document must not stop the sync
            logger.warning("Google Doc %s failed: %s", fid, exc.__class__.__name__)
            batch = builder.fail(fid, f"{exc.__class__.__name__}: {exc}")
        else:
            ledger[document.id] = LedgerEntry(str(file.get("version")))
            groups.update(p[len("group:"):] for p in document.principals if p.startswith("group:"))
            batch = builder.add(document, ledger[document.id])
        if batch is not None:
            yield batch

    # --- scope -------------------------------------------------------------------------
    def _listing(self) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """(file id -> listing entry for every Doc in scope, ids of the folders in scope)."""
        docs: dict[str, dict[str, Any]] = {}
        folders: set[str] = set()
        if self.settings.google_all_visible:
            docs.update({f["id"]: f for f in self.api.drive_docs(None, FILE_FIELDS)})
        for drive_id in self.settings.google_shared_drive_ids:
            docs.update({f["id"]: f for f in self._checked(lambda d=drive_id: list(self.api.drive_docs(d, FILE_FIELDS)),
                                                           f"shared drive {drive_id!r} (KURA_GOOGLE_SHARED_DRIVE_IDS)")})
        queue = list(self.settings.google_folder_ids)
        for root in queue:
            self._checked(lambda r=root: self.api.file(r), f"folder {root!r} (KURA_GOOGLE_FOLDER_IDS)")
        while queue:
            folder = queue.pop()
            if folder in folders:
                continue
            folders.add(folder)
            for item in self.api.children(folder, FILE_FIELDS):
                if item.get("mimeType") == FOLDER_MIME:
                    queue.append(item["id"])
                elif item.get("mimeType") == DOC_MIME:
                    docs[item["id"]] = item
        return docs, folders

    def _checked(self, call, what: str):
        try:
            return call()
        except HttpError as exc:
            if exc.resp.status == 404:
                raise ConnectorAuthError(f"Google {what} was not found or is not shared with the account") from exc
            raise

    def _in_scope(self, file: dict[str, Any], listed: dict[str, Any], folders: set[str]) -> bool:
        if file.get("id") in listed or self.settings.google_all_visible:
            return True
        if file.get("driveId") and file["driveId"] in self.settings.google_shared_drive_ids:
            return True
        return any(parent in folders for parent in file.get("parents") or [])

    # --- documents -----------------------------------------------------------------------
    def _document(self, file: dict[str, Any]) -> Document:
        fid = file["id"]
        principals = sorted({p for p in map(principal_for, self.api.permissions(fid)) if p})
        parsed = parse_html(self.api.export_html(fid))
        link = file.get("webViewLink") or f"https://docs.google.com/document/d/{fid}/edit"
        owners = file.get("owners") or []
        return Document(
            source=SOURCE,
            source_id=fid,
            title=file.get("name", ""),
            sections=tuple(parsed.sections),
            url=link,
            author=owners[0].get("displayName", "") if owners else "",
            created_at=parse_time(file.get("createdTime")),
            updated_at=parse_time(file.get("modifiedTime")),
            principals=tuple(principals),
            metadata={
                "owners": [o.get("emailAddress", "") for o in owners],
                "version": file.get("version"),
                "last_modified_by": (file.get("lastModifyingUser") or {}).get("displayName", ""),
                "heading_urls": {h: f"{link.split('#')[0]}#heading={hid}" for h, hid in parsed.heading_ids.items()},
            },
        )

    def _refresh_groups(self, groups: set[str]) -> None:
        """Record Google group members as ``group:<email>`` grants, where the Directory API lets us.

        Each group on its own: one group the account may not read (the Directory API needs admin consent and can
        refuse per group) keeps that group's last known members and does not stop the others.
        """
        if not (groups and self.settings.google_directory_groups):
            return
        previous = self.identity.grants(SOURCE)
        grants: dict[str, set[str]] = {}
        unreadable = []
        for group in sorted(groups):
            principal = f"group:{group}"
            try:
                members = self.api.group_members(group)
            except (HttpError, ConnectorError) as exc:
                unreadable.append(f"{group} ({exc.__class__.__name__})")
                members = [email for email, held in previous.items() if principal in held]
            for email in members:
                grants.setdefault(email, set()).add(principal)
        if unreadable:
            logger.warning("Google group members not readable for %d group(s): %s; their last known members are kept",
                           len(unreadable), ", ".join(unreadable))
        self.identity.replace_grants(SOURCE, grants)
