"""``kura reindex``: the cron job that keeps the index fresh (see ingest/reindex.py for what it guarantees)."""

from __future__ import annotations

import json
from typing import Optional

import typer

# Exit codes beyond main.py's (1 error, 2 configuration, 3 no index), for cron and monitoring.
EXIT_PARTIAL = 4  # the index was updated, but some documents or a source failed
EXIT_NOT_SWITCHED = 5  # the new index failed its checks; the old one keeps serving
EXIT_WORSE = 6  # the new index answers rated questions worse (feedback regression set); the old one keeps serving
EXIT_LOCKED = 75  # another run holds the lock (EX_TEMPFAIL: try again later)


def reindex(
    full: bool = typer.Option(False, "--full", help="Rebuild everything into a new index, then switch to it."),
    strategy: Optional[str] = typer.Option(
        None, "--strategy", help="Chunking strategy for a --full rebuild (default: KURA_CHUNK_STRATEGY)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    force: bool = typer.Option(False, "--force", help="Switch even if the new index is much smaller than the old."),
    clean: bool = typer.Option(False, "--clean", help="Discard an interrupted or failed rebuild instead of resuming."),
) -> None:
    """Sync every configured source into the index (incremental), or rebuild it with --full."""
    from bots.cli.main import _app
    from bots.cli.progress import index_progress

    if strategy and not full:
        raise typer.BadParameter("--strategy changes how every document is chunked: use it with --full")
    from ingest.chunking import STRATEGIES

    if strategy and strategy not in STRATEGIES:
        raise typer.BadParameter(f"unknown strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}")
    from bots.job_state import JobStateFile, reindex_figures

    kura = _app()
    with kura, kura.reindex_lock():
        generations = kura.generations()
        before = _manifest(generations, generations.serving())
        with index_progress("reindex", interval_s=kura.settings.progress_interval_s) as progress:
            result = kura.reindex_job(on_progress=progress).run(full=full, strategy=strategy, force=force,
                                                                clean=clean)
        # For /metrics and the insight page: what changed per source (bots/job_state.py).
        per_source, succeeded = reindex_figures(result, before, _manifest(generations, result.index))
        JobStateFile.in_state_dir(kura.settings.state_dir).record("reindex", per_source, succeeded=succeeded)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        typer.echo(result.summary_line())
        for skipped in result.stats.skipped[:20]:
            typer.echo(f"  skipped: {skipped.source} {skipped.source_id}: {skipped.reason}", err=True)
        for failure in result.stats.failures[:20]:
            typer.echo(f"  failed: {failure.source} {failure.source_id}: {failure.reason}", err=True)
    if result.problems:
        raise typer.Exit(EXIT_WORSE if result.worse_questions else EXIT_NOT_SWITCHED)
    if result.failed_sources or result.stats.documents_failed:
        raise typer.Exit(EXIT_PARTIAL)


def _manifest(generations, name: str | None) -> dict[str, str] | None:
    """A generation's document hashes: empty when there is no index yet, None when unknown."""
    return generations.manifest(name) if name else {}
