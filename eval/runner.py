"""Runs an evaluation: every chunking strategy x retriever mode over a dataset, answered and scored.

For each strategy the dataset gets its own cached index (``eval/indexes.py``);
for each retriever mode every question is retrieved (top 10, timed), answered
from the top ``settings.top_k`` chunks, and scored: ranking metrics (ranx),
span overlap, answer EM/F1/containment, abstention, and groundedness with the
chosen scorer (offline, the LLM judge, or none).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.errors import EvalError, LLMUnavailableError
from core.types import PUBLIC, Answer, ScoredChunk
from eval.datasets import EvalDataset, EvalExample
from eval.groundedness import GROUNDEDNESS_METRICS, AnswerSupport, assess_abstention, assess_answer
from eval.indexes import EvalIndexes
from chat.rewrite import document_language
from eval.kinds import judge_outcome, readable_by
from eval.metrics import (
    chunk_satisfies,
    contains_answer,
    exact_match,
    f1_score,
    first_relevant_rank,
    ranked_items,
    ranking_metrics,
    span_overlap,
)
from eval.results import RESULTS_VERSION, QuestionResult, answer_integrity, run_metrics, run_record
from retrieval.hybrid import MODES
from retrieval.tokenize import has_japanese

logger = logging.getLogger(__name__)

RETRIEVE_K = 10  # deep enough for recall@10, MRR@10 and nDCG@10
JUDGES = ("offline", "llm", "none")
ANSWERERS = ("extractive", "llm")
# Settings recorded with every run: what changes the figures (never secrets).
RECORDED_SETTINGS = (
    "embedding_model", "chunk_tokens", "chunk_overlap", "chunk_min_tokens", "tokenizer_encoding", "top_k",
    "prefetch_k", "dense_weight", "bm25_weight", "rrf_k", "unk_threshold", "bm25_k1", "bm25_b", "abstain_threshold",
    "answer_sentences", "support_threshold", "llm_model", "eval_judge_model", "eval_judge_prompt_version",
    "eval_judge_threshold", "cross_language", "cross_language_offline",
)  # fmt: skip

Progress = Callable[[str, int, int], None]  # (label, done, total)


@dataclass(frozen=True)
class RunConfig:
    strategies: tuple[str, ...]
    retrievers: tuple[str, ...] = MODES
    answerer: str = "extractive"
    judge: str = "offline"

    def __post_init__(self) -> None:
        if not self.strategies:
            raise EvalError("name at least one chunking strategy")
        bad = [r for r in self.retrievers if r not in MODES]
        if bad or not self.retrievers:
            raise EvalError(f"unknown retriever mode(s) {bad}: use {', '.join(MODES)}")
        if self.answerer not in ANSWERERS:
            raise EvalError(f"unknown answerer {self.answerer!r}: use {' or '.join(ANSWERERS)}")
        if self.judge not in JUDGES:
            raise EvalError(f"unknown judge {self.judge!r}: use {', '.join(JUDGES)}")


class EvalRunner:
    """Evaluates one dataset under a RunConfig with the parts of a KuraApp."""

    def __init__(self, kura, dataset: EvalDataset, config: RunConfig, *, on_progress: Progress | None = None) -> None:
        self.kura = kura
        self.settings = kura.settings
        self.dataset = dataset
        self.config = config
        self.on_progress = on_progress or (lambda label, done, total: None)
        self.indexes = EvalIndexes(kura, dataset)
        self.document_principals = {d.id: d.principals for d in dataset.documents}  # for the leak check
        # Cross-language retrieval only where the corpus has documents in more than one language.
        self.languages = {document_language(d.text) for d in dataset.documents}
        self.answerer = self._answerer(config.answerer)
        self.scorer, self.threshold = self._scorer(config.judge)

    def _answerer(self, name: str):
        if name == "extractive":
            return self.kura.extractive
        return self.kura.llm  # a ConfigError names the setting when no endpoint is configured

    def _scorer(self, judge: str):
        if judge == "none":
            return None, 0.0
        if judge == "llm":
            from eval.judge import LLMJudge

            return LLMJudge(self.settings), self.settings.eval_judge_threshold
        from chat.support import OfflineSupportScorer

        return OfflineSupportScorer(), self.settings.support_threshold

    def run(self) -> dict:
        """Evaluate every strategy x retriever; returns the results dictionary (see eval/results.py)."""
        started = time.perf_counter()
        runs, indexes = [], {}
        documents = len(self.dataset.documents)
        for strategy in self.config.strategies:
            label = f"indexing {strategy}"
            self.on_progress(label, 0, documents)
            store, chunk_stats = self.indexes.build(
                strategy, on_progress=lambda stats, label=label: self.on_progress(label, stats.documents_seen, documents)
            )
            indexes[strategy] = chunk_stats
            try:
                # The index's own BM25 encoder counts term rarity for the answerer, whatever wraps the retriever.
                self._rarity = (store, self.indexes.sparse_encoder(store))
                retriever = self.kura.with_cross_language(self.indexes.retriever(store), self.languages)
                for mode in self.config.retrievers:
                    runs.append(self._run_one(strategy, mode, retriever))
            finally:
                store.close()
        return self._results(runs, indexes, time.perf_counter() - started)

    def _run_one(self, strategy: str, mode: str, retriever) -> dict:
        label = f"{strategy} x {mode}"
        examples = self.dataset.examples
        questions: list[QuestionResult] = []
        assessments: list[AnswerSupport] = []
        rankings: dict[str, list[str]] = {}
        verdicts_before = dict(getattr(self.scorer, "verdicts", {}))
        for i, example in enumerate(examples):
            self.on_progress(label, i, len(examples))
            t0 = time.perf_counter()
            hits = retriever.retrieve(example.question, top_k=RETRIEVE_K, principals=self._principals(example), mode=mode)
            latency = (time.perf_counter() - t0) * 1000
            t1 = time.perf_counter()
            answer = self.answerer.answer(example.question, hits[: self.settings.top_k], **self._answer_options(example))
            answer_ms = (time.perf_counter() - t1) * 1000
            items = ranked_items(example, [h.chunk for h in hits])
            rankings[example.id] = items
            result = self._question(example, hits, answer, items, latency, answer_ms)
            if self.scorer is not None and not answer.abstained:
                result.support = self._assess(answer, hits)
                if result.support is not None:
                    assessments.append(result.support)
                    result.grounded = result.support.supported_fraction
            elif self.scorer is not None:
                result.abstain_justified = self._assess_abstention(example, hits)
            questions.append(result)
        self.on_progress(label, len(examples), len(examples))
        # An unanswerable question with a gold document (restricted, asked by someone who may not read it) is
        # not ranked: its asker must not retrieve that document.
        per_question = ranking_metrics(rankings, {e.id: len(e.evidence) if e.answerable else 0 for e in examples})
        with_evidence = [q for q in questions if q.has_evidence]  # the order ranking_metrics reports in
        for metric, values in per_question.items():
            for question, value in zip(with_evidence, values):
                question.ranking[metric] = value
        metrics = run_metrics(questions, assessments)
        record = run_record(strategy, mode, self.answerer.name, self.config.judge, questions, metrics)
        record.update(answer_integrity(questions))
        self._judge_integrity(record, verdicts_before)
        return record

    def _judge_integrity(self, record: dict, before: dict) -> None:
        """The LLM judge's verdict paths for this run; its groundedness withheld when most were unparseable."""
        from eval.judge import verdict_refusal

        after = getattr(self.scorer, "verdicts", None)
        if after is None:
            return
        # The verdicts this run's questions took (the judge is shared by every run of the eval).
        counts = {path: after[path] - before.get(path, 0) for path in after}
        record["judge_verdicts"] = counts
        refusal = verdict_refusal(counts)
        if refusal:
            logger.warning("%s x %s: %s", record["strategy"], record["retriever"], refusal)
            record["groundedness_refused"] = refusal
            record["metrics"].update(dict.fromkeys(GROUNDEDNESS_METRICS))

    def _answer_options(self, example: EvalExample) -> dict:
        """The extractive answerer weighs missing question terms by their rarity in this eval index (as `ask` does)."""
        if self.answerer.name != "extractive":
            return {}
        from chat.answerability import StoreTermStats

        store, encoder = self._rarity
        return {"term_stats": StoreTermStats(store, encoder, self._principals(example))}

    def _principals(self, example: EvalExample) -> tuple[str, ...]:
        """Ask as the asker: with the corpus's own directory where it has one, else Kura's identity store."""
        if not example.asker:
            return (PUBLIC,)
        return self.dataset.principals_for(example.asker) or self.kura.principals_for(example.asker)

    def _question(self, example: EvalExample, hits: list[ScoredChunk], answer: Answer, items, latency, answer_ms):
        golds = list(example.answers) or ([example.reference_answer] if example.reference_answer else [])
        # Per question: a mixed corpus (the sample company writes English and Japanese) has both kinds.
        language = "ja" if has_japanese(" ".join([example.question, *golds])) else "en"
        prediction = "" if answer.abstained else " ".join(s.text for s in answer.sentences) or answer.text
        result = QuestionResult(
            id=example.id,
            answerable=example.answerable,
            has_evidence=bool(example.evidence) and example.answerable,
            rank=first_relevant_rank(items),
            latency_ms=latency,
            answer_ms=answer_ms,
            abstained=answer.abstained,
            span=span_overlap(example, [h.chunk for h in hits]),
            answer_text=answer.text,
            answered_by=answer.answerer,
            # The configured answerer did not answer: an LLM run's extractive fallback (its notice says why).
            fallback=answer.answerer != self.answerer.name,
            notice=answer.notice,
            retrieved=[
                {
                    "title": h.chunk.title,
                    "start": h.chunk.start_char,
                    "text": " ".join(h.chunk.text.split())[:200],
                    "relevant": any(chunk_satisfies(e, h.chunk) for e in example.evidence),
                }
                for h in hits[:3]
            ],
        )
        if example.answerable and golds:
            result.em = exact_match(prediction, golds, language)
            result.f1 = f1_score(prediction, golds, language)
            result.contains = contains_answer(prediction, list(example.answers), language) if example.answers else None
        outcome = judge_outcome(example, answer, result.contains, readable_by(self._principals(example), self.document_principals))
        result.kind, result.correct, result.leaked = example.kind, outcome.correct, outcome.leaked
        result.language = "ja" if has_japanese(example.question) else "en"
        return result

    def _assess(self, answer: Answer, hits: list[ScoredChunk]) -> AnswerSupport | None:
        try:
            return assess_answer(answer, [h.chunk for h in hits[: self.settings.top_k]], self.scorer, self.threshold)
        except LLMUnavailableError as exc:
            # One failed judge call must not throw away a long run: the answer goes unscored.
            logger.warning("groundedness not scored for one answer: %s", exc)
            return None

    def _assess_abstention(self, example: EvalExample, hits: list[ScoredChunk]) -> float | None:
        try:
            golds = list(example.answers) or ([example.reference_answer] if example.reference_answer else [])
            chunks = [h.chunk for h in hits[: self.settings.top_k]]
            return assess_abstention(example.question, golds, example.answerable, chunks, self.scorer, self.threshold)
        except LLMUnavailableError as exc:
            logger.warning("abstention not judged for one question: %s", exc)
            return None

    def _results(self, runs: list[dict], indexes: dict, seconds: float) -> dict:
        d = self.dataset
        return {
            "version": RESULTS_VERSION,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "seconds": round(seconds, 1),
            "dataset": {
                "name": d.name,
                "path": str(d.path),
                "fingerprint": d.fingerprint,
                "corpus": d.corpus_mode,
                "language": d.language,
                "documents": len(d.documents),
                "questions": len(d.examples),
                "unanswerable": sum(not e.answerable for e in d.examples),
                "notes": d.notes,
            },
            "config": {
                "strategies": list(self.config.strategies),
                "retrievers": list(self.config.retrievers),
                "answerer": self.config.answerer,
                "judge": self.config.judge,
                "scorer": getattr(self.scorer, "name", None),
                "support_threshold": self.threshold if self.scorer is not None else None,
                "retrieve_k": RETRIEVE_K,
                "document_languages": sorted(self.languages),
            },
            "settings": {k: getattr(self.settings, k) for k in RECORDED_SETTINGS if hasattr(self.settings, k)},
            "indexes": {name: asdict(stats) for name, stats in indexes.items()},
            "questions": {
                e.id: {"question": e.question, "answers": list(e.answers)[:3], "answerable": e.answerable, "label": e.label}
                for e in d.examples
            },
            "runs": runs,
        }


def git_commit(repo: Path | None = None) -> str | None:
    """The commit the code ran from (with ``-dirty`` when there were uncommitted changes); None outside git."""
    cwd = repo or Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
