"""Reports from a results.json: ``report.md`` (charts as files beside it) and a self-contained ``report.html``.

The HTML inlines its charts as base64 PNGs and its CSS, so it can be mailed or
attached to a ticket as one file. Both show the comparison table with the best
value of each column highlighted, the charts, the dataset, settings and git
commit of the run, and a drill-down of failed questions.
"""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from eval.charts import all_charts

TEMPLATES = Path(__file__).parent / "templates"

# (metric, heading, higher is better?) in table order; None: not ranked (no better direction).
RETRIEVAL_COLUMNS: tuple[tuple[str, str, bool | None], ...] = (
    ("recall@1", "R@1", True),
    ("recall@5", "R@5", True),
    ("recall@10", "R@10", True),
    ("mrr@10", "MRR@10", True),
    ("ndcg@10", "nDCG@10", True),
    ("span_precision@5", "span P@5", True),
    ("span_recall@5", "span R@5", True),
    ("span_iou@5", "span IoU@5", True),
    ("latency_p50_ms", "p50 ms", False),
    ("latency_p95_ms", "p95 ms", False),
)
ANSWER_COLUMNS: tuple[tuple[str, str, bool | None], ...] = (
    ("answer_em", "EM", True),
    ("answer_f1", "F1", True),
    ("answer_contains", "contains", True),
    ("correct_abstain", "correct abstain", True),
    ("abstain_rate", "abstain", None),
    ("abstain_quality", "abstain quality", True),
    ("fallback_rate", "fallback", None),
    ("groundedness", "grounded", True),
    ("groundedness_strict", "all grounded", True),
    ("groundedness_any_source", "grounded (any source)", True),
    ("citation_precision", "citation P", True),
    ("citation_recall", "citation R", True),
    ("outcome_accuracy", "right outcome", True),
    ("leaks", "leaks", False),
)
TABLES = (("Retrieval", RETRIEVAL_COLUMNS), ("Answers and groundedness", ANSWER_COLUMNS))
TABLE_COLUMNS = RETRIEVAL_COLUMNS + ANSWER_COLUMNS
SUMMARY_COLUMNS = ("recall@5", "mrr@10", "answer_contains", "groundedness", "latency_p50_ms")
MAX_DRILL_DOWN = 25


