"""Block Kit messages for the Slack bot: the "Searching…" placeholder, the answer, errors, the reason modal.

Every piece of document or model text goes through ``mrkdwn.safe_text`` or
``mrkdwn.link`` before it lands in a block. Each message function returns
``(text, blocks)``: ``text`` is the notification / screen-reader fallback.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from core.types import Answer, Source
from bots.slack.mrkdwn import link, pack, safe_text, truncate

HELPFUL_ACTION = "kura_feedback_helpful"
NOT_HELPFUL_ACTION = "kura_feedback_not_helpful"
OPEN_WEB_ACTION = "kura_open_web"
REASON_CALLBACK = "kura_feedback_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_text"
FEEDBACK_BLOCK = "kura_feedback"

# Slack's documented Block Kit limits (docs.slack.dev, Block Kit reference).
_SECTION_LIMIT = 3000  # a section's text, and each context element's text
_URL_LIMIT = 3000  # a button's url
_MAX_BLOCKS = 50  # blocks per message
_SOURCE_LABELS = {
    "confluence": (":blue_book:", "Confluence"),
    "gdocs": (":page_facing_up:", "Google Docs"),
    "slack": (":speech_balloon:", "Slack"),
    "files": (":file_folder:", "File"),
}
Blocks = list[dict[str, Any]]


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(truncate(text, _SECTION_LIMIT))}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(truncate(text, _SECTION_LIMIT))]}


def source_label(source: str) -> str:
    icon, label = _SOURCE_LABELS.get(source, (":page_with_curl:", source.title() or "Document"))
    return f"{icon} {label}"


def searching_message() -> tuple[str, Blocks]:
    text = "Searching the documents…"
    return text, [_context(f":mag: {text}")]


def partial_message(text: str) -> tuple[str, Blocks]:
    """An answer still being written: the text so far and a progress line (no buttons until it is complete)."""
    shown = safe_text(text)
    return shown, [_section(shown + " …"), _context(":hourglass_flowing_sand: Writing the answer…")]


def error_message(text: str) -> tuple[str, Blocks]:
    return text, [_section(f":warning: {safe_text(text)}")]


def _answer_parts(answer: Answer, by_number: dict[int, Source]) -> list[str]:
    """The answer's sentences, each followed by its citations linked to their sources (the pieces to pack)."""
    if not answer.sentences:
        return [safe_text(answer.text)]
    parts = []
    for sentence in answer.sentences:
        marks = " ".join(
            link(by_number[n].url, f"[{n}]") if n in by_number else f"[{n}]" for n in sentence.citations
        )
        flag = " :warning:" if sentence.supported is False else ""
        parts.append(f"{safe_text(sentence.text)}{flag} {marks}".rstrip())
    return parts


def _source_lines(sources: tuple[Source, ...]) -> list[str]:
    return [f"*{s.number}.* {link(s.url, s.title or s.document_id)} · {source_label(s.source)}" for s in sources]


def _sections(parts: list[str]) -> Blocks:
    """Sentences packed into as many sections as the 3,000-character limit needs (cut between sentences)."""
    return [{"type": "section", "text": _mrkdwn(text)} for text in pack(parts, _SECTION_LIMIT, " ")]


def _contexts(heading: str, lines: list[str]) -> Blocks:
    """A heading and lines packed into context blocks; a line (one source and its link) is never split."""
    return [{"type": "context", "elements": [_mrkdwn(text)]} for text in pack([heading] + lines, _SECTION_LIMIT, "\n")]


def web_chat_url(web_base_url: str, question: str) -> str:
    """The web chat link for ``question``; the question is shortened so the URL stays within Slack's 3,000."""
    prefix = f"{web_base_url.rstrip('/')}/?q="
    budget = _URL_LIMIT - len(prefix)
    encoded: list[str] = []
    for char in question:  # whole characters only: never half of a %-encoded UTF-8 sequence
        piece = quote(char)
        if len(piece) > budget:
            break
        encoded.append(piece)
        budget -= len(piece)
    return prefix + "".join(encoded)


def answer_message(answer: Answer, *, answer_id: str, web_base_url: str) -> tuple[str, Blocks]:
    """The answer, its numbered sources, notes and the feedback / web chat buttons (at most 50 blocks)."""
    by_number = {s.number: s for s in answer.sources}
    blocks: Blocks = _sections(_answer_parts(answer, by_number))
    if answer.abstained:
        sources: Blocks = (_contexts("*Closest documents* (they may not answer it):", _source_lines(answer.sources))
                           if answer.sources else [])
    else:
        cited = answer.cited_sources or answer.sources
        sources = _contexts("*Sources*", _source_lines(cited)) if cited else []
    notes: Blocks = []
    unsupported = sum(1 for s in answer.sentences if s.supported is False)
    if unsupported:
        notes.append(_context(
            f":warning: {unsupported} sentence{'s' if unsupported > 1 else ''} marked :warning: "
            "could not be verified against the sources; check before relying on it."
        ))
    if answer.notice:
        notes.append(_context(f":information_source: {safe_text(answer.notice)}"))
    actions = feedback_actions(answer_id, web_chat_url(web_base_url, answer.question))
    # Within Slack's 50 blocks, the buttons and notes always stay; an absurdly long answer gives way to the link.
    room = _MAX_BLOCKS - len(notes) - 1
    if len(blocks) + len(sources) > room:
        more = _context(":link: The full answer and all its sources are in the web chat.")
        blocks = (blocks + sources)[: room - 1] + [more]
    else:
        blocks += sources
    return truncate(safe_text(answer.text), _SECTION_LIMIT), blocks + notes + [actions]


def feedback_actions(answer_id: str, web_url: str, *, rated: bool | None = None) -> dict[str, Any]:
    """Helpful / Not helpful (until rated) and Open in web chat."""
    elements: list[dict[str, Any]] = []
    if rated is None:
        elements += [
            {"type": "button", "action_id": HELPFUL_ACTION, "value": answer_id,
             "text": {"type": "plain_text", "text": ":thumbsup: Helpful", "emoji": True}},
            {"type": "button", "action_id": NOT_HELPFUL_ACTION, "value": answer_id,
             "text": {"type": "plain_text", "text": ":thumbsdown: Not helpful", "emoji": True}},
        ]
    elements.append({"type": "button", "action_id": OPEN_WEB_ACTION, "url": web_url,
                     "text": {"type": "plain_text", "text": "Open in web chat"}})
    return {"type": "actions", "block_id": FEEDBACK_BLOCK, "elements": elements}


def rated_blocks(blocks: Blocks, *, helpful: bool) -> Blocks:
    """The answer's blocks with the feedback buttons replaced by a thank-you line (Open in web chat stays)."""
    out: Blocks = []
    for block in blocks:
        if block.get("block_id") != FEEDBACK_BLOCK:
            out.append(block)
            continue
        web = next((e["url"] for e in block.get("elements", []) if e.get("action_id") == OPEN_WEB_ACTION), None)
        verdict = ":thumbsup: Marked helpful" if helpful else ":thumbsdown: Marked not helpful"
        out.append(_context(f"{verdict}. Thank you, this goes into Kura's test set."))
        if web:
            out.append(feedback_actions("", web, rated=helpful))
    return out


def reason_modal(answer_id: str) -> dict[str, Any]:
    """A modal asking what was wrong; optional, the Not helpful verdict is already stored."""
    return {
        "type": "modal",
        "callback_id": REASON_CALLBACK,
        "private_metadata": answer_id,
        "title": {"type": "plain_text", "text": "What was wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Optional: what was missing or wrong?"},
                "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True,
                            "max_length": 2000},
            }
        ],
    }
