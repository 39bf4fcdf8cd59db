"""Checks a Slack Web API call against Slack's OpenAPI spec and the documented Block Kit limits.

Both Slack fakes (the bot's ``fake_slack_web`` and the connector's ``fake_slack``)
run every call through :func:`check_call` before handling it, so a parameter
Slack does not know, a missing token or an oversize block gets the error the
real API documents instead of a silent success. Parameters come from
``specs/slack_web_methods.json`` (derived from slackapi/slack-api-specs); the
Block Kit limits are the ones Slack's Block Kit reference documents and
slack_sdk's block classes validate.

Deliberate differences from the real API: Slack ignores arguments it does not
know, the fake answers ``invalid_arg_name`` so a misspelt or invented argument
fails the test. Slack accepts GET and POST for every method, so the verb is not
checked.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

SPEC = Path(__file__).parent / "specs" / "slack_web_methods.json"

# apps.connections.open (Socket Mode) is newer than the spec: no arguments, an app-level token.
EXTRA_METHODS = {"apps.connections.open": {"parameters": [{"name": "token", "in": "header", "required": True}],
                                           "errors": ["not_authed", "invalid_auth", "not_allowed_token_type"]}}
# Newer than the spec and accepted by every method: slack_sdk adds team_id for org-wide installs (bolt sets it).
GLOBAL_ARGS = {"team_id"}
MAX_BLOCKS = 50
MAX_TEXT = 3000  # section text, context element text, button url
MAX_MESSAGE_TEXT = 40000
MESSAGE_METHODS = {"chat.postMessage", "chat.update", "chat.postEphemeral"}


@functools.cache
def methods() -> dict[str, dict[str, Any]]:
    return {**json.loads(SPEC.read_text())["methods"], **EXTRA_METHODS}


def check_call(method: str, params: dict[str, Any], authorization: str) -> str | None:
    """The Slack error code this call gets before the method runs, or None when it is well formed."""
    error, _ = explain_call(method, params, authorization)
    return error


def explain_call(method: str, params: dict[str, Any], authorization: str) -> tuple[str | None, str]:
    """(error code or None, why), for the fakes' ``response_metadata.messages``."""
    error, why = _check(method, params, authorization)
    return error, why


def _check(method: str, params: dict[str, Any], authorization: str) -> tuple[str | None, str]:
    spec = methods().get(method)
    if spec is None:
        return "unknown_method", method
    if not authorization.startswith("Bearer ") and not params.get("token"):
        return "not_authed", "no token"
    known = {p["name"] for p in spec["parameters"]} | GLOBAL_ARGS
    if set(params) - known:
        return "invalid_arg_name", f"[ERROR] unknown arguments {sorted(set(params) - known)}"
    missing = {p["name"] for p in spec["parameters"] if p["required"] and p["name"] != "token"} - set(params)
    if missing:
        return "invalid_arguments", f"[ERROR] missing required arguments {sorted(missing)}"
    if method in MESSAGE_METHODS:
        if len(params.get("text") or "") > MAX_MESSAGE_TEXT:
            return "msg_too_long", "text over 40000 characters"
        if params.get("blocks") is not None and (problems := block_problems(params["blocks"])):
            return "invalid_blocks", "; ".join(problems)
    if method == "views.open" and (problems := view_problems(params.get("view"))):
        return "invalid_arguments", "; ".join(problems)
    return None, ""


def _too_long(block: dict[str, Any]) -> list[str]:
    """The documented character limits slack_sdk's classes do not all check on every element."""
    problems = []
    if block.get("type") == "section" and len((block.get("text") or {}).get("text", "")) > MAX_TEXT:
        problems.append("section text over 3000 characters")
    for element in block.get("elements") or []:
        if element.get("type") in ("mrkdwn", "plain_text") and len(element.get("text", "")) > MAX_TEXT:
            problems.append("context element text over 3000 characters")
        if element.get("type") == "button" and len(element.get("url") or "") > MAX_TEXT:
            problems.append("button url over 3000 characters")
    return problems


def block_problems(blocks: Any) -> list[str]:
    """Why Slack would answer ``invalid_blocks`` to these blocks (empty when it would not)."""
    if not isinstance(blocks, list):
        return ["blocks is not a list"]
    problems = [f"{len(blocks)} blocks, at most {MAX_BLOCKS}"] if len(blocks) > MAX_BLOCKS else []
    for i, block in enumerate(blocks):
        problems += [f"block {i}: {p}" for p in _too_long(block)]
        try:
            parsed = Block.parse(block)
            if parsed is None:
                raise SlackObjectFormationError(f"unknown block type {block.get('type')!r}")
            parsed.validate_json()
            for element in getattr(parsed, "elements", None) or []:  # an actions block does not check its buttons
                if hasattr(element, "validate_json"):
                    element.validate_json()
        except SlackObjectFormationError as exc:
            problems.append(f"block {i}: {exc}")
    return problems


def view_problems(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return ["view is not an object"]
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError) as exc:
        return [str(exc)]
    return block_problems(view.get("blocks") or [])
