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

# A 270M model on one shared CPU thread reads ~7-30 prompt tokens a second: far past the suite's 300 s default.
pytestmark = [pytest.mark.real_llm, pytest.mark.timeout(1800)]

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


def _top(entry, n: int = 8) -> list[tuple[str, float]]:
    return [(t.token, round(t.logprob, 2)) for t in entry.top_logprobs][:n]


def test_logprobs_come_back_in_the_servers_own_vocabulary(real_model):
    client = LLMClient.from_settings(settings(real_model))
    # Streamed (the client's default) with a prompt any model continues: logprobs arrive with each token.
    streamed = client.complete([{"role": "user", "content": "The capital of France is"}],
                               max_tokens=3, logprobs=True, top_logprobs=20)
    assert streamed.text and streamed.logprobs, "the server returned no logprobs for the tokens it wrote"
    # A reply whose first token is end-of-turn has no token to carry logprobs (llama-cpp-python sends none).
    question = client.complete([{"role": "user", "content": "Is Paris in France? Answer Yes or No."}],
                               max_tokens=3, logprobs=True, top_logprobs=20)
    # The judge's completion prompt (base models): what the model puts first after "Answer:".
    from eval.judge import LLMJudge

    judge = LLMJudge(settings(real_model))
    prompt = "\n\n".join(m["content"].strip() for m in judge._completion_prompt.messages(
        documents=f"<document>\n{CORPUS[0].chunk.text}\n</document>", claim="Employees may work remotely 5 days per week."))
    answer = client.complete_text(prompt, max_tokens=2, temperature=0.0, logprobs=20)
    assert answer.logprobs
    report("logprobs", streamed_returned=len(streamed.logprobs), alternatives=len(streamed.logprobs[0].top_logprobs),
           streamed_text=streamed.text, streamed_top=_top(streamed.logprobs[0]),
           yes_no_chat_text=question.text, yes_no_chat_logprobs=len(question.logprobs or []),
           yes_no_chat_top=_top(question.logprobs[0]) if question.logprobs else None,
           completion_text=answer.text, completion_top=_top(answer.logprobs[0]))


# (claim, source document, whether the document supports it): labels to see how the model judges, not a target.
JUDGE_CLAIMS = [
    ("Employees may work remotely up to 3 days per week.", 0, True),
    ("Remote work requests go to the manager.", 0, True),
    ("Employees may work remotely 5 days per week.", 0, False),
    ("The VPN client is called Hoshi Connect.", 1, True),
    ("Expenses must be claimed within 30 days.", 2, False),
    ("Expense reports over 50,000 yen need a department head's approval.", 2, True),
    ("Lunch is free on Fridays.", 0, False),
    ("The office is closed on Mondays.", 1, False),
]


def test_judge_parses_nearly_every_verdict(real_model):
    from eval.judge import LLMJudge

    judge = LLMJudge(settings(real_model, eval_judge_max_claims=1))  # the default style: auto
    agree = 0
    # Grouped by document: the prompts then share their beginning, which llama.cpp does not compute again.
    for claim, source, supported in sorted(JUDGE_CLAIMS * 3, key=lambda c: c[1]):
        agree += (judge.verdict(claim, [CORPUS[source].chunk.text]) >= judge.threshold) == supported
    counts = dict(judge.verdicts)
    parsed = (sum(counts.values()) - counts["unparseable"]) / sum(counts.values())
    report("judge", verdicts=counts, parse_rate=round(parsed, 3), agreement_with_labels=round(agree / len(JUDGE_CLAIMS) / 3, 3),
           logprobs_supported=judge.logprobs_supported, completions_supported=judge.completions_supported,
           calls=judge.calls)
    assert parsed >= 0.95


def test_summaries_never_index_template_text(real_model, tmp_path):
    from ingest.chunking.base import ChunkingConfig, create_chunker
    from ingest.connectors.sample import SampleConnector
    from ingest.summarize_llm import LLMSummarizer

    # A whole document is one prompt: at the measured 17-49 prompt tokens/s (1 thread, loaded 2-core VM) a
    # 2,000-token document needs ~2 min before the first token, past the other tests' 120 s.
    summarizer = LLMSummarizer.from_settings(settings(real_model, data_dir=tmp_path, summary_max_tokens=60,
                                                      llm_first_token_timeout_s=600.0))
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
