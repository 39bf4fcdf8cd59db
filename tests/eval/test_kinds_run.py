"""`kura eval` on a question set with kinds: accuracy per kind in results.json and both reports, leaks caught."""

from __future__ import annotations

import json

import pytest

from bots.app import KuraApp
from core.settings import Settings
from eval.datasets import load_dataset
from eval.indexes import EvalIndexes
from eval.report import write_reports
from eval.runner import EvalRunner, RunConfig

ALICE, BOB = "alice@example.com", "bob@example.com"
RECORDS = [
    {"document": {"id": "leave", "title": "Leave policy", "text": "Tokyo employees get 20 days of paid leave every year.\n\n"
                  "Leave is requested in Hoshi People at least five business days ahead."}},  # fmt: skip
    {"document": {"id": "bands", "title": "Salary bands", "principals": [f"user:{ALICE}"],
                  "text": "The salary band revision code is KIRIN-26.\n\nBands apply from April."}},  # fmt: skip
    {"id": "para", "kind": "paraphrase", "question": "How many days of paid leave do Tokyo employees get?",
     "answers": ["20 days"], "relevant_document_ids": ["leave"], "asker": BOB},  # fmt: skip
    {"id": "denied", "kind": "restricted_denied", "question": "What is the salary band revision code?",
     "answers": ["KIRIN-26"], "relevant_document_ids": ["bands"], "answerable": False, "asker": BOB},  # fmt: skip
    {"id": "allowed", "kind": "restricted_allowed", "question": "What is the salary band revision code?",
     "answers": ["KIRIN-26"], "relevant_document_ids": ["bands"], "asker": ALICE},  # fmt: skip
]


@pytest.fixture
def kinded(tmp_path):
    path = tmp_path / "kinds.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n", encoding="utf-8")
    return load_dataset(path)


@pytest.fixture
def kura(tmp_path, embedder):
    with KuraApp(Settings(data_dir=tmp_path / "data"), embedder=embedder) as app:
        yield app


def _run(kura, dataset):
    config = RunConfig(strategies=("tokens",), retrievers=("bm25",), judge="none")
    return EvalRunner(kura, dataset, config).run()


def test_accuracy_per_kind_reaches_results_and_reports(kura, kinded, tmp_path):
    results = _run(kura, kinded)
    run = results["runs"][0]
    kinds = run["per_kind"]
    assert set(kinds) == {"paraphrase", "restricted_denied", "restricted_allowed"}
    assert kinds["restricted_allowed"]["correct"] == 1  # alice reads the band page and gets the code, cited
    assert kinds["restricted_denied"]["leaks"] == 0 and run["metrics"]["leaks"] == 0
    denied = next(q for q in run["per_question"] if q["id"] == "denied")
    assert denied["kind"] == "restricted_denied" and "leaked" not in denied
    assert denied["correct"] == float(denied["abstained"])
    # the denied question is not ranked: bob must not retrieve the page that holds its answer
    assert run["metrics"]["questions_with_evidence"] == 2
    md, html = write_reports(results, tmp_path / "out")
    md_text, html_text = md.read_text(encoding="utf-8"), html.read_text(encoding="utf-8")
    assert "Accuracy per question kind" in md_text and "| paraphrase | restricted_allowed | restricted_denied |" in md_text
    assert "Accuracy per question kind" in html_text and "<th>restricted_denied</th>" in html_text
    assert "1/1 (en 1/1)" in md_text


def test_a_broken_permission_filter_shows_as_a_leak_and_a_failure(kura, kinded, monkeypatch):
    real = EvalIndexes.retriever

    class IgnoresPermissions:
        """The real retriever, asked as if the asker could read everything: the bug the leak check is for."""

        def __init__(self, inner):
            self.inner = inner

        def retrieve(self, query, *, top_k, principals, mode):
            return self.inner.retrieve(query, top_k=top_k, principals=("public", f"user:{ALICE}"), mode=mode)

    monkeypatch.setattr(EvalIndexes, "retriever", lambda self, store: IgnoresPermissions(real(self, store)))
    run = _run(kura, kinded)["runs"][0]
    denied = next(q for q in run["per_question"] if q["id"] == "denied")
    assert denied["leaked"] == ["eval:bands"] and denied["correct"] == 0.0
    assert run["per_kind"]["restricted_denied"]["leaks"] == 1 and run["metrics"]["leaks"] >= 1
    assert "denied" in {f["id"] for f in run["failures"]}
