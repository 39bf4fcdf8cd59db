"""Kura's LLM consumers against a real OpenAI-compatible server (see conftest.py for how to run them).

With a base model (no chat template) the answers are not the point: these check the plumbing that the fake
server cannot prove — streaming, logprobs in a foreign vocabulary, template echoes kept out of answers and
summaries, and a server killed mid-answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from chat.llm_answerer import LLMAnswerer
from chat.llm_client import LLMClient
from chat.llm_output import control_tokens
from core.settings import Settings
from core.types import Answer
from tests.chat.conftest import CORPUS
from tests.real_llm.conftest import API_KEY, BASE_URL, report

pytestmark = pytest.mark.real_llm

QUESTION = "How many days per week can employees work remotely?"
REPO = Path(__file__).resolve().parents[2]


def settings(model: str, base_url: str = BASE_URL, **extra) -> Settings:
    values = {
        "llm_base_url": base_url, "llm_api_key": API_KEY or None, "llm_model": model, "llm_max_tokens": 120,
        "llm_first_token_timeout_s": 120.0, "llm_idle_timeout_s": 60.0, "llm_max_retries": 0,
    }  # fmt: skip
    return Settings(**{**values, **extra})


def test_ask(real_model):
    answer = LLMAnswerer(settings(real_model)).answer(QUESTION, CORPUS)
    assert isinstance(answer, Answer) and not control_tokens(answer.text)
    assert answer.answerer == "llm", answer.notice  # the LLM answered (or abstained), it did not fall back
    report("ask", answerer=answer.answerer, abstained=answer.abstained, notice=answer.notice,
           llm_ms=round(answer.timings_ms.get("llm", 0)), text=answer.text[:200])


def test_stream(real_model):
    started = time.perf_counter()
    first_delta_s = None
    deltas = []
    for item in LLMAnswerer(settings(real_model)).stream(QUESTION, CORPUS):
        if isinstance(item, str):
            first_delta_s = first_delta_s or time.perf_counter() - started
            deltas.append(item)
        else:
            final = item
    assert not any(control_tokens(d) for d in deltas) and all(d.strip() in final.text for d in deltas)
    report("stream", deltas=len(deltas), first_delta_s=first_delta_s, answerer=final.answerer,
           first_token_ms=round(final.timings_ms.get("llm_first_token", 0)), abstained=final.abstained)


def test_logprobs_come_back_in_the_servers_own_vocabulary(real_model):
    client = LLMClient.from_settings(settings(real_model))
    completion = client.complete([{"role": "user", "content": "Is Paris in France? Answer Yes or No."}],
                                 max_tokens=3, logprobs=True, top_logprobs=20)
    assert completion.logprobs, "the server returned no logprobs (llama.cpp needs logits_all)"
    top = [t.token for t in completion.logprobs[0].top_logprobs]
    report("logprobs", returned=True, alternatives=len(top), first_tokens=top[:8])


def test_judge_parses_nearly_every_verdict(real_model):
    from eval.judge import LLMJudge

    judge = LLMJudge(settings(real_model, eval_judge_max_claims=1))
    claims = [
        ("Employees may work remotely up to 3 days per week.", 0), ("Remote work needs a manager's approval.", 0),
        ("Employees may work remotely 5 days per week.", 0), ("The VPN client is called Hoshi Connect.", 1),
        ("Expenses must be claimed within 30 days.", 2), ("Expenses can be claimed within a year.", 2),
        ("Lunch is free on Fridays.", 0), ("The office is closed on Mondays.", 1),
    ]  # fmt: skip
    for claim, source in claims * 3:
        judge.verdict(claim, [CORPUS[source].chunk.text])
    counts = dict(judge.verdicts)
    parsed = (counts["logprob"] + counts["text"]) / sum(counts.values())
    report("judge", verdicts=counts, parse_rate=round(parsed, 3), logprobs_supported=judge.logprobs_supported)
    assert parsed >= 0.95


def test_summaries_never_index_template_text(real_model, tmp_path):
    from ingest.chunking.base import ChunkingConfig, create_chunker
    from ingest.connectors.sample import SampleConnector
    from ingest.summarize_llm import LLMSummarizer

    summarizer = LLMSummarizer.from_settings(settings(real_model, data_dir=tmp_path, summary_max_tokens=60))
    chunker = create_chunker("summary", ChunkingConfig(), summarizer=summarizer)
    limit = int(os.environ.get("KURA_TEST_LLM_DOCS", "8"))
    documents = [d for batch in SampleConnector().load() for d in batch.documents][:limit]
    chunks = [c for d in documents for c in chunker.split(d)]
    leaked = [c.text[:80] for c in chunks if control_tokens(c.text)]
    report("summarizer", documents=len(documents), **summarizer.stats(), chunks_with_template_text=len(leaked))
    assert not leaked


def _own_server() -> tuple[subprocess.Popen | None, dict]:
    """A second server this test may kill (the shared one stays up), started by the bench script."""
    out = subprocess.run([str(REPO / "bench" / "llm_server.sh"), "serve"], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.skip(f"could not start a server to kill: {out.stderr.strip()[-200:]}")
    return None, json.loads(out.stdout.strip().splitlines()[-1])


def test_a_server_killed_mid_answer_gives_a_cited_extractive_answer_within_5s(real_model):
    _, server = _own_server()
    try:
        answerer = LLMAnswerer(settings(real_model, base_url=server["base_url"], llm_max_tokens=400))
        stream = answerer.stream(QUESTION, CORPUS)
        # Kill once the server is computing: a little after the request went out (the first token needs seconds).
        import threading

        killed_at: list[float] = []

        def kill():
            time.sleep(3.0)
            os.kill(server["pid"], signal.SIGKILL)
            killed_at.append(time.perf_counter())

        threading.Thread(target=kill, daemon=True).start()
        final = [item for item in stream if isinstance(item, Answer)][-1]
        after_kill_s = time.perf_counter() - killed_at[0] if killed_at else None
    finally:
        try:
            os.kill(server["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    report("kill", answerer=final.answerer, cited=bool(final.sources), seconds_after_kill=after_kill_s,
           notice=final.notice)
    assert killed_at and final.answerer == "extractive" and final.sources and all(s.citations for s in final.sentences)
    assert after_kill_s < 5.0
