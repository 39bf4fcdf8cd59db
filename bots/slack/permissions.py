"""What a Slack answer may draw on: the asker's principals in a DM, the channel audience's common ones elsewhere.

The rule (also in bots/slack/README.md):

* Direct message: the asker's principals (their email's grants, public, their domain).
* Channel or group DM: only what EVERY human member can read, i.e. the
  intersection over ``conversations.members`` of each member's principals. One
  member who cannot read a document keeps it out of the answer for everybody.
  Bots (and Slackbot) are not audience and are skipped.
* A member whose email is unknown can read only ``public`` documents, so their
  presence limits the channel to public documents.
* Channels shared with another organisation (Slack Connect) and channels with
  guests (restricted / ultra-restricted users) get nothing: Kura refuses there.
* When the member list cannot be read (missing scope, API error) or is larger
  than ``max_members``: ``public`` documents only.

A person's email comes from the identity store's ``slack:<user id>`` alias
(recorded by the Slack connector) and otherwise from ``users.info``
(``users:read.email`` scope). ``users.info`` answers are cached for
``cache_ttl_s``; membership is read fresh for every question, so someone joining
a channel narrows the next answer at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.identity import IdentityStore
from core.types import PUBLIC

logger = logging.getLogger(__name__)

NOBODY: tuple[str, ...] = ()  # "answer from nothing": the bot explains instead of answering


@dataclass(frozen=True)
class SlackUser:
    """What the bot needs to know about a Slack user."""

    id: str
    email: str | None
    is_bot: bool = False
    is_guest: bool = False


class SlackAccess:
    """Maps Slack users and conversations to the principals an answer may use."""

    def __init__(
        self,
        client: WebClient,
        identity: IdentityStore,
        *,
        max_members: int = 500,
        cache_ttl_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.identity = identity
        self.max_members = max_members
        self.cache_ttl_s = cache_ttl_s
        self.clock = clock
        self._users: dict[str, tuple[float, SlackUser]] = {}
        self._lock = threading.Lock()

    def user(self, user_id: str) -> SlackUser:
        """The user's email and kind, from the identity store's alias and ``users.info`` (cached)."""
        now = self.clock()
        with self._lock:
            cached = self._users.get(user_id)
        if cached and now - cached[0] < self.cache_ttl_s:
            return cached[1]
        alias_email = self.identity.email_for(f"slack:{user_id}")
        try:
            info = self.client.users_info(user=user_id)["user"]
            profile = info.get("profile") or {}
            found = SlackUser(
                user_id,
                alias_email or profile.get("email") or None,
                is_bot=bool(info.get("is_bot")) or user_id == "USLACKBOT",
                is_guest=bool(info.get("is_restricted") or info.get("is_ultra_restricted") or info.get("is_stranger")),
            )
        except SlackApiError as exc:
            logger.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
            # Without users.info we cannot tell a guest from an employee: trust only the connector's alias.
            return SlackUser(user_id, alias_email)
        with self._lock:
            self._users[user_id] = (now, found)
        return found

    def email_for(self, user_id: str) -> str | None:
        return self.user(user_id).email

    def user_principals(self, user_id: str) -> tuple[str, ...]:
        return self.identity.principals_for(self.email_for(user_id))

    def conversation_principals(self, channel_id: str, asker: str) -> tuple[str, ...]:
        """The principals an answer in this conversation may use (see the module docstring for the rule)."""
        if channel_id.startswith("D"):
            return self.user_principals(asker)
        try:
            info = self.client.conversations_info(channel=channel_id)["channel"]
        except SlackApiError as exc:
            logger.warning("conversations.info failed for %s: %s; public documents only",
                           channel_id, exc.response.get("error"))
            return (PUBLIC,)
        if info.get("is_im"):
            return self.user_principals(asker)
        if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
            return NOBODY
        members = self._members(channel_id)
        if members is None:
            return (PUBLIC,)
        common: set[str] | None = None
        for member_id in dict.fromkeys([asker, *members]):
            member = self.user(member_id)
            if member.is_bot:
                continue
            if member.is_guest:
                return NOBODY
            principals = set(self.identity.principals_for(member.email))
            common = principals if common is None else common & principals
        return tuple(sorted(common)) if common else (PUBLIC,)

    def _members(self, channel_id: str) -> list[str] | None:
        """Every member id (all pages), or None when unreadable or over ``max_members``."""
        members: list[str] = []
        cursor = None
        try:
            while True:
                page = self.client.conversations_members(channel=channel_id, limit=200, cursor=cursor)
                members += page.get("members", [])
                if len(members) > self.max_members:
                    logger.info("channel %s has over %d members; public documents only", channel_id, self.max_members)
                    return None
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return members
        except SlackApiError as exc:
            logger.warning("conversations.members failed for %s: %s; public documents only",
                           channel_id, exc.response.get("error"))
            return None
