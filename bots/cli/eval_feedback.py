"""``kura eval run --dataset feedback``: the feedback regression set (bots/regression.py) on the serving index."""

from __future__ import annotations

import json
from pathlib import Path

import typer

EXIT_FAILED = 1  # some question rated helpful fails on the serving index


def run_feedback_set(settings, out: Path | None) -> None:
    """Check every rated answer against the serving index; print one line per failing question and a summary."""
    from bots.app import KuraApp
    from bots.feedback import FeedbackStore
    from bots.regression import describe, items_from_store, runner_for

    items = items_from_store(FeedbackStore.from_settings(settings))
    with KuraApp(settings) as kura:
        report = runner_for(kura).run(items)
    failed = [r for r in report.gating if not r.passed]
    for result in failed:
        typer.echo(f"worse: {describe(result)}")
    review = [r for r in report.results if r.passed is None]
    rate = "n/a" if report.pass_rate is None else f"{report.pass_rate:.3f}"
    typer.echo(f"feedback regression set: {len(report.gating)} questions, pass rate {rate}, {len(failed)} failing; "
               f"{len(review)} not-helpful answers with reasons kept for review")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "feedback-regression.json").write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1),
                                                      encoding="utf-8")
        typer.echo(f"wrote {out / 'feedback-regression.json'}")
    if failed:
        raise typer.Exit(EXIT_FAILED)
