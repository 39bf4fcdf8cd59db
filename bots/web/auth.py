"""Who is asking: the SSO proxy's trusted identity header, or a signed session cookie for local use.

With ``KURA_WEB_AUTH_HEADER`` set (e.g. ``X-Forwarded-Email``) the company's
SSO proxy authenticates people and Kura trusts that header alone; the app must
then only be reachable through the proxy. Without it, a local login form asks
for an email and stores it in a cookie signed with ``KURA_WEB_SESSION_SECRET``.
That form checks no password: it is for running Kura on your own machine.

Each local session has an id; signing out revokes it on the server
(``bots/web/sessions.py``), so a copied cookie stops working at logout, not only
when it expires. A request carrying the identity header twice is refused: a
proxy that appends rather than replaces would otherwise let the client choose.
"""

from __future__ import annotations

import logging
import re
import secrets

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.errors import KuraError
from core.settings import Settings

from bots.web.sessions import SessionRevocations

logger = logging.getLogger(__name__)

SESSION_COOKIE = "kura_session"
SESSION_MAX_AGE_S = 12 * 3600
_EMAIL = re.compile(r"^[^@\s]{1,200}@[^@\s]{1,200}$")


class NotAuthenticated(KuraError):
    """The request carries no identity we trust."""


def configured_auth_header(settings: Settings) -> str | None:
    """The trusted identity header's name; None when unset or blank (whitespace is no header name)."""
    return (settings.web_auth_header or "").strip() or None


def normalize_email(value: str) -> str | None:
    """The lower-cased email, or None when ``value`` does not look like one."""
    value = value.strip().lower()
    return value if _EMAIL.match(value) and not any(ord(ch) < 32 for ch in value) else None


class WebAuth:
    """Finds the signed-in user of a request and signs local users in and out."""

    def __init__(self, settings: Settings) -> None:
        self.header = configured_auth_header(settings)
        if settings.web_session_secret is not None:
            secret = settings.web_session_secret.get_secret_value()
        else:
            # Sessions then last as long as this process: fine on a laptop, and no default secret to forget about.
            secret = secrets.token_urlsafe(32)
            if self.header is None:
                logger.warning("KURA_WEB_SESSION_SECRET is unset: local sessions end when the server restarts")
        self._signer = URLSafeTimedSerializer(secret, salt="kura.web.session")
        self._secure_cookie = settings.web_base_url.startswith("https://")
        self._revoked = SessionRevocations(settings.data_dir / "web" / "sessions.sqlite")

    @property
    def local_login(self) -> bool:
        """Whether the local email-only login form is on (only when no SSO header is configured)."""
        return self.header is None

    def user(self, request: Request) -> str | None:
        """The email of whoever sent this request, or None."""
        if self.header is not None:
            values = request.headers.getlist(self.header)
            # Twice (or a list joined by a proxy) is ambiguous: trust neither rather than the first.
            return normalize_email(values[0]) if len(values) == 1 and "," not in values[0] else None
        session = self._session(request)
        if session is None or self._revoked.is_revoked(session["sid"]):
            return None
        return normalize_email(session["email"])

    def _session(self, request: Request) -> dict | None:
        """The signed session in the request's cookie ({"email", "sid"}), or None."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            session = self._signer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:  # also covers an expired signature
            return None
        valid = isinstance(session, dict) and isinstance(session.get("email"), str) and isinstance(session.get("sid"), str)
        return session if valid else None

    def require_user(self, request: Request) -> str:
        email = self.user(request)
        if email is None:
            raise NotAuthenticated("sign in to use Kura")
        return email

    def sign_in(self, response: Response, email: str) -> None:
        """Set the local session cookie (local login only)."""
        if not self.local_login:
            raise NotAuthenticated("sign-in happens at the company's SSO proxy")
        response.set_cookie(
            SESSION_COOKIE,
            self._signer.dumps({"email": email, "sid": secrets.token_urlsafe(16)}),
            max_age=SESSION_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=self._secure_cookie,
        )

    def sign_out(self, request: Request, response: Response) -> None:
        """End the session: revoked on the server (a copy of the cookie stops working too), cookie deleted."""
        session = self._session(request)
        if session is not None:
            self._revoked.revoke(session["sid"], expires_in_s=SESSION_MAX_AGE_S)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=self._secure_cookie)


def safe_next(target: str | None) -> str:
    """A same-site path to go to after login; anything else (other hosts, schemes) becomes ``/``."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
