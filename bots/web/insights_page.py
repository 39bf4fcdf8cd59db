"""The insight page for document owners (``/insights``, ``/api/insights``) and the Prometheus ``/metrics`` endpoint.

The insight page is for admins only (``KURA_ADMIN_PRINCIPALS``: emails or
groups); anyone else gets 403. Its figures come from bots/insights.py, which
withholds what the viewer may not read. Charts are plain server-drawn SVG:
the page's security policy allows no script or style that is not a file.

``/metrics`` needs no sign-in, like ``/api/health``: it carries counts and
timings, never a question, a title or a user (see bots/metrics.py). Keep it
reachable from the monitoring network only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from bots.insights import DayFigures, InsightBuilder, InsightReport
from bots.job_state import JobStateFile
from bots.metrics import exposition
from bots.web.app import WebContext, context, current_user
from bots.web.pages import safe_url

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["ops"])

NOT_ADMIN = "The insight page is for Kura admins (KURA_ADMIN_PRINCIPALS)."
CHART_WIDTH, CHART_HEIGHT = 300, 80


def is_admin(email: str, principals, admin_principals) -> bool:
    """Whether any of the viewer's principals (or their email itself) is listed as an admin."""
    admins = {a.strip().lower() for a in admin_principals if a.strip()}
    admins |= {f"user:{a}" for a in admins if "@" in a and ":" not in a}
    return bool(admins & ({p.lower() for p in principals} | {email.lower(), f"user:{email.lower()}"}))


def report_for(web: WebContext, user: str) -> InsightReport:
    """The report for ``user``; 403 unless an admin."""
    principals = web.kura.principals_for(user)
    if not is_admin(user, principals, web.settings.admin_principals):
        raise HTTPException(403, NOT_ADMIN)
    embedder = getattr(web.kura, "embedder", None)
    builder = InsightBuilder(web.feedback, web.kura.store, JobStateFile.in_state_dir(web.settings.state_dir),
                             embed=embedder.embed_documents if embedder is not None else None)
    return builder.build(user, principals, admin=True)


@router.get("/metrics")
def metrics(web: WebContext = Depends(context)) -> Response:
    body, content_type = exposition(web.settings.state_dir)
    return Response(body, media_type=content_type)


@api_router.get("/insights", responses={403: {"description": "Not an admin"}})
def insights_json(user: str = Depends(current_user), web: WebContext = Depends(context)) -> dict:
    """The insight page's figures as JSON (admins only)."""
    return report_for(web, user).to_dict()


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


def bars(days: list[DayFigures], value, *, scale: float | None = None) -> list[Bar]:
    """SVG bars for one figure per day; ``scale`` is the value at full height (the largest value when None)."""
    values = [value(d) for d in days]
    top = scale or max([v for v in values if v is not None] or [0]) or 1
    step = CHART_WIDTH / max(1, len(days))
    out = []
    for i, (day, v) in enumerate(zip(days, values)):
        height = 0.0 if v is None else max(1.0, CHART_HEIGHT * v / top) if v else 0.0
        shown = "no data" if v is None else (f"{v:.0%}" if scale == 1 else str(v))
        out.append(Bar(round(i * step + 1, 2), round(CHART_HEIGHT - height, 2), round(max(1.0, step - 2), 2),
                       round(height, 2), f"{day.day}: {shown}"))
    return out


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "never"
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@router.get("/insights", response_class=HTMLResponse)
def insights_page(request: Request, user: str = Depends(current_user), web: WebContext = Depends(context)) -> Response:
    report = report_for(web, user)
    days = report.days
    rated = sum(d.rated for d in days)
    totals = {
        "answers": report.answers,
        "helpful_rate": sum(d.helpful for d in days) / rated if rated else None,
        "abstain_rate": sum(d.abstained for d in days) / report.answers if report.answers else None,
        "rated": rated,
    }
    charts = [
        ("Answers per day", "volume", bars(days, lambda d: d.answers)),
        ("Helpful rate (of rated answers)", "helpful", bars(days, lambda d: d.helpful_rate, scale=1)),
        ("Abstain rate", "abstain", bars(days, lambda d: d.abstain_rate, scale=1)),
    ]
    values = {
        "user": user, "local_login": web.auth.local_login, "report": report, "totals": totals, "charts": charts,
        "chart_width": CHART_WIDTH, "chart_height": CHART_HEIGHT, "when": _when, "safe_url": safe_url,
    }
    return web.templates.TemplateResponse(request, "insights.html", values)
