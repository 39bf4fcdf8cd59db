"""The Slack Web API calls Kura makes, on slack-sdk's WebClient, with cursor paging and retries.

slack-sdk's own retry handlers are switched off so 429/5xx go through
:mod:`ingest.connectors.retry` like every other source. Errors Slack reports
in the body (``ok: false``) are classified by their ``error`` code.
"""

from __future__ import annotations

import logging
import socket
import urllib.error
from collections.abc import Iterator
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.errors import ConfigError
from core.settings import Settings
from ingest.connectors.retry import Fault, RetryPolicy, parse_retry_after

logger = logging.getLogger(__name__)

AUTH_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "missing_scope",
               "no_permission", "not_allowed_token_type", "ekm_access_denied", "team_access_not_granted"}
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
AUTH_HINT = ("Check KURA_SLACK_BOT_TOKEN (a bot token, xoxb-...) and its scopes: channels:history, groups:history, "
             "channels:read, groups:read, users:read, users:read.email")


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return None


def classify(exc: BaseException) -> Fault | None:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = exc.response.get("error", "") if isinstance(exc.response.data, dict) else ""
        message = f"Slack {error or f'HTTP {status}'}"
        if status == 429 or error == "ratelimited":
            return Fault("rate_limited", message, parse_retry_after(_header(exc.response.headers, "Retry-After")))
        if error in AUTH_ERRORS or status == 401:
            detail = f" (needed: {exc.response.get('needed')})" if exc.response.get("needed") else ""
            return Fault("auth", f"Slack rejected the token: {error}{detail}. {AUTH_HINT}")
        if status >= 500 or error in TRANSIENT_ERRORS:
            return Fault("transient", message, parse_retry_after(_header(exc.response.headers, "Retry-After")))
        return Fault("permanent", message)
    if isinstance(exc, (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError)):
        return Fault("transient", f"Slack unreachable: {exc.__class__.__name__}")
    return None


class SlackApi:
    """Paged, retried Web API reads."""

    def __init__(self, settings: Settings, retry: RetryPolicy | None = None) -> None:
        if settings.slack_bot_token is None:
            raise ConfigError("KURA_SLACK_BOT_TOKEN is not set")
        self.retry = retry or RetryPolicy.from_settings(settings)
        kwargs: dict[str, Any] = {"timeout": int(settings.connector_timeout_s), "retry_handlers": []}
        if settings.slack_api_url:
            kwargs["base_url"] = settings.slack_api_url.rstrip("/") + "/"
        self.client = WebClient(token=settings.slack_bot_token.get_secret_value(), **kwargs)

    def call(self, method: str, **params) -> dict[str, Any]:
        """Call a WebClient method by its API name (``conversations.history`` -> ``conversations_history``)."""
        bound = getattr(self.client, method.replace(".", "_"))
        response = self.retry.call(lambda: bound(**params), classify=classify, what=f"Slack {method}")
        return response.data

    def paged(self, method: str, key: str, **params) -> Iterator[dict[str, Any]]:
        """Every item under ``key`` across ``response_metadata.next_cursor`` pages."""
        cursor = None
        while True:
            page = self.call(method, **params, **({"cursor": cursor} if cursor else {}))
            yield from page.get(key, [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def auth_test(self) -> dict[str, Any]:
        return self.call("auth.test")

    def channels(self) -> Iterator[dict[str, Any]]:
        return self.paged("conversations.list", "channels", types="public_channel,private_channel",
                          exclude_archived=False, limit=200)

    def members(self, channel: str) -> Iterator[str]:
        return self.paged("conversations.members", "members", channel=channel, limit=200)

    def users(self) -> Iterator[dict[str, Any]]:
        return self.paged("users.list", "members", limit=200)

    def history(self, channel: str, oldest: str) -> Iterator[dict[str, Any]]:
        return self.paged("conversations.history", "messages", channel=channel, oldest=oldest, limit=200)

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return list(self.paged("conversations.replies", "messages", channel=channel, ts=ts, limit=200))
