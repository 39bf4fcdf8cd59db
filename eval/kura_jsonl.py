"""Kura's own JSONL eval format, and the feedback export read as labelled examples.

One JSON object a line. A line is either a document of the corpus

    {"document": {"id": "hr-travel", "title": "Travel policy", "text": "...", "url": "...", "principals": ["public"]}}

or a question

    {"id": "q1", "question": "...", "answer": "short gold answer" | null, "answers": ["..."],
     "relevant_document_ids": ["confluence:CONF-1001"], "relevant": [{"document_id": "hr-travel", "text": "quote"}],
     "reference_answer": "a full answer", "asker": "alice@example.com", "answerable": true, "kind": "paraphrase"}

(the sample corpus's ``questions.jsonl`` is this format: ``answer`` null with no
relevant documents marks a question the corpus cannot answer; ``"answerable": false``
with relevant documents marks one whose only answer the asker may not read), or a feedback
record as the bots export it (``eval/feedback.py``). Documents may instead come
from ``--docs`` (``eval/corpus.py``). A document ``id`` without a colon belongs
to source ``eval``; ``source:id`` names another source, so feedback that cites
``confluence:123`` can be scored against a corpus holding that page.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import EvalError
from core.types import PUBLIC, Document, Section
from eval.datasets import DATASET_SOURCE, EvalDataset, EvalExample, Evidence, detect_language, file_fingerprint
from eval.feedback import feedback_example, is_feedback_record


def read_documents(path: Path) -> list[Document]:
    """The ``{"document": ...}`` lines of a JSONL file."""
    return [_document(r["document"], path, n) for n, r in _read_jsonl(path) if "document" in r]


def load_kura_jsonl(path: Path, *, corpus=None) -> EvalDataset:
    """Questions (and inline documents) from Kura JSONL; ``corpus`` (eval.corpus.Corpus) adds documents and grants."""
    documents: dict[str, Document] = {d.id: d for d in (corpus.documents if corpus else [])}
    records: list[tuple[int, dict]] = []
    for line_no, record in _read_jsonl(path):
        if "document" in record:
            doc = _document(record["document"], path, line_no)
            documents[doc.id] = doc
        else:
            records.append((line_no, record))
    if not documents:
        raise EvalError(
            f"{path} has no corpus: add {{\"document\": {{...}}}} lines or pass --docs (sample, a folder or a JSONL file)"
        )
    examples = [_example(record, documents, path, line_no) for line_no, record in records]
    if not examples:
        raise EvalError(f"{path} holds no questions")
    return EvalDataset(
        name=path.stem if path.parent.name in ("", ".") else f"{path.parent.name}-{path.stem}",
        path=path,
        corpus_mode="document",
        language=detect_language([d.text for d in documents.values()]),
        documents=list(documents.values()),
        examples=examples,
        fingerprint=file_fingerprint(path) + (corpus.fingerprint if corpus else ""),
        grants=dict(corpus.grants) if corpus else {},
    )


def _read_jsonl(path: Path):
    if not path.is_file():
        raise EvalError(f"file not found: {path}")
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise EvalError(f"{path}:{line_no}: not valid JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise EvalError(f"{path}:{line_no}: expected a JSON object")
            yield line_no, record


def qualify(document_id: str) -> str:
    """``hr-travel`` -> ``eval:hr-travel``; ``confluence:123`` stays as it is."""
    return document_id if ":" in document_id else f"{DATASET_SOURCE}:{document_id}"


def _document(raw: dict, path: Path, line_no: int) -> Document:
    if not isinstance(raw, dict) or not raw.get("id") or not isinstance(raw.get("text"), str):
        raise EvalError(f"{path}:{line_no}: a document needs an 'id' and a 'text'")
    source, _, source_id = qualify(str(raw["id"])).partition(":")
    paragraphs = [p for p in raw["text"].split("\n\n")] or [raw["text"]]
    return Document(
        source=source,
        source_id=source_id,
        title=str(raw.get("title") or source_id),
        sections=tuple(Section(text=p) for p in paragraphs),
        url=str(raw.get("url") or ""),
        principals=tuple(raw.get("principals") or (PUBLIC,)),
    )


def _example(record: dict, documents: dict[str, Document], path: Path, line_no: int) -> EvalExample:
    if is_feedback_record(record):
        example = feedback_example(record, line_no)
    else:
        example = _question(record, line_no)
    if not example.question:
        raise EvalError(f"{path}:{line_no}: a question line needs a non-empty 'question'")
    evidence = tuple(_locate(e, documents, path, line_no) for e in example.evidence)
    return EvalExample(**{**example.__dict__, "evidence": evidence})


def _question(record: dict, line_no: int) -> EvalExample:
    ids = [*(record.get("relevant_document_ids") or ()), *(record.get("relevant_ids") or ())]
    evidence = [Evidence(document_id=str(i)) for i in ids]
    for item in record.get("relevant") or ():
        if isinstance(item, str):
            item = {"document_id": item}
        evidence.append(Evidence(document_id=str(item.get("document_id") or ""), text=str(item.get("text") or "")))
    answers = tuple(str(a) for a in record.get("answers") or ())
    if record.get("answer"):
        answers = (str(record["answer"]), *answers)
    # "answer": null with nothing relevant is how a question the corpus cannot answer is written.
    unanswerable = "answer" in record and record["answer"] is None and not evidence
    return EvalExample(
        id=str(record.get("id") or f"line{line_no}"),
        question=str(record.get("question") or "").strip(),
        answers=answers,
        evidence=tuple(evidence),
        answerable=bool(record.get("answerable", not unanswerable)),
        asker=str(record.get("asker") or ""),
        reference_answer=str(record.get("reference_answer") or ""),
        kind=str(record.get("kind") or ""),
    )


def _locate(evidence: Evidence, documents: dict[str, Document], path: Path, line_no: int) -> Evidence:
    """Resolve the document id and turn a quoted text into a character span of that document."""
    if evidence.document_id:
        doc = documents.get(qualify(evidence.document_id))
        if doc is None:
            raise EvalError(f"{path}:{line_no}: relevant document {evidence.document_id!r} is not in the corpus")
        candidates = [doc]
    elif evidence.text:
        candidates = [d for d in documents.values() if evidence.text in d.text]
        if not candidates:
            raise EvalError(f"{path}:{line_no}: quoted evidence is in no document: {evidence.text[:60]!r}")
    else:
        raise EvalError(f"{path}:{line_no}: a relevant item needs a 'document_id' or a 'text'")
    doc = candidates[0]
    if not evidence.text:
        return Evidence(document_id=doc.id)
    start = doc.text.find(evidence.text)
    if start < 0:
        raise EvalError(f"{path}:{line_no}: quoted evidence is not in {doc.id}: {evidence.text[:60]!r}")
    span = (start, start + len(evidence.text))
    return Evidence(document_id=doc.id, answer_spans=(span,), sentence_span=span, text=evidence.text)
