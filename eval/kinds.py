"""Whether an answer is the right outcome for its question, and accuracy per question kind.

A question set may label each question with a ``kind`` (the sample corpus's
``questions-answerability.jsonl``: paraphrase, cross_language, multi_step,
near_miss, restricted_denied, restricted_allowed, short_misspelled). One rule
decides every kind, so the kinds differ only in their questions:

- an answerable question is right when the answer did not abstain, contains a
  gold string and cites one of the gold documents;
- an unanswerable one (a near miss, or a restricted question asked by someone
  who may not read the only document that answers it) is right when it abstained;
- neither is right when it leaked: any source the answer lists (cited or shown
  as "closest documents") belongs to a document the asker may not read.

The leak check reads the documents' principals from the dataset, not from the
retriever's filter, so it still catches a leak when the filter is broken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.types import Answer
from eval.datasets import EvalExample


@dataclass(frozen=True)
class Outcome:
    """How one answer fared: the right outcome or not, what leaked, whether it cited a gold document."""

    correct: bool
    leaked: tuple[str, ...]  # ids of listed documents the asker may not read
    cites_gold: bool


def readable_by(principals: Iterable[str], documents: Mapping[str, Sequence[str]]) -> Callable[[str], bool]:
    """``document_id -> may the asker read it``; a document the dataset does not know counts as unreadable."""
    granted = set(principals)

    def readable(document_id: str) -> bool:
        allowed = documents.get(document_id)
        return allowed is not None and bool(granted.intersection(allowed))

    return readable


def judge_outcome(example: EvalExample, answer: Answer, contains: float | None, readable: Callable[[str], bool]) -> Outcome:
    """The rule in the module docstring; ``contains`` is the runner's gold-string containment (None: no gold)."""
    leaked = tuple(sorted({s.document_id for s in answer.sources if not readable(s.document_id)}))
    gold_documents = {e.document_id for e in example.evidence}
    cites_gold = any(s.document_id in gold_documents for s in answer.cited_sources)
    if leaked:
        return Outcome(False, leaked, cites_gold)
    if not example.answerable:
        return Outcome(answer.abstained, leaked, cites_gold)
    correct = not answer.abstained and bool(contains) and cites_gold
    return Outcome(correct, leaked, cites_gold)


def per_kind(results: Iterable) -> dict[str, dict]:
    """Accuracy, leaks, recall@5 and a per-language split for each kind (results: ``kind``, ``language``, ``correct``,
    ``leaked``, optionally ``ranking``).

    Questions without a kind are left out, so a dataset without kinds gets ``{}``.
    """
    table: dict[str, dict] = {}
    for q in results:
        if not q.kind or q.correct is None:
            continue
        row = table.setdefault(q.kind, {"questions": 0, "correct": 0, "leaks": 0, "by_language": {}})
        lang = row["by_language"].setdefault(q.language, {"questions": 0, "correct": 0})
        for bucket in (row, lang):
            bucket["questions"] += 1
            bucket["correct"] += int(q.correct)
        row["leaks"] += int(bool(q.leaked))
        recall = getattr(q, "ranking", {}).get("recall@5")
        if recall is not None:
            row.setdefault("_recall", []).append(recall)
    for row in table.values():
        for bucket in (row, *row["by_language"].values()):
            bucket["accuracy"] = bucket["correct"] / bucket["questions"]
        # retrieval alone: the share of a kind's gold documents in the asker's top 5 (ranked questions only)
        recalls = row.pop("_recall", [])
        row["recall@5"] = sum(recalls) / len(recalls) if recalls else None
    return dict(sorted(table.items()))
