"""Who may read a Confluence page: space read permission AND every view restriction on the page and its ancestors.

Kura's principals are an OR-list (a reader needs any one of them), but
Confluence access is an AND over levels: the space's read permission, then each
restricted ancestor, then the page's own view restriction. Levels are combined
by intersection: groups named on both sides stay groups; otherwise the group
members known from the group member lists are intersected user by user and
listed as ``confluence-account:<accountId>``. The result is exact for the
memberships seen at sync time; a membership change that alters it shows up as
drift on the next sync and the page is re-emitted.

Users are principals by account id, not by email: Confluence Cloud's
``User.email`` "may return an empty string" under the user's privacy setting,
and a page readable by such a user would otherwise be readable by nobody.
:meth:`AccessResolver.grants` joins accounts to people for the IdentityStore:
the email when Confluence shows it, else the identity map's
``confluence:<accountId>`` alias; an account joined to no one reaches no one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.identity import IdentityStore
from core.types import PUBLIC
from ingest.connectors.confluence_api import ConfluenceApi

logger = logging.getLogger(__name__)

Principals = frozenset[str]


@dataclass(frozen=True)
class ContentInfo:
    """What the id listing tells about one page or blog post."""

    id: str
    space_key: str
    ancestor_ids: tuple[str, ...]
    read_restriction: Principals | None  # None: no view restriction on this item itself
    type: str = "page"
    space_name: str = ""
    ancestor_titles: tuple[str, ...] = ()


def group_principal(name: str) -> str:
    return f"group:{name}"


ACCOUNT_PREFIX = "confluence-account:"


def account_principal(account_id: str) -> str:
    return f"{ACCOUNT_PREFIX}{account_id}"


class AccessResolver:
    """Computes effective principals, resolving users to emails and groups to members (cached per sync)."""

    def __init__(self, api: ConfluenceApi, identity: IdentityStore | None = None) -> None:
        self.api = api
        self.identity = identity
        self._emails: dict[str, str | None] = {}  # account id -> email, where known
        self._members: dict[str, frozenset[str]] = {}
        self._group_ids: dict[str, str] = {}

    # --- subjects -> principals ---------------------------------------------------------
    def user(self, user: dict[str, Any]) -> str:
        """The account's principal; its email (for :meth:`grants`) is looked up once per sync."""
        key = user.get("accountId") or user.get("userKey") or user.get("username") or ""
        if key not in self._emails:
            email = user.get("email") or None
            if not email:
                found = self.api.user(user) or {}
                email = found.get("email") or None  # empty under the user's privacy setting
            if not email and self.identity is not None:
                email = self.identity.email_for(f"confluence:{key}")
            self._emails[key] = email
        return account_principal(key)

    def subjects(self, subjects: dict[str, Any]) -> Principals:
        """Principals of a ``{user: {results}, group: {results}}`` block (space permission or restriction)."""
        subjects = subjects or {}
        users = ((subjects.get("user") or {}).get("results")) or []
        groups = ((subjects.get("group") or {}).get("results")) or []
        for g in groups:
            if g.get("name") and g.get("id"):
                self._group_ids[g["name"]] = g["id"]  # v1's member list by name is deprecated: list by id
        return frozenset([self.user(u) for u in users] + [group_principal(g["name"]) for g in groups if g.get("name")])

    def space_readers_v2(self, permissions: Iterable[dict[str, Any]], space_key: str = "") -> Principals:
        """Who holds a space's read permission, from v2's permission assignments (Cloud).

        Users come by account id, as in page restrictions; groups by id only, so each is named through
        ``group/by-id`` and becomes ``group:<name>`` like the groups of restrictions (and its id is kept for
        the member list). A ``role`` grant (the spec names the type, not what its ids mean; anonymous access
        is one) reaches nobody here: Kura does not guess who holds a role, so access fails closed.
        """
        readers: set[str] = set()
        for permission in permissions:
            operation = permission.get("operation") or {}
            if operation.get("key") != "read" or operation.get("targetType") != "space":
                continue
            principal = permission.get("principal") or {}
            kind, principal_id = principal.get("type"), str(principal.get("id") or "")
            if kind == "user" and principal_id:
                readers.add(self.user({"accountId": principal_id}))
            elif kind == "group" and principal_id:
                readers.add(group_principal(self.group_name(principal_id)))
            else:
                logger.warning("Confluence space %s: read granted to %s %r is not mapped to anyone (only users "
                               "and groups are)", space_key, kind, principal_id)
        return frozenset(readers)

    def group_name(self, group_id: str) -> str:
        """The name of a group known by id (cached); its id is kept for the member list."""
        name = next((n for n, i in self._group_ids.items() if i == group_id), None)
        if name is None:
            name = self.api.group(group_id)["name"]
            self._group_ids[name] = group_id
        return name

    def space_readers(self, space: dict[str, Any]) -> Principals:
        """Who holds the space's read permission (``public`` with anonymous access), from v1 ``space/{key}``
        with ``expand=permissions`` (Data Center)."""
        readers: set[str] = set()
        for permission in space.get("permissions") or []:
            operation = permission.get("operation") or {}
            if operation.get("operation") != "read" or operation.get("targetType") != "space":
                continue
            if permission.get("anonymousAccess"):
                readers.add(PUBLIC)
            readers |= self.subjects(permission.get("subjects") or {})
        return frozenset(readers)

    def restriction(self, content: dict[str, Any]) -> Principals | None:
        """The item's view restriction; lists the expansion cut short are read to the end (start/limit paging)."""
        read = ((content.get("restrictions") or {}).get("read") or {}).get("restrictions") or {}
        if any(_cut_short(read.get(kind)) for kind in ("user", "group")) and content.get("id"):
            read = self.api.read_restriction(str(content["id"]))
        found = self.subjects(read)
        return found or None

    # --- groups ----------------------------------------------------------------------
    def members(self, group: str) -> frozenset[str]:
        """Account principals of a group's members (cached)."""
        if group not in self._members:
            members = self.api.group_members(group, self._group_ids.get(group))
            self._members[group] = frozenset(self.user(member) for member in members)
        return self._members[group]

    def grants(self, principal_sets: Iterable[Principals]) -> dict[str, set[str]]:
        """email -> the ``confluence-account:`` and ``group:`` principals that person holds (for the IdentityStore)."""
        grants: dict[str, set[str]] = {}
        groups = {p[len("group:"):] for ps in principal_sets for p in ps if p.startswith("group:")}
        for group in sorted(groups):
            for account in self.members(group):
                if email := self._email_of(account):
                    grants.setdefault(email, set()).add(group_principal(group))
        for account_id, email in self._emails.items():
            if email:
                grants.setdefault(email, set()).add(account_principal(account_id))
        return grants

    def _email_of(self, account: str) -> str | None:
        return self._emails.get(account[len(ACCOUNT_PREFIX):])

    # --- combining levels ------------------------------------------------------------
    def _users(self, principals: Principals) -> set[str]:
        users = {p for p in principals if p.startswith(ACCOUNT_PREFIX)}
        for p in principals:
            if p.startswith("group:"):
                users |= self.members(p[len("group:"):])
        return users

    def intersect(self, a: Principals, b: Principals) -> Principals:
        if PUBLIC in a:
            return b
        if PUBLIC in b or a == b:
            return a
        users_a, users_b = self._users(a), self._users(b)
        # A group stays a group when it is on both sides or all its members are allowed by the other side:
        # then later membership changes need no re-index.
        kept = set(a & b)
        kept |= {g for g in a if g.startswith("group:") and self._users(frozenset([g])) <= users_b}
        kept |= {g for g in b if g.startswith("group:") and self._users(frozenset([g])) <= users_a}
        covered = self._users(frozenset(p for p in kept if p.startswith("group:")))
        both = (users_a & users_b) - covered
        return frozenset(kept | both)

    def effective(self, info: ContentInfo, space: Principals, listing: dict[str, ContentInfo]) -> tuple[str, ...]:
        """The page's principals: space readers narrowed by each restricted ancestor and the page itself."""
        result = space
        for ancestor_id in info.ancestor_ids:
            ancestor = listing.get(ancestor_id)
            if ancestor and ancestor.read_restriction is not None:
                result = self.intersect(result, ancestor.read_restriction)
        if info.read_restriction is not None:
            result = self.intersect(result, info.read_restriction)
        return tuple(sorted(result))


def _cut_short(block: Any) -> bool:
    """A paged list in an expansion that holds only its first page (Confluence returns start/limit/size)."""
    if not isinstance(block, dict):
        return False
    if (block.get("_links") or {}).get("next"):
        return True
    total, size = block.get("totalSize"), block.get("size", len(block.get("results") or []))
    if total is not None:
        return total > size
    return block.get("limit") is not None and size >= block["limit"]
