"""``kura feedback``: turn users' Helpful / Not helpful verdicts into an eval dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

feedback_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Users' verdicts on answers.")


@feedback_app.command("export")
def export(
    out: Optional[Path] = typer.Option(
        None, "--out", help="JSONL file to write (default: <data dir>/eval/feedback.jsonl)."
    ),
) -> None:
    """Write every rated answer as one JSON line (format: bots/feedback.py)."""
    from bots.cli.main import _settings
    from bots.feedback import FeedbackStore

    settings = _settings()
    path = settings.data_dir / "feedback.sqlite"
    if not path.exists():
        raise FileNotFoundError(f"no feedback yet: {path} does not exist")
    out = out or settings.data_dir / "eval" / "feedback.jsonl"
    count = FeedbackStore(path).export(out)
    typer.echo(f"feedback: wrote {count} rated answers to {out}")
