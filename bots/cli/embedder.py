"""``kura embedder prepare``: build the compiled embedding model and parse the term tables now (``make install`` runs
it), not on first use."""

from __future__ import annotations

import time

import typer

embedder_app = typer.Typer(add_completion=False, no_args_is_help=True, help="The compiled embedding model.")


@embedder_app.command("prepare")
def prepare() -> None:
    """Export the configured embedding backend into the user cache (once per machine, model and library versions)."""
    from bots.app import KuraApp
    from bots.cli.main import _settings

    settings = _settings()
    _prepare_term_tables()
    if settings.embedding_backend == "torch":
        typer.echo("embedder: KURA_EMBEDDING_BACKEND=torch needs no build")
        return
    started = time.perf_counter()
    embedder = KuraApp(settings).embedder
    embedder.embed_query("warm up")  # exports if needed, then loads it: proof that it runs
    typer.echo(f"embedder: {settings.embedding_backend} ready in {time.perf_counter() - started:.1f}s "
               f"({embedder.model_file})")


def _prepare_term_tables() -> None:
    """Parse the shipped term tables into the user cache now, so that the first `kura ask` reads them back."""
    from chat.answerability import default_synonyms
    from retrieval.table_cache import table_cache_dir
    from retrieval.term_bridge import default_bridge

    started = time.perf_counter()
    default_bridge(), default_synonyms()
    typer.echo(f"term tables: ready in {time.perf_counter() - started:.1f}s ({table_cache_dir()})")
