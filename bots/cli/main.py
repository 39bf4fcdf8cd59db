"""``kura``: the command line. Each command parses, calls KuraApp, prints; errors end as one line and a non-zero exit."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from bots.cli.reindex import EXIT_LOCKED, reindex
from core.errors import ConfigError, JobLockedError, KuraError, StoreNotFoundError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Kura: grounded answers from your company's documents.")

EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_NO_INDEX = 3
EXIT_PARTIAL = 4  # as `kura reindex`: done, but some documents failed (they are listed on stderr)


def _settings(**overrides):
    from core.settings import load_settings

    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


def _app(**overrides):
    from bots.app import KuraApp

    return KuraApp(_settings(**overrides))


@app.command()
def ingest(
    path: Optional[Path] = typer.Option(None, "--path", help="A folder of Markdown, text and HTML files (public)."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="Chunking strategy (default: KURA_CHUNK_STRATEGY)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Index the sample corpus, or a folder of files with --path."""
    from bots.app import files_connector, sample_connector
    from bots.cli.progress import index_progress

    kura = _app(chunk_strategy=strategy)
    # The re-index job's lock: both write the index, and the job clears what an unfinished run left.
    with kura, kura.reindex_lock():
        if path is not None:
            connector = files_connector(path, max_mb=kura.settings.max_document_mb)
        else:
            connector = sample_connector()
            kura.record_identities("sample", connector.identities(), connector.slack_aliases())
        with index_progress("ingest") as progress:
            stats = kura.ingest(connector, on_progress=progress)
        if as_json:
            typer.echo(json.dumps(stats.to_dict(), ensure_ascii=False))
        else:
            typer.echo(f"ingest: {stats.summary_line()}; index holds {kura.store.count()} chunks")
            for skipped in stats.skipped:
                typer.echo(f"  skipped: {skipped.source} {skipped.source_id}: {skipped.reason}", err=True)
            for failure in stats.failures:
                typer.echo(f"  failed: {failure.source} {failure.source_id}: {failure.reason}", err=True)
    if stats.documents_failed:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question, in any language."),
    as_user: Optional[str] = typer.Option(None, "--as", help="Answer as this person (email): only what they may read."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    mode: Optional[str] = typer.Option(None, "--mode", help="Retriever: hybrid, bm25 or dense."),
    answerer: Optional[str] = typer.Option(
        None,
        "--answerer",
        help="extractive or llm (default: KURA_ANSWERER; auto = llm when KURA_LLM_BASE_URL is set).",
    ),
) -> None:
    """Answer a question from the indexed documents, with numbered sources."""
    from chat.sanitize import for_terminal

    if answerer is not None and answerer not in ("extractive", "llm", "auto"):
        raise typer.BadParameter("use extractive, llm or auto", param_hint="--answerer")
    kura = _app()
    with kura:
        principals = kura.principals_for(as_user)
        answer = kura.ask(question, principals=principals, mode=mode, answerer=answerer)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    # Document text reaches the terminal: no escape sequences, no broadcast mentions.
    typer.echo(for_terminal(answer.text))
    if answer.notice:
        typer.echo(f"\n({for_terminal(answer.notice)})")
    if answer.sources:
        typer.echo("\nClosest documents:" if answer.abstained else "\nSources:")
        for s in answer.sources:
            typer.echo(for_terminal(f"  [{s.number}] {s.title}  {s.url}"))


@app.command()
def stats() -> None:
    """What the index holds."""
    kura = _app()
    with kura:
        store = kura.store
        if not store.exists():
            if getattr(store, "unfinished", lambda: False)():
                raise StoreNotFoundError("the index is unfinished: a first `kura ingest` died while creating it; "
                                         "run `kura ingest` (or `kura reindex`) again")
            raise StoreNotFoundError("no index yet: run `kura ingest` first")
        hashes = store.document_hashes()
        unfinished = sum(1 for h in hashes.values() if h == "")  # staged chunks never published: invisible
        by_source: dict[str, int] = {}
        for doc_id, h in hashes.items():
            if h:
                by_source[doc_id.split(":", 1)[0]] = by_source.get(doc_id.split(":", 1)[0], 0) + 1
        meta = store.get_meta()
        typer.echo(f"documents: {len(hashes) - unfinished}  chunks: {store.count()}")
        for source, n in sorted(by_source.items()):
            typer.echo(f"  {source}: {n} documents")
        if unfinished:
            typer.echo(f"unfinished: {unfinished} documents were being written when a run stopped; they are not "
                       "searchable until the next `kura ingest` or `kura reindex` writes them")
        pending = kura.settings.state_dir / "reindex-pending.json"
        if pending.exists():
            typer.echo("an interrupted `kura reindex` build is waiting; the next `kura reindex` resumes it "
                       "(the index above keeps serving meanwhile)")
        typer.echo(f"embedding model: {meta.get('embedding_model', '?')}  chunking: {meta.get('chunker', '?')}")


def _register_subcommands() -> None:
    # Imported here so each area's commands live in their own module.
    from bots.cli.eval import app as eval_app
    from bots.cli.feedback import feedback_app
    from bots.cli.serve import serve
    from bots.cli.slack import slack
    from bots.cli.sync import sync

    app.add_typer(eval_app, name="eval")
    app.add_typer(feedback_app, name="feedback")
    app.command("serve")(serve)
    app.command("slack")(slack)
    app.command("sync")(sync)
    app.command("reindex")(reindex)


_register_subcommands()


def main() -> None:
    """Console entry point with the one error boundary of the CLI."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import click

    try:
        result = app(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: click prints them its own way
        exc.show()
        sys.exit(exc.exit_code)
    except (typer.Abort, click.exceptions.Abort):
        sys.exit(EXIT_ERROR)
    except ConfigError as exc:
        typer.echo(f"kura: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except JobLockedError as exc:
        typer.echo(f"kura: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except StoreNotFoundError as exc:
        typer.echo(f"kura: {exc}", err=True)
        sys.exit(EXIT_NO_INDEX)
    except KuraError as exc:
        typer.echo(f"kura: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except (ValueError, FileNotFoundError) as exc:
        typer.echo(f"kura: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # the last line of defence: no stack trace for users
        logging.getLogger("kura").debug("unexpected error", exc_info=True)
        typer.echo(f"kura: unexpected error: {exc.__class__.__name__}: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
