"""The feedback export (thumbs up / down on answers) read as labelled eval examples.

One JSON object a line, as the bots export it:

    {"id": "fb-12", "question": "...", "answer": "...", "rating": "helpful" | "not_helpful",
     "sources": [{"number": 1, "document_id": "confluence:123", ...}], "cited": [1],
     "asker": "alice@example.com", "created_at": "...", "comment": "..."}

``rating`` may also be ``up``/``down``, ``+1``/``-1`` or a boolean ``helpful``.
This is the ``kura-feedback/1`` format of ``kura feedback export``
(bots/feedback.py), which also carries ``cited_document_ids`` and
``abstained``. A helpful answer becomes a reference: its text is the reference
answer and the documents it cited are the relevant ones. A helpful abstention
("I could not find this" was right) becomes an unanswerable question. A
not-helpful answer has no gold; it stays in the set, labelled, so a run shows
what Kura answers to it now (the report's drill-down lists them).
"""

from __future__ import annotations

import hashlib

from core.errors import EvalError
from eval.datasets import EvalExample, Evidence

HELPFUL = "helpful"
NOT_HELPFUL = "not_helpful"
_RATINGS = {
    "helpful": HELPFUL,
    "up": HELPFUL,
    "+1": HELPFUL,
    "1": HELPFUL,
    "thumbs_up": HELPFUL,
    "not_helpful": NOT_HELPFUL,
    "unhelpful": NOT_HELPFUL,
    "down": NOT_HELPFUL,
    "-1": NOT_HELPFUL,
    "thumbs_down": NOT_HELPFUL,
}


def is_feedback_record(record: dict) -> bool:
    return "rating" in record or "helpful" in record


def rating_of(record: dict) -> str:
    """Normalise the several ways a rating is written to ``helpful`` / ``not_helpful``."""
    if "helpful" in record and isinstance(record["helpful"], bool):
        return HELPFUL if record["helpful"] else NOT_HELPFUL
    raw = str(record.get("rating", "")).strip().lower().replace(" ", "_").replace("-", "_")
    raw = {"_1": "-1"}.get(raw, raw)
    if raw not in _RATINGS:
        raise EvalError(f"unknown feedback rating {record.get('rating')!r}: use helpful or not_helpful")
    return _RATINGS[raw]


def cited_document_ids(record: dict) -> list[str]:
    """Document ids of the sources the rated answer cited (all its sources when it says nothing of citations)."""
    if record.get("cited_document_ids"):
        return [str(d) for d in dict.fromkeys(record["cited_document_ids"])]
    sources = record.get("sources") or []
    cited = set(record.get("cited") or [])
    ids: list[str] = []
    for source in sources:
        if isinstance(source, str):
            source = {"document_id": source}
        if cited and source.get("number") not in cited:
            continue
        doc_id = str(source.get("document_id") or "")
        if doc_id and doc_id not in ids:
            ids.append(doc_id)
    return ids


def feedback_example(record: dict, line_no: int) -> EvalExample:
    """One feedback record as an example: helpful ones carry a reference, not-helpful ones only their label."""
    label = rating_of(record)
    question = str(record.get("question") or "").strip()
    fallback_id = "fb-" + hashlib.sha256(f"{line_no}\x1f{question}".encode()).hexdigest()[:10]
    helpful = label == HELPFUL
    abstained = bool(record.get("abstained"))
    reference = helpful and not abstained
    return EvalExample(
        id=str(record.get("id") or fallback_id),
        question=question,
        evidence=tuple(Evidence(document_id=d) for d in cited_document_ids(record)) if reference else (),
        answerable=not (helpful and abstained),  # a helpful "not found" says the documents do not answer it
        asker=str(record.get("asker") or ""),
        label=label,
        reference_answer=str(record.get("answer") or "") if reference else "",
    )
