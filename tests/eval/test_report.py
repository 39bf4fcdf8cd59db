"""Reports from a hand-made results dictionary: best values highlighted, text escaped, failures drilled down."""

from __future__ import annotations

import re

from eval.report import best_values, table_rows, write_reports


def _run(strategy, retriever, recall5, p50, failures=()):
    metrics = {"recall@1": 0.5, "recall@5": recall5, "recall@10": recall5, "mrr@10": 0.6, "ndcg@10": 0.6,
               "answer_contains": 0.7, "groundedness": None, "latency_p50_ms": p50, "latency_p95_ms": p50 * 2}  # fmt: skip
    return {"strategy": strategy, "retriever": retriever, "answerer": "extractive", "metrics": metrics,
            "failures_total": len(failures), "failures": list(failures), "per_question": []}  # fmt: skip


RESULTS = {
    "created_at": "2026-01-01T00:00:00+00:00",
    "git_commit": "abc123",
    "seconds": 1.0,
    "command": "kura eval run --dataset x.json --out y",
    "dataset": {"name": "tiny", "path": "x.json", "fingerprint": "f", "corpus": "article", "language": "en",
                "documents": 2, "questions": 2, "unanswerable": 0, "notes": []},  # fmt: skip
    "config": {"answerer": "extractive", "scorer": "offline-support-v2", "support_threshold": 0.5},
    "settings": {"embedding_model": "all-MiniLM-L6-v2"},
    "indexes": {"tokens": {"chunks": 10, "mean_tokens": 150.0, "mean_chars": 600.0, "offset_errors": 0,
                           "chunker": "tokens/200", "cached": False}},  # fmt: skip
    "questions": {"q1": {"question": "Is <script>alert(1)</script> safe?", "answers": ["no"], "answerable": True}},
    "runs": [
        _run("tokens", "bm25", 0.9, 1.0),
        _run("tokens", "dense", 0.4, 9.0, failures=[{
            "id": "q1", "rank": None, "abstained": False, "answer": "Maybe.",
            "retrieved": [{"title": "Doc A", "text": "irrelevant text", "relevant": False, "start": 0}], "support": None}]),  # fmt: skip
    ],
}


def test_best_value_per_column_is_the_highest_or_the_lowest_latency():
    best = best_values(RESULTS["runs"])
    assert best["recall@5"] == 0.9 and best["latency_p50_ms"] == 1.0
    assert "recall@1" not in best  # all runs tie: nothing to highlight
    rows = table_rows(RESULTS)
    assert [c["best"] for c in rows[0]["cells"]][1] and not [c["best"] for c in rows[1]["cells"]][1]


def test_html_and_markdown_reports(tmp_path):
    md_path, html_path = write_reports(RESULTS, tmp_path)
    html = html_path.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert re.search(r'<td class="num best">0\.900</td>', html)
    assert "Doc A" in html and "not in top 10" in html and "abc123" in html
    assert html.count('src="data:image/png;base64,') == 3
    md = md_path.read_text(encoding="utf-8")
    assert "| tokens | bm25 | 0.500 | **0.900** |" in md
    assert "Reproduce: `kura eval run --dataset x.json --out y`" in md
