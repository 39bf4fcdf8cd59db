"""Builds the slack_bolt App: the Web API client, the listeners and the error boundary.

HTTP mode verifies every request's signature and timestamp (bolt's
RequestVerification middleware: a bad signature or a timestamp more than five
minutes old gets 401). Socket Mode needs no signing secret: Slack's WebSocket
connection is authenticated by the app-level token.
"""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bots.feedback import FeedbackStore
from bots.slack import blocks
from bots.slack.bot import SlackBot
from bots.slack.channel_config import ChannelConfig
from bots.slack.event_log import SlackEventLog
from bots.slack.permissions import SlackAccess
from core.errors import ConfigError
from core.settings import Settings


def web_client(settings: Settings) -> WebClient:
    """The Slack Web API client, retrying rate limits (honouring Retry-After) and dropped connections."""
    if settings.slack_bot_token is None:
        raise ConfigError("KURA_SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)")
    kwargs = {"base_url": settings.slack_api_url} if settings.slack_api_url else {}
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=2)],
        **kwargs,
    )


def resolve_mode(settings: Settings) -> str:
    """socket or http, checking that the secret each mode needs is set."""
    mode = settings.slack_mode
    if mode == "auto":
        mode = "socket" if settings.slack_app_token else "http"
    if mode == "socket" and settings.slack_app_token is None:
        raise ConfigError("KURA_SLACK_APP_TOKEN is not set (the app-level token, xapp-…, needed for Socket Mode)")
    if mode == "http" and settings.slack_signing_secret is None:
        raise ConfigError("KURA_SLACK_SIGNING_SECRET is not set (needed to verify Events API requests)")
    return mode


def build_slack_app(
    kura,
    settings: Settings,
    *,
    mode: str = "http",
    feedback: FeedbackStore | None = None,
    client: WebClient | None = None,
) -> tuple[App, SlackBot]:
    """The bolt App wired to a SlackBot over ``kura`` (a KuraApp)."""
    client = client or web_client(settings)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if mode == "http" and not secret:
        raise ConfigError("KURA_SLACK_SIGNING_SECRET is not set (needed to verify Events API requests)")
    app = App(
        name="kura",
        client=client,
        signing_secret=secret,
        request_verification_enabled=mode == "http",
    )
    bot = SlackBot(
        kura,
        feedback or FeedbackStore.from_settings(settings),
        SlackAccess(client, kura.identity, max_members=settings.slack_max_channel_members),
        ChannelConfig.load(settings.slack_channel_config),
        web_base_url=settings.web_base_url,
        history_messages=settings.slack_history_messages,
        stream_update_s=settings.slack_stream_update_s,
        events=SlackEventLog(settings.state_dir / "slack_events.sqlite"),
    )
    app.event("app_mention")(bot.on_mention)
    app.event("message")(bot.on_message)
    app.action(blocks.HELPFUL_ACTION)(bot.on_feedback)
    app.action(blocks.NOT_HELPFUL_ACTION)(bot.on_feedback)
    app.action(blocks.OPEN_WEB_ACTION)(bot.on_open_web)
    app.view(blocks.REASON_CALLBACK)(bot.on_reason)
    app.error(bot.on_error)
    return app, bot
