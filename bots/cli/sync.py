"""``kura sync [--source NAME] [--full] [--json]``: bring the index in step with Confluence, Google Docs and Slack."""

from __future__ import annotations

import json
from typing import Optional

import typer

EXIT_ERROR = 1


def sync(
    source: Optional[str] = typer.Option(None, "--source", help="Only this source: confluence, gdocs or slack."),
    full: bool = typer.Option(
        False, "--full", help="List and re-read every document (repairs what change listings miss); "
        "unchanged content is not re-embedded."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Sync the configured sources incrementally (resumes where an interrupted sync stopped)."""
    from bots.app import KuraApp
    from bots.cli.progress import index_progress
    from core.settings import load_settings
    from ingest.connectors.checkpoints import CheckpointStore
    from ingest.connectors.registry import build_connectors
    from ingest.sync import SyncRunner

    settings = load_settings()
    with KuraApp(settings) as kura:
        checkpoints = CheckpointStore.in_state_dir(settings.state_dir)
        connectors = build_connectors(settings, checkpoints, kura.identity, only=source)
        with index_progress("sync") as progress:
            runner = SyncRunner(kura.pipeline(), checkpoints, connectors,
                                on_progress=lambda name, stats: progress(stats))
            summary = runner.run(full=full)
        total_chunks = kura.store.count() if kura.store.exists() else 0
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), ensure_ascii=False))
    else:
        for result in summary.results:
            s = result.stats
            line = (f"{result.source}: {s.documents_added} added, {s.documents_updated} updated, "
                    f"{s.documents_deleted} deleted, {s.documents_failed} failed, {s.documents_unchanged} unchanged; "
                    f"{s.chunks_embedded} chunks embedded in {s.seconds:.1f}s")
            typer.echo(line)
            for failure in s.failures:
                typer.echo(f"  failed: {failure.source} {failure.source_id}: {failure.reason}", err=True)
            for skip in result.skipped:
                typer.echo(f"  skipped: {skip.source} {skip.source_id}: {skip.reason}", err=True)
            if result.error:
                typer.echo(f"  {result.source} stopped: {result.error}", err=True)
        typer.echo(f"index holds {total_chunks} chunks")
    if not summary.ok:
        raise typer.Exit(EXIT_ERROR)