def format_value(metric: str, value) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # counts (leaks)
    if metric.endswith("_ms"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def best_values(runs: list[dict]) -> dict[str, float]:
    """Per ranked column, the best value over the runs (highest, or lowest for latencies).

    Values compare as shown (3 decimals, latencies 1), so a highlighted cell never looks equal to a plain one.
    A column where every run shows the same has no best: highlighting all of it would say nothing.
    """
    best = {}
    for metric, _, higher in TABLE_COLUMNS:
        values = [float(format_value(metric, r["metrics"].get(metric))) for r in runs if r["metrics"].get(metric) is not None]
        if higher is None or len(set(values)) < 2:
            continue
        best[metric] = max(values) if higher else min(values)
    return best


def table_rows(results: dict, columns=TABLE_COLUMNS) -> list[dict]:
    """A comparison table: one row per run, each cell with its text and whether it is the column's best."""
    runs = results["runs"]
    best = best_values(runs)
    rows = []
    for run in runs:
        cells = []
        for metric, _, _ in columns:
            value = run["metrics"].get(metric)
            is_best = value is not None and metric in best and float(format_value(metric, value)) == best[metric]
            cells.append({"text": format_value(metric, value), "best": is_best})
        rows.append({"strategy": run["strategy"], "retriever": run["retriever"], "answerer": run["answerer"], "cells": cells})
    return rows


def kind_table(results: dict) -> dict | None:
    """Accuracy per question kind (eval/kinds.py): kinds as columns, one row per run; None when no run has kinds."""
    runs = [r for r in results["runs"] if r.get("per_kind")]
    if not runs:
        return None
    kinds = sorted({k for r in runs for k in r["per_kind"]})
    rows = []
    for run in runs:
        cells = []
        for kind in kinds:
            row = run["per_kind"].get(kind)
            if row is None:
                cells.append({"text": "–", "detail": ""})
                continue
            split = ", ".join(f"{lang} {b['correct']}/{b['questions']}" for lang, b in sorted(row["by_language"].items()))
            leaks = f", {row['leaks']} leaked" if row["leaks"] else ""
            recall = f", R@5 {row['recall@5']:.2f}" if row.get("recall@5") is not None else ""
            cells.append({"text": f"{row['accuracy']:.3f}", "detail": f"{row['correct']}/{row['questions']} ({split}){recall}{leaks}"})
        rows.append({"strategy": run["strategy"], "retriever": run["retriever"], "answerer": run["answerer"], "cells": cells})
    return {"kinds": kinds, "rows": rows}


def drill_down(results: dict) -> list[dict]:
    """Per run, the first failed questions with question text and gold answers joined in."""
    questions = results.get("questions", {})
    out = []
    for run in results["runs"]:
        items = []
        for failure in run.get("failures", [])[:MAX_DRILL_DOWN]:
            q = questions.get(failure["id"], {})
            items.append({**failure, "question": q.get("question", ""), "gold": q.get("answers", []), "answerable": q.get("answerable", True)})
        out.append({"label": f"{run['strategy']} × {run['retriever']}", "total": run.get("failures_total", len(items)), "items": items})
    return out


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def integrity(results: dict) -> list[dict]:
    """Per run: who actually answered, fallback and abstain rates, the judge's verdict paths, and warnings
    (a run whose answers were mostly fallbacks is not a result of its configured answerer)."""
    out = []
    for run in results["runs"]:
        metrics = run["metrics"]
        warnings = []
        if run.get("mostly_fallback"):
            warnings.append(
                f"mostly fallbacks: {_percent(metrics.get('fallback_rate'))} fell back from `{run['answerer']}`, "
                "so these figures are not the configured answerer's"
            )
        if run.get("groundedness_refused"):
            warnings.append(run["groundedness_refused"])
        verdicts = run.get("judge_verdicts")
        out.append({
            "label": f"{run['strategy']} × {run['retriever']}",
            "answerer": run["answerer"],
            "answered_by": ", ".join(f"{k} {v}" for k, v in sorted(run.get("answered_by", {}).items())) or "–",
            "fallback": _percent(metrics.get("fallback_rate")),
            "abstain": _percent(metrics.get("abstain_rate")),
            "abstain_quality": format_value("abstain_quality", metrics.get("abstain_quality")),
            "verdicts": ", ".join(f"{k} {v}" for k, v in verdicts.items()) if verdicts else "–",
            "notices": [n["notice"] for n in run.get("fallback_notices", [])],
            "warnings": warnings,
        })
    return out


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "html.j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = lambda v: format_value("", v) if isinstance(v, float) else ("–" if v is None else v)
    return env


def _context(results: dict, charts: dict[str, str]) -> dict:
    return {
        "r": results,
        "tables": [{"title": t, "columns": cols, "rows": table_rows(results, cols)} for t, cols in TABLES],
        "charts": charts,
        "drill": drill_down(results),
        "integrity": integrity(results),
        "kinds": kind_table(results),
    }


def write_reports(results: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write report.md (+ charts/*.png) and the self-contained report.html into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = all_charts(results)
    chart_dir = out_dir / "charts"
    chart_dir.mkdir(exist_ok=True)
    for name, data in pngs.items():
        (chart_dir / f"{name}.png").write_bytes(data)
    env = _environment()
    md = env.get_template("report.md.j2").render(**_context(results, {n: f"charts/{n}.png" for n in pngs}))
    inline = {n: "data:image/png;base64," + base64.b64encode(d).decode("ascii") for n, d in pngs.items()}
    html = env.get_template("report.html.j2").render(**_context(results, inline))
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    md_path.write_text(md, encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    return md_path, html_path
