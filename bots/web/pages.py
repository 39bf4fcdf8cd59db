"""The HTML pages: the chat, the local login form, and the read-only view of a shared conversation.

Templates are Jinja2 with autoescaping, so document and answer text is always
escaped; the chat page's script builds the DOM with text nodes only.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bots.web.api import load_shared
from bots.web.app import WebContext, context, current_user
from bots.web.auth import normalize_email, safe_next

router = APIRouter(include_in_schema=False)

_MARKER = re.compile(r"\[(\d+)\]")
SOURCE_LABELS = {"confluence": "Confluence", "gdocs": "Google Docs", "slack": "Slack", "files": "File", "sample": "Sample"}


def answer_parts(text: str, numbers: set[int]) -> list[tuple[str, int | None]]:
    """The answer text as (text, None) runs and (marker, n) citations, for templates to link without markup."""
    parts: list[tuple[str, int | None]] = []
    last = 0
    for match in _MARKER.finditer(text):
        number = int(match.group(1))
        if number not in numbers:
            continue
        if match.start() > last:
            parts.append((text[last : match.start()], None))
        parts.append((match.group(0), number))
        last = match.end()
    if last < len(text):
        parts.append((text[last:], None))
    return parts


def safe_url(url: str) -> str:
    """Only web links become hrefs; a ``javascript:`` URL in a document must never be clickable."""
    return url if url.startswith(("https://", "http://")) else ""


def _page(web: WebContext, request: Request, name: str, values: dict[str, Any], status: int = 200) -> Response:
    return web.templates.TemplateResponse(request, name, values, status_code=status)


@router.get("/", response_class=HTMLResponse)
@router.get("/c/{conversation_id}", response_class=HTMLResponse)
def chat_page(
    request: Request, conversation_id: str = "", user: str = Depends(current_user), web: WebContext = Depends(context)
) -> Response:
    return _page(
        web, request, "chat.html",
        {"user": user, "local_login": web.auth.local_login, "conversation_id": conversation_id},
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", web: WebContext = Depends(context)) -> Response:
    if not web.auth.local_login:
        return _page(web, request, "error.html", {"status": 404, "message": "Sign in through the company's single sign-on."}, 404)
    if web.auth.user(request):
        return RedirectResponse(safe_next(next), status_code=303)
    return _page(web, request, "login.html", {"next": safe_next(next), "error": "", "email": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, web: WebContext = Depends(context)) -> Response:
    if not web.auth.local_login:
        return _page(web, request, "error.html", {"status": 404, "message": "Sign in through the company's single sign-on."}, 404)
    # A urlencoded form needs no multipart parser: read it directly.
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    raw_email = (form.get("email") or [""])[0]
    target = safe_next((form.get("next") or ["/"])[0])
    email = normalize_email(raw_email)
    if email is None:
        values = {"next": target, "error": "Enter an email address, like you@example.com.", "email": raw_email[:200]}
        return _page(web, request, "login.html", values, 400)
    response = RedirectResponse(target, status_code=303)
    web.auth.sign_in(response, email)
    return response


@router.post("/logout")
def logout(request: Request, web: WebContext = Depends(context)) -> Response:
    response = RedirectResponse("/login" if web.auth.local_login else "/", status_code=303)
    web.auth.sign_out(request, response)
    return response


@router.get("/s/{token}", response_class=HTMLResponse)
def shared_page(
    request: Request, token: str, user: str = Depends(current_user), web: WebContext = Depends(context)
) -> Response:
    conversation = load_shared(web, token, user)
    turns = []
    for turn in conversation.turns:
        answer = turn.answer
        sources = [
            {**s, "href": safe_url(s.get("url", "")), "label": SOURCE_LABELS.get(s.get("source", ""), s.get("source", ""))}
            for s in answer.get("sources", [])
        ]
        numbers = {s["number"] for s in sources}
        turns.append({"id": turn.id, "question": turn.question, "answer": answer, "sources": sources,
                      "parts": answer_parts(answer.get("answer", ""), numbers)})
    values = {"user": user, "local_login": web.auth.local_login, "conversation": conversation, "turns": turns}
    return _page(web, request, "share.html", values)
