"""The report's charts as PNG bytes (matplotlib, headless): recall@k, groundedness vs chunk size, latency."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only

import matplotlib.pyplot as plt  # noqa: E402

_RECALL_KS = ("recall@1", "recall@5", "recall@10")
_COLOURS = {"bm25": "#4C72B0", "dense": "#DD8452", "hybrid": "#55A868"}


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _label(run: dict) -> str:
    return f"{run['strategy']}\n{run['retriever']}"


def recall_chart(runs: list[dict]) -> bytes:
    """Grouped bars: recall@1/5/10 for every strategy x retriever run."""
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(runs) + 2), 4.2))
    width = 0.8 / len(_RECALL_KS)
    shades = ("#9ecae1", "#4292c6", "#08519c")
    for i, metric in enumerate(_RECALL_KS):
        values = [r["metrics"].get(metric) or 0.0 for r in runs]
        positions = [x + (i - 1) * width for x in range(len(runs))]
        bars = ax.bar(positions, values, width, label=metric, color=shades[i])
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(range(len(runs)), [_label(r) for r in runs], fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("share of questions")
    ax.set_title("Recall@k by chunking strategy and retriever")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def chunk_size_chart(runs: list[dict], indexes: dict) -> bytes:
    """Groundedness and answer containment against the strategies' mean chunk size, one line per retriever."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric, title in (
        (axes[0], "groundedness", "Groundedness (supported sentence share)"),
        (axes[1], "answer_contains", "Answer contains a gold answer"),
    ):
        plotted = False
        for retriever in dict.fromkeys(r["retriever"] for r in runs):
            points = sorted(
                (indexes.get(r["strategy"], {}).get("mean_tokens", 0.0), r["metrics"].get(metric), r["strategy"])
                for r in runs
                if r["retriever"] == retriever and r["metrics"].get(metric) is not None
            )
            if not points:
                continue
            xs, ys, _ = zip(*points)
            plotted = True
            ax.plot(xs, ys, marker="o", label=retriever, color=_COLOURS.get(retriever), alpha=0.85)
        sizes = sorted({(ix.get("mean_tokens", 0.0), name) for name, ix in indexes.items()})
        if sizes:
            # Strategies name the x positions, so overlapping lines need no labels of their own.
            # Every other label one step lower: strategies of nearly equal size would print over each other.
            labels = [("\n\n" if i % 2 else "") + f"{name}\n{x:.0f}" for i, (x, name) in enumerate(sizes)]
            ax.set_xticks([x for x, _ in sizes], labels, fontsize=7)
        ax.set_xlabel("strategy and its mean chunk size (tokens)")
        ax.set_ylim(0, 1.05)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        if plotted:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "not measured in this run", ha="center", va="center", transform=ax.transAxes, color="#888")
    return _png(fig)


def latency_chart(runs: list[dict]) -> bytes:
    """Query latency p50 and p95 (ms) per run."""
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 * len(runs) + 2), 3.8))
    width = 0.38
    for i, (metric, colour) in enumerate((("latency_p50_ms", "#74c476"), ("latency_p95_ms", "#238b45"))):
        values = [r["metrics"].get(metric) or 0.0 for r in runs]
        bars = ax.bar([x + (i - 0.5) * width for x in range(len(runs))], values, width, label=metric[8:11], color=colour)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(range(len(runs)), [_label(r) for r in runs], fontsize=8)
    ax.set_yscale("log")  # BM25 answers in milliseconds, a query embedding can take a hundred times longer
    ax.set_ylabel("ms per query (log scale)")
    ax.set_title("Retrieval latency (query embedding included)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def all_charts(results: dict) -> dict[str, bytes]:
    """name -> PNG bytes of every chart the report shows."""
    runs = results["runs"]
    return {
        "recall_at_k": recall_chart(runs),
        "chunk_size": chunk_size_chart(runs, results.get("indexes", {})),
        "latency": latency_chart(runs),
    }
