"""``kura eval``: run evaluations, measure the support scorer, compare runs, rebuild reports."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Measure retrieval, answers and groundedness.")


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@contextmanager
def _progress():
    """A (label, done, total) callback: a live bar per label in a terminal, a line every few seconds otherwise."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, transient=True) as bar:
            tasks: dict[str, int] = {}

            def update(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(label, total=total)
                bar.update(tasks[label], completed=done, total=total)

            yield update
    else:
        last = [0.0]

        def log(label: str, done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 10 or done == total:
                last[0] = now
                print(f"eval: {label} {done}/{total}", file=sys.stderr, flush=True)

        yield log


@app.command("run")
def run(
    dataset: Path = typer.Option(
        ..., "--dataset", help="SQuAD-format JSON, Kura JSONL, a feedback export, or `feedback`: the feedback "
        "regression set (rated answers) against the serving index."),
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for results.json, report.md and report.html."),
    corpus: str = typer.Option("article", "--corpus", help="SQuAD data: article (one document per article) or paragraph."),
    strategies: Optional[str] = typer.Option(
        None, "--strategies", help="Comma-separated chunking strategies, NAME or NAME:SIZE or NAME:SIZE/OVERLAP (default: KURA_CHUNK_STRATEGY)."
    ),
    retrievers: str = typer.Option("bm25,dense,hybrid", "--retrievers", help="Comma-separated retriever modes."),
    answerer: str = typer.Option("extractive", "--answerer", help="extractive or llm."),
    judge: str = typer.Option("offline", "--judge", help="Groundedness scorer: offline, llm or none."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Evaluate this many questions, drawn with --seed."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling questions."),
    docs: Optional[Path] = typer.Option(None, "--docs", help="Documents for a Kura JSONL or feedback dataset."),
) -> None:
    """Evaluate chunking strategies x retriever modes on a dataset; writes results and reports to --out."""
    from bots.app import KuraApp
    from core.settings import load_settings
    from eval.datasets import load_dataset
    from eval.report import write_reports
    from eval.results import write_results
    from eval.runner import EvalRunner, RunConfig

    settings = load_settings()
    if str(dataset) == "feedback" and not dataset.exists():
        from bots.cli.eval_feedback import run_feedback_set

        run_feedback_set(settings, out)
        return
    if out is None:
        raise typer.BadParameter("--out is needed (a directory for the results)", param_hint="--out")
    data = load_dataset(dataset, corpus=corpus, docs=docs).sample(limit, seed)
    config = RunConfig(
        strategies=_split(strategies or settings.chunk_strategy),
        retrievers=_split(retrievers),
        answerer=answerer,
        judge=judge,
    )
    with KuraApp(settings) as kura, _progress() as progress:
        results = EvalRunner(kura, data, config, on_progress=progress).run()
    results["command"] = _command_line(
        dataset=dataset, corpus=corpus, strategies=",".join(config.strategies), retrievers=retrievers,
        answerer=answerer, judge=judge, limit=limit, seed=seed, docs=docs, out=out,
    )  # fmt: skip
    results["config"].update({"limit": limit, "seed": seed})
    write_results(results, out)
    write_reports(results, out)
    _print_table(results)
    typer.echo(f"wrote {out / 'results.json'}, {out / 'report.md'}, {out / 'report.html'}")


def _command_line(**options) -> str:
    """The run as a command someone can paste to reproduce it."""
    parts = ["kura eval run"] + [f"--{k} {v}" for k, v in options.items() if v is not None]
    return " ".join(parts)


def _print_table(results: dict) -> None:
    from eval.report import SUMMARY_COLUMNS, format_value

    header = ["strategy", "retriever", *SUMMARY_COLUMNS]
    typer.echo("  ".join(f"{h:>12}" for h in header))
    for r in results["runs"]:
        cells = [r["strategy"], r["retriever"], *(format_value(c, r["metrics"].get(c)) for c in SUMMARY_COLUMNS)]
        typer.echo("  ".join(f"{c:>12}" for c in cells))


@app.command("scorer")
def scorer(
    nli: Path = typer.Option(..., "--nli", help="NLI JSONL: sentence1 (premise), sentence2 (hypothesis), label."),
    out: Path = typer.Option(..., "--out", help="Directory for results.json and report.md."),
    fit_fraction: float = typer.Option(0.5, "--fit-fraction", help="Share of pairs used to fit the threshold."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fit / held-out split."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only this many pairs (drawn with --seed)."),
    judge: str = typer.Option("offline", "--judge", help="offline or llm."),
    dense: bool = typer.Option(False, "--dense", help="Offline scorer with the configured embedder's similarity."),
    refit: bool = typer.Option(False, "--refit", help="Refit the offline scorer's weights on the fit part first."),
) -> None:
    """Measure how well the support scorer separates entailed hypotheses from the rest (held-out figures)."""
    from core.settings import load_settings
    from eval.scorer_eval import evaluate_scorer, load_nli, make_scorer, write_scorer_results

    settings = load_settings()
    pairs = load_nli(nli, limit=limit, seed=seed)
    support_scorer, threshold = make_scorer(settings, judge, dense=dense)
    refitted = None
    if refit:
        from dataclasses import asdict

        from chat.support import OfflineSupportScorer
        from eval.scorer_eval import fit_support_model

        if judge != "offline":
            raise typer.BadParameter("--refit applies to the offline scorer")
        refitted = fit_support_model(support_scorer, pairs, fit_fraction=fit_fraction, seed=seed, source=nli.name)
        support_scorer = OfflineSupportScorer(support_scorer.embedder, model=refitted)
        typer.echo(f"refitted weights: {refitted}")
    with _progress() as progress:
        results = evaluate_scorer(
            support_scorer, pairs, configured_threshold=threshold, fit_fraction=fit_fraction, seed=seed, on_progress=progress
        )
    results["dataset"] = str(nli)
    results["refitted_model"] = asdict(refitted) if refitted else None
    write_scorer_results(results, out)
    held = results["held_out"]
    typer.echo(
        f"{results['scorer']} on {held['pairs']} held-out pairs: balanced accuracy {held['balanced_accuracy']:.3f} "
        f"at fitted threshold {results['fitted_threshold']:.3f}, AUROC {held['auroc']:.3f} "
        f"(balanced accuracy at the configured threshold {results['configured_threshold']:.2f}: "
        f"{held['balanced_accuracy_configured']:.3f})"
    )
    typer.echo(f"wrote {out / 'results.json'} and {out / 'report.md'}")


@app.command("compare")
def compare(
    a: Path = typer.Argument(..., help="Baseline run directory (or its results.json)."),
    b: Path = typer.Argument(..., help="Candidate run directory (or its results.json)."),
    samples: int = typer.Option(2000, "--samples", help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed"),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the comparison as Markdown to this file."),
) -> None:
    """Deltas B - A per run and metric, with paired-bootstrap 95% intervals and p-values."""
    from eval.compare import compare_results, comparison_markdown
    from eval.results import read_results

    rows = compare_results(read_results(a), read_results(b), samples=samples, seed=seed)
    text = comparison_markdown(rows, a, b)
    typer.echo(text)
    if out is not None:
        out.write_text(text, encoding="utf-8")


@app.command("report")
def report(run_dir: Path = typer.Argument(..., help="A run directory holding results.json.")) -> None:
    """Rebuild report.md and report.html from a run's results.json."""
    from eval.report import write_reports
    from eval.results import read_results

    write_reports(read_results(run_dir), run_dir)
    typer.echo(f"wrote {run_dir / 'report.md'} and {run_dir / 'report.html'}")
