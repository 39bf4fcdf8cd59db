"""``kura``: the command line. Each command parses, calls KuraApp, prints; errors end as one line and a non-zero exit."""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from pathlib import Path
from typing import Optional

_ONE_SHOT_COMMANDS = ("ask", "stats")


def _no_cyclic_collection_in_one_shot_commands(argv: list[str]) -> None:
    """Switch the cyclic garbage collector off in a one-shot command (reference counting still frees memory).

    A cold `kura ask` allocates mostly objects that live until it exits (modules, classes, the term tables):
    the collector ran ~150 times in one ask, 80-100 ms of CPU, and freed next to nothing (peak memory with it
    off: the same 396 MB). A one-shot command ends before its cyclic garbage could matter; the long-running ones
    (serve, slack, ingest, reindex) keep the collector. Called before the imports below: they are a third of
    what the collector scanned.
    """
    if argv[:1] and argv[0] in _ONE_SHOT_COMMANDS:
        gc.disable()


_no_cyclic_collection_in_one_shot_commands(sys.argv[1:])

import typer  # noqa: E402 - after the collector is switched off: its import benefits already

from bots.cli.reindex import EXIT_LOCKED, reindex  # noqa: E402
from core.errors import ConfigError, JobLockedError, KuraError, StoreError, StoreNotFoundError

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


def _ask_server(settings, request: dict, **kwargs) -> dict | None:
    """The serving process's answer when `kura serve` or `kura slack` holds this data dir's index, else None."""
    from bots.local_socket import ask_server

    return ask_server(settings.data_dir, request, **kwargs)


