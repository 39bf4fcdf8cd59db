"""Slack connector: each thread (a parent message and its replies) of the channels the bot is in is one document.

One sync:

1. Users (``users.list``): names for mentions, and each user's email recorded
   with the alias ``slack:<user id>``. Channels the bot is a member of
   (``conversations.list``), narrowed by ``KURA_SLACK_CHANNELS``; private
   channels' members (``conversations.members``) get ``slack:<channel id>``
   grants in the IdentityStore. Threads of channels no longer in scope are deleted.
2. Per channel, ``conversations.history`` from the older of the last seen
   message and ``KURA_SLACK_REFRESH_DAYS`` ago. A thread whose reply count,
   latest reply, edit time or channel privacy differs from the ledger is
   fetched (``conversations.replies``) and emitted; ledger threads inside that
   window that Slack no longer lists were deleted. The channel's cursor moves
   when the channel is done, so an interrupted sync redoes only the listing of
   the channel it was in (the ledger skips what was already indexed).

Public channels -> ``public``; private channels -> ``slack:<channel id>``.
Limits: replies added to threads older than the refresh window, and edits of
replies (which change no thread field Slack lists), are picked up only by a
re-load (``kura sync --full``, ``load()``), which reads every thread again; the
pipeline's content hashes keep the unchanged ones from being re-embedded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from core.errors import ConnectorAuthError
from core.identity import IdentityStore
from core.settings import Settings
from core.types import PUBLIC, Document, Section
from ingest.connectors.batching import BatchBuilder
from ingest.connectors.checkpoints import CheckpointedBatch, CheckpointStore, LedgerEntry
from ingest.connectors.slack_api import SlackApi
from ingest.connectors.slack_markup import to_text
from ingest.connectors.timeutil import parse_time

logger = logging.getLogger(__name__)

SOURCE = "slack"
# Channel housekeeping carries no knowledge.
SKIPPED_SUBTYPES = {"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name",
                    "channel_archive", "channel_unarchive", "group_join", "group_leave", "bot_add", "bot_remove",
                    "pinned_item", "reminder_add"}


@dataclass
class _Run:
    """What one sync knows while it walks the channels."""

    builder: BatchBuilder
    users: dict[str, dict[str, str]]
    names: dict[str, str]  # channel id -> name
    workspace: str  # https://TEAM.slack.com/
    queued: dict[str, str]  # failed thread ids to retry
    refetch: bool
    user_names: dict[str, str] = field(init=False)  # user id -> display name, for mentions

    def __post_init__(self) -> None:
        self.user_names = {u: v["name"] for u, v in self.users.items()}


def thread_fingerprint(message: dict[str, Any], private: bool) -> str:
    edited = (message.get("edited") or {}).get("ts", "")
    return f"{message.get('reply_count', 0)}|{message.get('latest_reply', '')}|{edited}|{'p' if private else 'o'}"


class SlackConnector:
    """Incremental Slack sync emitting checkpointed batches (commit each after indexing it)."""

    name = SOURCE

    def __init__(self, settings: Settings, checkpoints: CheckpointStore, identity: IdentityStore,
                 api: SlackApi | None = None, clock=time.time) -> None:
        self.settings = settings
        self.checkpoints = checkpoints
        self.identity = identity
        self.api = api or SlackApi(settings)
        self.clock = clock

    def load(self) -> Iterator[CheckpointedBatch]:
        """Every thread of every channel in scope, read again (catches edited replies and late replies)."""
        return self._sync(cursor={}, refetch=True)

    def poll(self, since: datetime | None = None) -> Iterator[CheckpointedBatch]:
        """New and refreshed threads since the stored per-channel cursors (or since ``since`` for every channel)."""
        cursor = self.checkpoints.cursor(SOURCE)
        if since is not None:
            ts = f"{since.timestamp():.6f}"
            cursor = {"channels": {cid: {"latest": ts} for cid in (cursor.get("channels") or {})}, "since": ts}
        return self._sync(cursor)

    # --- the sync ----------------------------------------------------------------------
    def _sync(self, cursor: dict[str, Any], refetch: bool = False) -> Iterator[CheckpointedBatch]:
        ledger = self.checkpoints.ledger(SOURCE)
        queued = self.checkpoints.failures(SOURCE)
        builder = BatchBuilder(SOURCE, self.settings.connector_batch_size, self.checkpoints.cursor(SOURCE))
        workspace = self.api.auth_test().get("url", "https://slack.com/")
        users = self._users()
        channels = self._channels()
        self._record_members(channels, users)
        run = _Run(builder, users, {cid: ch.get("name", cid) for cid, ch in channels.items()}, workspace, queued,
                   refetch)

        for doc_id, entry in ledger.items():
            if entry.scope not in channels:  # bot left, channel deleted or unconfigured
                if (batch := builder.delete(doc_id)) is not None:
                    yield batch
        for doc_id in queued:
            if doc_id.split(":")[1] not in channels:
                builder.resolve(doc_id)

        by_channel: dict[str, dict[str, LedgerEntry]] = defaultdict(dict)
        for doc_id, entry in ledger.items():
            by_channel[entry.scope][doc_id] = entry
        state = {cid: dict(v) for cid, v in (cursor.get("channels") or {}).items() if cid in channels}
        window_start = self.clock() - self.settings.slack_refresh_days * 86400
        for cid, channel in sorted(channels.items()):
            private = bool(channel.get("is_private"))
            latest = state.get(cid, {}).get("latest") or cursor.get("since")
            oldest = f"{min(float(latest), window_start):.6f}" if latest else "0"
            if state.get(cid, {}).get("private", private) != private:
                oldest = "0"  # public <-> private: every thread's principals change, not only recent ones
            newest = yield from self._channel(run, channel, oldest, by_channel[cid])
            state[cid] = {"latest": max(newest, latest or "0", key=float), "private": private}
            builder.advance({"channels": state})
        if (batch := builder.take()) is not None:
            yield batch

    def _channel(self, run: _Run, channel: dict[str, Any], oldest: str, ledger: dict[str, LedgerEntry]):
        """Emit the channel's new or changed threads and its deletions; return the newest parent ts seen."""
        cid, private = channel["id"], bool(channel.get("is_private"))
        seen: set[str] = set()
        newest = "0"
        for message in self.api.history(cid, oldest):
            ts = message.get("ts", "")
            if message.get("thread_ts", ts) != ts or message.get("subtype") in SKIPPED_SUBTYPES:
                continue  # a reply shown in the channel, or housekeeping
            seen.add(ts)
            newest = max(newest, ts, key=float)
            doc_id = f"{SOURCE}:{cid}:{ts}"
            entry = ledger.get(doc_id)
            if (run.refetch or entry is None or entry.fingerprint != thread_fingerprint(message, private)
                    or doc_id in run.queued):
                yield from self._emit(run, channel, message)
        for doc_id in ledger:
            ts = doc_id.rsplit(":", 1)[1]
            if float(ts) > float(oldest) and ts not in seen:
                if (batch := run.builder.delete(doc_id)) is not None:
                    yield batch
        # Failed threads older than the window: fetch them directly so they are not forgotten.
        for doc_id in run.queued:
            _, channel_id, ts = doc_id.split(":")
            if channel_id == cid and ts not in seen:
                yield from self._emit(run, channel, {"ts": ts, "reply_count": 1})
        return newest

    def _emit(self, run: _Run, channel: dict[str, Any], message: dict[str, Any]) -> Iterator[CheckpointedBatch]:
        cid, ts = channel["id"], message["ts"]
        try:
            thread = self.api.replies(cid, ts) if message.get("reply_count") else [message]
            document = self._document(run, channel, thread)
        except ConnectorAuthError:
            raise
        except SlackApiError as exc:
            if exc.response.get("error") == "thread_not_found":  # deleted since it was listed or queued
                batch = run.builder.delete(f"{SOURCE}:{cid}:{ts}")
            else:
                batch = run.builder.fail(f"{cid}:{ts}", f"Slack {exc.response.get('error')}")
        except Exception as exc:  # noqa: BLE001 - one bad thread must not stop the sync
            logger.warning("Slack thread %s/%s failed: %s", cid, ts, exc.__class__.__name__)
            batch = run.builder.fail(f"{cid}:{ts}", f"{exc.__class__.__name__}: {exc}")
        else:
            # The parent as conversations.replies returns it carries the same thread fields as in history.
            fp = thread_fingerprint(thread[0], bool(channel.get("is_private")))
            batch = run.builder.add(document, LedgerEntry(fp, cid))
        if batch is not None:
            yield batch

    # --- users, channels, identity -------------------------------------------------------
    def _users(self) -> dict[str, dict[str, str]]:
        users = {}
        for member in self.api.users():
            profile = member.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or member.get("real_name") or member.get("name", "")
            users[member["id"]] = {"name": name or member["id"], "email": (profile.get("email") or "").lower()}
            email = users[member["id"]]["email"]
            if email and self.identity.email_for(f"slack:{member['id']}") != email:  # reads are cheap, writes are not
                self.identity.add_alias(f"slack:{member['id']}", email)
        return users

    def _channels(self) -> dict[str, dict[str, Any]]:
        wanted = {c.lstrip("#") for c in self.settings.slack_channels}
        found = {}
        for channel in self.api.channels():
            if not channel.get("is_member"):
                continue
            if wanted and channel["id"] not in wanted and channel.get("name") not in wanted:
                continue
            found[channel["id"]] = channel
        missing = wanted - set(found) - {c.get("name") for c in found.values()}
        if missing:
            logger.warning("Slack: not a member of (or no such) channels %s; invite the bot", sorted(missing))
        return found

    def _record_members(self, channels: dict[str, dict[str, Any]], users: dict[str, dict[str, str]]) -> None:
        grants: dict[str, set[str]] = {}
        for cid, channel in channels.items():
            if not channel.get("is_private"):
                continue
            for user_id in self.api.members(cid):
                email = users.get(user_id, {}).get("email")
                if email:
                    grants.setdefault(email, set()).add(f"slack:{cid}")
        self.identity.replace_grants(SOURCE, grants)

    # --- documents -------------------------------------------------------------------------
    def _document(self, run: _Run, channel: dict[str, Any], thread: list[dict[str, Any]]) -> Document:
        cid, private = channel["id"], bool(channel.get("is_private"))
        name = run.names[cid]
        parent = thread[0]
        sections = []
        for message in thread:
            if message.get("subtype") in ("tombstone", *SKIPPED_SUBTYPES):
                continue
            text = to_text(_message_text(message), run.user_names, run.names)
            if text.strip():
                sections.append(Section(text=f"{_author(message, run.users)}: {text}", heading_path=(f"#{name}",),
                                        kind="message"))
        first_line = to_text(_message_text(parent), run.user_names, run.names).split("\n")[0]
        ts = parent["ts"]
        latest = parent.get("latest_reply") or (parent.get("edited") or {}).get("ts") or ts
        return Document(
            source=SOURCE,
            source_id=f"{cid}:{ts}",
            title=f"#{name}: {first_line[:80]}",
            sections=tuple(sections),
            url=f"{run.workspace.rstrip('/')}/archives/{cid}/p{ts.replace('.', '')}",  # chat.getPermalink's format
            author=_author(parent, run.users),
            created_at=parse_time(ts),
            updated_at=parse_time(latest),
            principals=(f"slack:{cid}",) if private else (PUBLIC,),
            metadata={"channel": name, "channel_id": cid, "reply_count": parent.get("reply_count", 0),
                      "thread_ts": ts},
        )


def _message_text(message: dict[str, Any]) -> str:
    text = message.get("text") or ""
    extra = [a.get("text") or a.get("fallback") or "" for a in message.get("attachments") or []]
    return "\n".join(t for t in [text, *extra] if t)


def _author(message: dict[str, Any], users: dict[str, dict[str, str]]) -> str:
    if message.get("user") in users:
        return users[message["user"]]["name"]
    return message.get("username") or (message.get("bot_profile") or {}).get("name") or message.get("user") or "unknown"
