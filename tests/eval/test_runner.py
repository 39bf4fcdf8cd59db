"""End to end on tiny datasets: index per strategy (cached), retrieve in every mode, answer, score, report."""

from __future__ import annotations

import base64
import json
import re

import pytest

from bots.app import KuraApp
from core.errors import EvalError
from core.settings import Settings
from eval.datasets import load_dataset
from eval.report import write_reports
from eval.results import read_results, write_results
from eval.runner import EvalRunner, RunConfig

ISSUE_METRICS = (
    "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "answer_em", "answer_f1", "answer_contains",
    "correct_abstain", "groundedness", "citation_precision", "abstain_rate", "latency_p50_ms",
)  # fmt: skip


@pytest.fixture
def kura(tmp_path, embedder):
    with KuraApp(Settings(data_dir=tmp_path / "data"), embedder=embedder) as app:
        yield app


def test_a_run_compares_strategies_and_retrievers_and_writes_results(kura, tiny_squad, tmp_path):
    dataset = load_dataset(tiny_squad, corpus="article")
    config = RunConfig(strategies=("tokens", "tokens:32"), retrievers=("bm25", "dense", "hybrid"))
    seen = []
    results = EvalRunner(kura, dataset, config, on_progress=lambda *a: seen.append(a)).run()
    assert [(r["strategy"], r["retriever"]) for r in results["runs"]] == [
        (s, m) for s in ("tokens", "tokens:32") for m in ("bm25", "dense", "hybrid")
    ]
    for run in results["runs"]:
        assert set(ISSUE_METRICS) <= set(run["metrics"])
        assert run["answerer"] == "extractive" and len(run["per_question"]) == 4
    bm25 = results["runs"][0]["metrics"]
    # every answerable question's answer sentence is in the top chunk of this two-article corpus
    assert bm25["recall@5"] == 1.0 and bm25["answer_contains"] == 1.0
    assert bm25["correct_abstain"] is not None  # the dataset has an unanswerable question
    assert 0.0 <= bm25["groundedness"] <= 1.0
    assert results["indexes"]["tokens:32"]["chunks"] > results["indexes"]["tokens"]["chunks"]
    assert results["indexes"]["tokens"]["offset_errors"] == 0  # the chunker's start_char locates every chunk
    assert any(label == "tokens x bm25" and done == total for label, done, total in seen)
    # the unanswerable question is a failure exactly when it was answered instead of abstained
    rw3 = next(q for q in results["runs"][0]["per_question"] if q["id"] == "rw3")
    assert bm25["correct_abstain"] == float(rw3["abstained"])
    assert ("rw3" in {f["id"] for f in results["runs"][0]["failures"]}) == (not rw3["abstained"])

    out = tmp_path / "run"
    write_results(results, out)
    md, html = write_reports(read_results(out), out)
    page = html.read_text(encoding="utf-8")
    assert "<table" in page and "tokens:32" in page and "failed questions" in page
    images = re.findall(r'<img[^>]+src="([^"]+)"', page)
    assert len(images) == 3 and all(src.startswith("data:image/png;base64,") for src in images)
    assert base64.b64decode(images[0].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in page and "https://" not in page  # self-contained
    assert (out / "charts" / "recall_at_k.png").exists() and "charts/latency.png" in md.read_text(encoding="utf-8")
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["dataset"]["corpus"] == "article"


def test_a_second_run_reuses_the_cached_index(kura, tiny_jsquad):
    dataset = load_dataset(tiny_jsquad)
    config = RunConfig(strategies=("tokens",), retrievers=("bm25",), judge="none")
    first = EvalRunner(kura, dataset, config).run()
    embedded = kura.embedder.texts_embedded
    second = EvalRunner(kura, dataset, config).run()
    assert kura.embedder.texts_embedded == embedded  # nothing re-embedded
    assert second["indexes"]["tokens"]["cached"] and not first["indexes"]["tokens"]["cached"]
    assert second["runs"][0]["metrics"]["recall@5"] == first["runs"][0]["metrics"]["recall@5"] == 1.0
    assert first["runs"][0]["metrics"]["groundedness"] is None  # judge "none"
    assert first["dataset"]["language"] == "ja"
    # eval indexes live under the cache, never in the serving index
    assert (kura.settings.cache_dir / "eval").is_dir() and not kura.settings.index_dir.exists()


def test_bad_run_configurations_are_clear_errors(kura, tiny_squad):
    with pytest.raises(EvalError, match="unknown retriever mode"):
        RunConfig(strategies=("tokens",), retrievers=("bm25", "fuzzy"))
    with pytest.raises(EvalError, match="unknown judge"):
        RunConfig(strategies=("tokens",), judge="oracle")
    dataset = load_dataset(tiny_squad)
    with pytest.raises(EvalError, match="unknown chunking strategy 'sentences'"):
        EvalRunner(kura, dataset, RunConfig(strategies=("sentences",))).run()
    with pytest.raises(EvalError, match="bad strategy"):
        EvalRunner(kura, dataset, RunConfig(strategies=("tokens:big",))).run()


def test_llm_answerer_and_llm_judge_through_the_openai_client(tmp_path, embedder, tiny_squad):
    """``--answerer llm --judge llm`` against the loopback fake: answers cite [1], the judge scores every claim."""
    from tests.fakes.fake_openai import FakeOpenAI, Reply

    def respond(request):
        user = request["messages"][-1]["content"]
        if "Answer Yes or No" in user:  # a judge verdict: the claim is supported
            return Reply("Yes", token_logprobs=[("Yes", -0.05, {"No": -3.0})])
        if "Claims:" in user:  # decomposition: the sentence is one claim
            sentence = user.split("Sentence:", 1)[1].split("\n", 1)[0].strip()
            return Reply(f"- {sentence}")
        # the answer: the first sentence of document 1, cited
        first_document = user.split("<document", 1)[1].split(">", 1)[1]
        first_sentence = first_document.strip().split(". ")[0].rstrip(".") + "."
        return Reply(f"{first_sentence} [1]")

    with FakeOpenAI(responder=respond) as fake:
        settings = Settings(data_dir=tmp_path / "data", llm_base_url=fake.base_url, llm_api_key=fake.api_key,
                            llm_model="fake-gpt", llm_max_retries=0)  # fmt: skip
        with KuraApp(settings, embedder=embedder) as kura:
            dataset = load_dataset(tiny_squad)
            config = RunConfig(strategies=("tokens",), retrievers=("bm25",), answerer="llm", judge="llm")
            results = EvalRunner(kura, dataset, config).run()
        verdicts = [r for r in fake.completion_requests if "Answer Yes or No" in r["messages"][-1]["content"]]
    run = results["runs"][0]
    assert run["answerer"] == "llm" and results["config"]["scorer"].startswith("llm-judge:fake-gpt:judge/v1@")
    assert verdicts and all(r["logprobs"] and r["top_logprobs"] == 20 for r in verdicts)
    assert run["metrics"]["groundedness"] == 1.0  # every claim judged supported with P(yes) ~0.95
    assert run["metrics"]["citation_precision"] == 1.0
    assert run["judge_verdicts"]["logprob"] == len(verdicts) and run["judge_verdicts"]["unparseable"] == 0
    assert run["answered_by"] == {"llm": len(dataset.examples)} and run["metrics"]["fallback_rate"] == 0.0
    assert not run["mostly_fallback"]


def test_a_run_with_the_endpoint_down_is_reported_as_fallback_not_as_llm(tmp_path, embedder, tiny_squad):
    from eval.report import write_reports
    from tests.fakes.fake_openai import FakeOpenAI

    with FakeOpenAI() as fake:
        base_url, key = fake.base_url, fake.api_key
    # The fake is stopped: its port refuses connections, like an endpoint that is down.
    settings = Settings(data_dir=tmp_path / "data", llm_base_url=base_url, llm_api_key=key, llm_model="fake-gpt",
                        llm_max_retries=0)  # fmt: skip
    with KuraApp(settings, embedder=embedder) as kura:
        dataset = load_dataset(tiny_squad)
        config = RunConfig(strategies=("tokens",), retrievers=("bm25",), answerer="llm", judge="offline")
        results = EvalRunner(kura, dataset, config).run()
    run = results["runs"][0]
    # Every question the LLM was asked fell back; an abstention before any call is the LLM answerer's own.
    fell_back = run["answered_by"]["extractive"]
    assert set(run["answered_by"]) <= {"extractive", "llm"} and fell_back > len(dataset.examples) / 2
    assert run["mostly_fallback"] and run["fallbacks"] == fell_back
    assert run["metrics"]["fallback_rate"] == fell_back / len(dataset.examples)
    assert "could not connect" in run["fallback_notices"][0]["notice"]
    assert all(q.get("fallback", False) == (q["by"] == "extractive") for q in run["per_question"])
    md, html = write_reports(results, tmp_path / "out")
    text = md.read_text(encoding="utf-8")
    assert "mostly fallbacks" in text and f"{run['metrics']['fallback_rate']:.0%} fell back" in text
    assert "mostly fallbacks" in html.read_text(encoding="utf-8")


def test_every_registered_strategy_is_evaluated_by_name(kura, tiny_squad):
    from ingest.chunking import STRATEGIES

    dataset = load_dataset(tiny_squad)
    names = tuple(sorted(STRATEGIES))
    results = EvalRunner(kura, dataset, RunConfig(strategies=names, retrievers=("bm25",), judge="none")).run()
    assert [r["strategy"] for r in results["runs"]] == list(names)
    for name in names:
        assert results["indexes"][name]["offset_errors"] == 0, name  # start_char locates every span chunk
    if "summary" in names:  # one synthetic summary chunk per document, not a span of it
        assert results["indexes"]["summary"]["synthetic"] == len(dataset.documents)
