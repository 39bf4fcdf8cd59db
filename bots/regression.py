"""The feedback regression set: rated answers, checked again against an index.

Every rated answer in the feedback store joins the set as it is rated (the set
is read from the store each time, so nothing has to be exported):

- **helpful** answer: the documents it cited must still be retrieved for the
  person who asked (their principals, top-k), and each sentence of it that was
  supported then must still be supported by what is retrieved now (the offline
  support scorer, chat/support.py);
- **helpful "not found"**: the documents must still not answer it (Kura abstains);
- **not helpful, with a reason**: kept for review, shown with what Kura would
  retrieve now, never a pass or a fail (there is no gold to check against).

``FeedbackGate`` runs the set on a new index before a full re-index switches
to it (ingest/reindex_check.py ``QualityGate``): it refuses the switch when the
share of questions that pass drops by more than ``KURA_REINDEX_QUALITY_MARGIN``
against the serving index, and names the questions that got worse. The
serving index's results are the baseline kept in ``<state>/feedback-baseline.json``
by the run that switched to it; a question rated since then is taken to pass
on the serving index (its asker just rated it helpful there).
``kura eval run --dataset feedback`` runs the set on the serving index.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from core.types import ScoredChunk
from ingest.reindex_check import GateVerdict

from bots.feedback import export_line

logger = logging.getLogger(__name__)

HELPFUL = "helpful"
HELPFUL_NOT_FOUND = "helpful_not_found"
REVIEW = "review"
_MARKER = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
_QUESTION_CHARS = 80


@dataclass(frozen=True)
class RegressionItem:
    """One rated answer as a regression check."""

    id: str
    kind: str  # helpful | helpful_not_found | review
    question: str
    asker: str
    cited_document_ids: tuple[str, ...] = ()
    supported_sentences: tuple[str, ...] = ()  # the answer's sentences that were supported when it was rated
    reason: str | None = None

    @property
    def gates(self) -> bool:
        return self.kind != REVIEW


def regression_items(lines: Iterable[dict]) -> list[RegressionItem]:
    """Items from ``kura-feedback/1`` lines (bots/feedback.py ``export_line``); unrated and reasonless not-helpful
    answers are left out."""
    items = []
    for line in lines:
        if line.get("helpful") is None:
            continue
        question = str(line.get("question") or "").strip()
        if not question:
            continue
        base = {"id": str(line["id"]), "question": question, "asker": str(line.get("asker") or line.get("user") or "")}
        if not line["helpful"]:
            if line.get("reason"):
                items.append(RegressionItem(kind=REVIEW, reason=str(line["reason"]), **base))
            continue
        if line.get("abstained"):
            items.append(RegressionItem(kind=HELPFUL_NOT_FOUND, **base))
            continue
        sentences = tuple(
            _MARKER.sub("", s.get("text", "")).strip() for s in line.get("sentences", ())
            if s.get("supported") is not False and _MARKER.sub("", s.get("text", "")).strip()
        )
        cited = tuple(line.get("cited_document_ids") or ())
        if cited:
            items.append(RegressionItem(kind=HELPFUL, cited_document_ids=cited, supported_sentences=sentences,
                                        **base))
    return items


def items_from_store(feedback) -> list[RegressionItem]:
    return regression_items(export_line(record) for record in feedback.rated_answers())


@dataclass
class ItemResult:
    id: str
    kind: str
    question: str
    passed: bool | None  # None: kept for review
    missing_documents: list[str] = field(default_factory=list)  # cited then, not retrieved now
    unsupported_sentences: int = 0
    abstained_now: bool = False
    retrieved_document_ids: list[str] = field(default_factory=list)
    reason: str | None = None

    def why(self) -> str:
        if self.kind == HELPFUL_NOT_FOUND:
            return "now answered, though the documents did not answer it"
        parts = []
        if self.missing_documents:
            parts.append(f"cited {', '.join(self.missing_documents)} no longer retrieved")
        if self.unsupported_sentences:
            parts.append(f"{self.unsupported_sentences} sentence(s) of the helpful answer no longer supported")
        return "; ".join(parts) or "passes"


@dataclass
class RegressionReport:
    results: list[ItemResult]

    @property
    def gating(self) -> list[ItemResult]:
        return [r for r in self.results if r.passed is not None]

    @property
    def pass_rate(self) -> float | None:
        gating = self.gating
        return sum(r.passed for r in gating) / len(gating) if gating else None

    def to_dict(self) -> dict:
        return {"pass_rate": self.pass_rate, "questions": len(self.gating),
                "review": sum(1 for r in self.results if r.passed is None),
                "results": [asdict(r) for r in self.results]}


class RegressionRunner:
    """Checks regression items against one index, through ``retrieve(question, principals) -> hits``."""

    def __init__(self, retrieve: Callable[[str, Sequence[str]], list[ScoredChunk]],
                 principals_for: Callable[[str], Sequence[str]], *, scorer, support_threshold: float,
                 abstains: Callable[[str, list[ScoredChunk]], bool]) -> None:
        self.retrieve = retrieve
        self.principals_for = principals_for
        self.scorer = scorer
        self.support_threshold = support_threshold
        self.abstains = abstains

    def run(self, items: Iterable[RegressionItem]) -> RegressionReport:
        return RegressionReport([self.check(item) for item in items])

    def check(self, item: RegressionItem) -> ItemResult:
        hits = self.retrieve(item.question, self.principals_for(item.asker))
        retrieved = list(dict.fromkeys(h.chunk.document_id for h in hits))
        result = ItemResult(item.id, item.kind, item.question, None, retrieved_document_ids=retrieved,
                            reason=item.reason, abstained_now=self.abstains(item.question, hits))
        if item.kind == REVIEW:
            return result
        if item.kind == HELPFUL_NOT_FOUND:
            result.passed = result.abstained_now
            return result
        result.missing_documents = [d for d in item.cited_document_ids if d not in retrieved]
        cited_texts = [h.chunk.text for h in hits if h.chunk.document_id in item.cited_document_ids]
        result.unsupported_sentences = sum(
            1 for sentence in item.supported_sentences
            if not cited_texts or self.scorer.score(sentence, cited_texts) < self.support_threshold
        )
        result.passed = not result.missing_documents and not result.unsupported_sentences
        return result


class BaselineFile:
    """The regression results of the serving index: ``{"generation": ..., "at": ..., "passed": {id: bool}}``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, bool]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable feedback baseline %s: %s", self.path, exc)
            return {}
        return {str(k): bool(v) for k, v in (data.get("passed") or {}).items()}

    def write(self, generation: str, report: RegressionReport) -> None:
        data = {"generation": generation, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "passed": {r.id: r.passed for r in report.gating}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".baseline-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class Comparison:
    worse: list[ItemResult]
    better: list[ItemResult]
    before: float
    after: float

    @property
    def drop(self) -> float:
        return self.before - self.after


def compare(report: RegressionReport, baseline: dict[str, bool]) -> Comparison:
    """The new results against the serving index's (a question missing from the baseline passed there)."""
    gating = report.gating
    if not gating:
        return Comparison([], [], 1.0, 1.0)
    was = {r.id: baseline.get(r.id, True) for r in gating}
    worse = [r for r in gating if was[r.id] and not r.passed]
    better = [r for r in gating if not was[r.id] and r.passed]
    return Comparison(worse, better, sum(was.values()) / len(gating), sum(bool(r.passed) for r in gating) / len(gating))


def describe(result: ItemResult) -> str:
    question = " ".join(result.question.split())
    if len(question) > _QUESTION_CHARS:
        question = question[: _QUESTION_CHARS - 1] + "…"
    return f"{result.id} {question!r}: {result.why()}"


class FeedbackGate:
    """The re-index job's QualityGate: the feedback regression set on the new index against the serving one's."""

    def __init__(self, items: list[RegressionItem], make_runner: Callable[[object, object], RegressionRunner],
                 baseline: BaselineFile, *, margin: float) -> None:
        self.items = items
        self.make_runner = make_runner  # (store, pipeline) -> a runner retrieving from that store
        self.baseline = baseline
        self.margin = margin

    def __call__(self, store, pipeline) -> GateVerdict:
        report = self.make_runner(store, pipeline).run(self.items)
        result = compare(report, self.baseline.read())
        worse = [describe(r) for r in result.worse]
        logger.info("feedback regression set on the new index: %d questions, pass rate %.3f (serving %.3f), "
                    "%d worse, %d better", len(report.gating), result.after, result.before, len(result.worse),
                    len(result.better))
        problems = []
        if result.worse and result.drop > self.margin:
            problems.append(
                f"answers got worse on the feedback regression set: {len(result.worse)} of {len(report.gating)} "
                f"questions rated helpful fail on the new index (pass rate {result.before:.0%} -> {result.after:.0%}, "
                f"more than the {self.margin:.0%} KURA_REINDEX_QUALITY_MARGIN): " + "; ".join(worse)
            )
        return GateVerdict(problems, worse, accept=lambda generation: self.baseline.write(generation, report))


# --- wiring (called by the composition root and the CLI) ----------------------------------------
def runner_for(kura, store=None, pipeline=None) -> RegressionRunner:
    """A runner over ``store`` with the embedder and BM25 encoder it was built with; the serving index by default."""
    from chat.support import OfflineSupportScorer
    from retrieval.hybrid import FusionConfig, HybridRetriever

    s = kura.settings
    if store is None:
        retriever = kura.retriever
    else:
        avg_len = float(store.get_meta().get("bm25_avg_len") or 100.0)
        fusion = FusionConfig(s.dense_weight, s.bm25_weight, s.rrf_k, s.prefetch_k, s.unk_threshold)
        retriever = HybridRetriever(store, pipeline.embedder, pipeline.sparse_encoder.with_avg_len(avg_len), fusion,
                                    s.retriever_mode)
    return RegressionRunner(
        lambda question, principals: retriever.retrieve(question, top_k=s.top_k, principals=principals),
        kura.principals_for,
        scorer=OfflineSupportScorer(),
        support_threshold=s.support_threshold,
        abstains=lambda question, hits: kura.extractive.answer(question, hits).abstained,
    )


def feedback_gate(kura) -> FeedbackGate | None:
    """The gate for ``kura reindex --full``; None while nobody has rated an answer."""
    from bots.feedback import FeedbackStore

    s = kura.settings
    path = s.data_dir / "feedback.sqlite"
    if not path.exists():
        return None
    items = items_from_store(FeedbackStore(path))
    if not any(item.gates for item in items):
        return None
    return FeedbackGate(items, lambda store, pipeline: runner_for(kura, store, pipeline),
                        BaselineFile(s.state_dir / "feedback-baseline.json"), margin=s.reindex_quality_margin)