@app.command()
def ingest(
    path: Optional[Path] = typer.Option(None, "--path", help="A folder of Markdown, text and HTML files (public)."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="Chunking strategy (default: KURA_CHUNK_STRATEGY)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Index the sample corpus, or a folder of files with --path."""
    from bots.cli.progress import index_progress
    from ingest.pipeline import IndexStats

    settings = _settings()
    request = {"op": "ingest", "path": str(path.resolve()) if path is not None else None, "strategy": strategy}
    with index_progress("ingest") as progress:
        remote = _ask_server(settings, request, on_progress=lambda s: progress(_stats_from(IndexStats, s)))
        if remote is not None:
            stats, total = _stats_from(IndexStats, remote["stats"]), remote["chunks"]
        else:
            stats, total = _ingest_here(settings, path, strategy, progress)
    if as_json:
        typer.echo(json.dumps(stats.to_dict(), ensure_ascii=False))
    else:
        typer.echo(f"ingest: {stats.summary_line()}; index holds {total} chunks")
        from chat.sanitize import for_terminal

        # Names come from the documents and file names: no escapes or bidi tricks on the terminal.
        for skipped in stats.skipped:
            typer.echo(for_terminal(f"  skipped: {skipped.source} {skipped.source_id}: {skipped.reason}"), err=True)
        for failure in stats.failures:
            typer.echo(for_terminal(f"  failed: {failure.source} {failure.source_id}: {failure.reason}"), err=True)
    if stats.documents_failed:
        raise typer.Exit(EXIT_PARTIAL)


def _ingest_here(settings, path, strategy, progress):
    from bots.app import KuraApp, files_connector, sample_connector

    kura = KuraApp(settings)
    # The re-index job's lock: both write the index, and the job clears what an unfinished run left.
    with kura, kura.reindex_lock():
        if path is not None:
            connector = files_connector(path, max_mb=kura.settings.max_document_mb)
        else:
            connector = sample_connector()
            kura.record_identities("sample", connector.identities(), connector.slack_aliases())
        stats = kura.ingest(connector, strategy=strategy, on_progress=progress)
        return stats, kura.store.count()


def _stats_from(cls, data: dict):
    from core.protocols import DocumentFailure

    values = dict(data)
    for name in ("failures", "skipped"):
        values[name] = [DocumentFailure(**f) for f in values.get(name, [])]
    return cls(**values)


def _load_answerer_parts(kura) -> None:
    """What the extractive answer reads besides the model, loaded in this thread while the model loads in the other.

    Both term tables are always read by the answerability check; the answerer's modules are imported and the
    index opened here instead of after the model (bench/cold_ask.py).
    """
    from chat.answerability import default_synonyms
    from retrieval.term_bridge import default_bridge

    default_bridge(), default_synonyms()
    kura.extractive, kura.cross_language  # noqa: B018 - built now, while the model loads
    # Opens the index (its first search would) and counts it, which the answer's term rarity reads anyway.
    kura.store.count()


class Finished:
    """A command's result meaning: done, everything it opened is closed; ``main`` may end the process at once."""


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
) -> Finished:
    """Answer a question from the indexed documents, with numbered sources."""
    if answerer is not None and answerer not in ("extractive", "llm", "auto"):
        raise typer.BadParameter("use extractive, llm or auto", param_hint="--answerer")
    settings = _settings()
    # The server resolves --as with the same principals_for as below.
    request = {"op": "ask", "question": question, "as_user": as_user, "mode": mode, "answerer": answerer}
    answer = _ask_server(settings, request)
    if answer is None:
        from bots.cli.load_ahead import ModelLoadAhead

        ahead = ModelLoadAhead.start(settings)  # before the imports below, which the model's load overlaps
        try:
            from bots.app import KuraApp

            with KuraApp(settings, embedder=ahead.embedder()) as kura:
                if kura.store.exists():
                    _load_answerer_parts(kura)
                principals = kura.principals_for(as_user)
                answer = kura.ask(question, principals=principals, mode=mode, answerer=answerer).to_dict()
        finally:
            ahead.join()
    _print_answer(answer, as_json)
    return Finished()


def _print_answer(answer: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(answer, ensure_ascii=False, indent=2))
        return
    from chat.sanitize import for_terminal

    # Document text reaches the terminal: no escape sequences, no broadcast mentions.
    typer.echo(for_terminal(answer["answer"]))
    if answer["notice"]:
        typer.echo(f"\n({for_terminal(answer['notice'])})")
    if answer["sources"]:
        typer.echo("\nClosest documents:" if answer["abstained"] else "\nSources:")
        for s in answer["sources"]:
            typer.echo(for_terminal(f"  [{s['number']}] {s['title']}  {s['url']}"))


@app.command()
def stats() -> None:
    """What the index holds."""
    settings = _settings()
    data = _ask_server(settings, {"op": "stats"})
    if data is None:
        from bots.app import KuraApp
        from bots.local_socket import index_stats

        with KuraApp(settings) as kura:
            data = index_stats(kura)
    typer.echo(f"documents: {data['documents']}  chunks: {data['chunks']}")
    for source, n in sorted(data["by_source"].items()):
        typer.echo(f"  {source}: {n} documents")
    if data.get("unfinished"):
        typer.echo(f"unfinished: {data['unfinished']} documents were being written when a run stopped; they are not "
                   "searchable until the next `kura ingest` or `kura reindex` writes them")
    if data.get("reindex_pending"):
        typer.echo("an interrupted `kura reindex` build is waiting; the next `kura reindex` resumes it "
                   "(the index above keeps serving meanwhile)")
    typer.echo(f"embedding model: {data['embedding_model']}  chunking: {data['chunker']}")


def _register_subcommands() -> None:
    # Imported here so each area's commands live in their own module.
    from bots.cli.embedder import embedder_app
    from bots.cli.eval import app as eval_app
    from bots.cli.feedback import feedback_app
    from bots.cli.serve import serve
    from bots.cli.slack import slack
    from bots.cli.sync import sync

    app.add_typer(eval_app, name="eval")
    app.add_typer(embedder_app, name="embedder")
    app.add_typer(feedback_app, name="feedback")
    app.command("serve")(serve)
    app.command("slack")(slack)
    app.command("sync")(sync)
    app.command("reindex")(reindex)


_register_subcommands()


def _held_index(exc: StoreError) -> str:
    """Name the process that holds the embedded index when that is why opening it failed."""
    from bots.local_socket import held_index_error, command_name

    try:
        data_dir = _settings().data_dir
    except KuraError:
        return str(exc)
    clearer = held_index_error(exc, data_dir, command_name())
    return str(clearer) if clearer else str(exc)


def main() -> None:
    """Console entry point with the one error boundary of the CLI."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import click

    from bots.public_errors import without_paths

    # typer 0.29 ships its own copy of click: its usage errors (typer.BadParameter, a missing argument) are not
    # click's classes, so both copies' classes are caught, found through typer's public BadParameter.
    usage_errors = tuple({click.ClickException, *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")})
    try:
        result = app(standalone_mode=False)
    except (click.exceptions.Exit, typer.Exit) as exc:
        sys.exit(exc.exit_code)
    except usage_errors as exc:  # usage errors: click prints them its own way
        exc.show()
        sys.exit(exc.exit_code)
    except (typer.Abort, click.exceptions.Abort):
        sys.exit(EXIT_ERROR)
    except ConfigError as exc:
        typer.echo(f"kura: {without_paths(str(exc))}", err=True)
        sys.exit(EXIT_CONFIG)
    except JobLockedError as exc:
        typer.echo(f"kura: {without_paths(str(exc))}", err=True)
        sys.exit(EXIT_LOCKED)
    except StoreNotFoundError as exc:
        typer.echo(f"kura: {without_paths(str(exc))}", err=True)
        sys.exit(EXIT_NO_INDEX)
    except StoreError as exc:
        typer.echo(f"kura: {_held_index(exc)}", err=True)
        sys.exit(EXIT_ERROR)
    except KuraError as exc:
        typer.echo(f"kura: {without_paths(str(exc))}", err=True)
        sys.exit(EXIT_ERROR)
    except (ValueError, FileNotFoundError) as exc:
        typer.echo(f"kura: {without_paths(str(exc))}", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # the last line of defence: no stack trace for users
        logging.getLogger("kura").debug("unexpected error", exc_info=True)
        typer.echo(f"kura: unexpected error: {exc.__class__.__name__}: {without_paths(str(exc))}", err=True)
        sys.exit(EXIT_ERROR)
    if isinstance(result, Finished):
        _exit_without_teardown(0)
    sys.exit(result if isinstance(result, int) else 0)


def _exit_without_teardown(code: int) -> None:
    """End the process now, skipping the interpreter's teardown of every module.

    Tearing down what a cold ask imports (OpenVINO's runtime, pydantic, typer, numpy) took ~0.3 s of CPU after
    the answer was printed, a sixth of the whole ask (bench/cold_ask.py). It is only skipped for a command that
    returned ``Finished``: its store is closed, its threads joined, its SQLite writes committed. What remains
    buffered, log handlers and standard output, is flushed first.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`kura ask ... | head`): nothing more can be written
            code = code or EXIT_ERROR
    os._exit(code)


if __name__ == "__main__":
    main()
