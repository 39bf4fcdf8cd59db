"""Evaluation datasets: questions with gold answers and the evidence that answers them, plus their corpus.

Three input formats, one in-memory shape (``EvalDataset``):

- SQuAD-format JSON (SQuAD v1.1, v2.0 with ``is_impossible``, JSQuAD) in two
  corpus modes: ``paragraph`` (each paragraph one document) and ``article``
  (each article one document whose sections are its paragraphs, so chunking
  matters). The gold answer's character span is mapped into ``Document.text``;
  a retrieved chunk is relevant when its span covers the answer's.
- Kura JSONL (``eval/kura_jsonl.py``) and the feedback export
  (``eval/feedback.py``) for questions about our own documents.

JSQuAD contexts read ``Title [SEP] text``; we turn the separator into a
newline so the paragraph reads like a heading and its body. Offsets of answers
after the separator are shifted accordingly, answers inside the title (about
one question in eleven) keep theirs.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import EvalError
from core.identity import user_principal
from core.types import PUBLIC, Document, Section
from retrieval.tokenize import has_japanese

CORPUS_MODES = ("article", "paragraph")
DATASET_SOURCE = "eval"
_SEP = " [SEP] "
# Sentence ends for the evidence sentence around an answer (Japanese and Western punctuation).
_SENTENCE_END = re.compile(r"(?<=[。．！？!?])|(?<=\.)\s|\n")


@dataclass(frozen=True)
class Evidence:
    """What a relevant chunk must contain: a document, optionally narrowed to answer spans or a text.

    ``answer_spans`` are (start, end) character offsets in ``Document.text``; a
    chunk is relevant when it covers one of them. ``sentence_span`` is the
    sentence around the first answer: the evidence the span precision/recall/IoU
    measures compare retrieved text against. ``text`` is a quoted passage for
    datasets that give text instead of offsets. With neither, any chunk of the
    document is relevant.
    """

    document_id: str
    answer_spans: tuple[tuple[int, int], ...] = ()
    sentence_span: tuple[int, int] | None = None
    text: str = ""


@dataclass(frozen=True)
class EvalExample:
    """One question with its gold answers and the evidence for it."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    answerable: bool = True
    asker: str = ""  # email; the runner asks with this person's permissions when set
    label: str = ""  # feedback: "helpful" / "not_helpful"
    reference_answer: str = ""  # a full-sentence reference (feedback), beside short gold ``answers``
    kind: str = ""  # e.g. "paraphrase", "near_miss": the report gives accuracy per kind (eval/kinds.py)


@dataclass
class EvalDataset:
    """A named set of questions and the documents they are asked against."""

    name: str
    path: Path
    corpus_mode: str
    language: str  # "ja" or "en": decides character- or word-level answer F1
    documents: list[Document]
    examples: list[EvalExample]
    fingerprint: str = ""
    notes: list[str] = field(default_factory=list)
    grants: dict[str, tuple[str, ...]] = field(default_factory=dict)  # email -> principals, from the corpus

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for example in self.examples:
            if example.id in seen:
                raise EvalError(f"{self.path}: question id {example.id!r} occurs more than once")
            seen.add(example.id)

    def principals_for(self, email: str) -> tuple[str, ...] | None:
        """The asker's principals from the corpus's own directory; None when it has none for them."""
        email = email.strip().lower()
        granted = self.grants.get(email)
        if granted is None:
            return None
        # As core.identity grants them: public, the person, their e-mail domain, and the directory's grants.
        domain = {f"domain:{email.rsplit('@', 1)[-1]}"} if "@" in email else set()
        return tuple(sorted({PUBLIC, user_principal(email), *domain, *granted}))

    @property
    def has_unanswerable(self) -> bool:
        return any(not e.answerable for e in self.examples)

    def sample(self, limit: int | None, seed: int = 0) -> "EvalDataset":
        """A copy with at most ``limit`` questions, drawn reproducibly; the corpus stays whole."""
        if limit is None or limit >= len(self.examples):
            return self
        if limit < 1:
            raise EvalError(f"--limit must be at least 1, got {limit}")
        keep = set(random.Random(seed).sample(range(len(self.examples)), limit))
        chosen = [e for i, e in enumerate(self.examples) if i in keep]
        return replace(self, examples=chosen)


def file_fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def detect_language(texts: list[str]) -> str:
    sample = "".join(texts[:50])
    return "ja" if has_japanese(sample) else "en"


def load_dataset(path: str | Path, *, corpus: str = "article", docs: str | Path | None = None) -> EvalDataset:
    """Load any supported dataset by its format: SQuAD JSON, Kura JSONL or a feedback export.

    ``docs`` (JSONL formats only): where the documents are, see ``eval/corpus.py``.
    """
    path = Path(path)
    if not path.is_file():
        raise EvalError(f"dataset not found: {path}")
    if path.suffix == ".json":
        return load_squad(path, corpus=corpus)
    from eval.corpus import load_corpus
    from eval.kura_jsonl import load_kura_jsonl

    return load_kura_jsonl(path, corpus=load_corpus(docs) if docs else None)


def load_squad(path: str | Path, *, corpus: str = "article") -> EvalDataset:
    """Load SQuAD v1.1 / v2.0 / JSQuAD JSON with each ``article`` or each ``paragraph`` one document."""
    path = Path(path)
    if corpus not in CORPUS_MODES:
        raise EvalError(f"unknown corpus mode {corpus!r}: use one of {', '.join(CORPUS_MODES)}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        articles = raw["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvalError(f"{path} is not SQuAD-format JSON (expected a top-level 'data' list): {exc}") from exc
    documents: list[Document] = []
    examples: list[EvalExample] = []
    for a_index, article in enumerate(articles):
        try:
            docs, exs = _article(article, a_index, corpus)
        except (KeyError, TypeError, ValueError) as exc:
            raise EvalError(f"{path}: article {a_index} is malformed: {exc}") from exc
        documents += docs
        examples += exs
    if not examples:
        raise EvalError(f"{path} holds no questions")
    asked = sum(len(p.get("qas", [])) for a in articles for p in a["paragraphs"])
    notes = [f"{asked - len(examples)} questions skipped: gold answer not found in its context"] if asked > len(examples) else []
    return EvalDataset(
        name=path.stem if path.parent.name in ("", ".") else f"{path.parent.name}-{path.stem}",
        path=path,
        corpus_mode=corpus,
        language=detect_language([d.text for d in documents]),
        documents=documents,
        examples=examples,
        fingerprint=file_fingerprint(path),
        notes=notes,
    )


def _clean_context(title: str, context: str) -> tuple[str, int, int]:
    """Context with JSQuAD's ``Title [SEP] `` turned into ``Title\\n``; returns (text, cut_at, shift)."""
    prefix = title + _SEP
    if title and context.startswith(prefix):
        return title + "\n" + context[len(prefix) :], len(title), len(_SEP) - 1
    return context, len(context), 0


def _article(article: dict, a_index: int, corpus: str) -> tuple[list[Document], list[EvalExample]]:
    title = str(article.get("title") or f"article {a_index}")
    paragraphs = article["paragraphs"]
    cleaned = [_clean_context(title, p["context"]) for p in paragraphs]
    documents: list[Document] = []
    examples: list[EvalExample] = []
    if corpus == "article":
        doc = _document(f"a{a_index}", title, [c[0] for c in cleaned])
        documents.append(doc)
        offsets = _section_offsets([c[0] for c in cleaned])
    for p_index, (paragraph, (text, cut_at, shift)) in enumerate(zip(paragraphs, cleaned)):
        if corpus == "paragraph":
            doc = _document(f"a{a_index}p{p_index}", title, [text])
            documents.append(doc)
            base = 0
        else:
            base = offsets[p_index]
        if base < 0:
            continue  # an empty paragraph has no questions worth asking
        for qa in paragraph.get("qas", []):
            example = _example(qa, doc.id, text, base, cut_at, shift)
            if example is not None:
                examples.append(example)
    return documents, examples


def _document(source_id: str, title: str, paragraphs: list[str]) -> Document:
    return Document(
        source=DATASET_SOURCE,
        source_id=source_id,
        title=title,
        sections=tuple(Section(text=p) for p in paragraphs),
    )


def _section_offsets(texts: list[str]) -> list[int]:
    """Where each section starts in ``Document.text`` (blank-line joined, empty sections skipped; -1 for those)."""
    offsets, position = [], 0
    for text in texts:
        if not text.strip():
            offsets.append(-1)
            continue
        offsets.append(position)
        position += len(text) + 2
    return offsets


def _example(qa: dict, document_id: str, text: str, base: int, cut_at: int, shift: int) -> EvalExample | None:
    """The question with its answer spans mapped into the document; None when no gold answer is in the text."""
    impossible = bool(qa.get("is_impossible", False)) or not qa.get("answers")
    answers: list[str] = []
    spans: list[tuple[int, int]] = []
    if not impossible:
        for answer in qa["answers"]:
            start = int(answer["answer_start"])
            start = start if start < cut_at else start - shift
            answer_text = str(answer["text"])
            if text[start : start + len(answer_text)] != answer_text:
                # Some SQuAD spans are off by a few characters; find the nearest occurrence instead.
                found = _nearest(text, answer_text, start)
                if found < 0:
                    continue
                start = found
            if answer_text not in answers:
                answers.append(answer_text)
            span = (base + start, base + start + len(answer_text))
            if span not in spans:
                spans.append(span)
    if not impossible and not spans:
        return None
    evidence: tuple[Evidence, ...] = ()
    if spans:
        first = spans[0]
        sentence = _sentence_around(text, first[0] - base, first[1] - base)
        evidence = (Evidence(document_id, tuple(spans), (base + sentence[0], base + sentence[1])),)
    return EvalExample(
        id=str(qa["id"]),
        question=str(qa["question"]).strip(),
        answers=tuple(answers),
        evidence=evidence,
        answerable=not impossible,
    )


def _nearest(text: str, needle: str, near: int) -> int:
    positions = [m.start() for m in re.finditer(re.escape(needle), text)] if needle else []
    return min(positions, key=lambda p: abs(p - near)) if positions else -1


def _sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence(s) of ``text`` that hold the span [start, end)."""
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    left = max(b for b in bounds if b <= start)
    right = min((b for b in bounds if b >= end), default=len(text))
    return left, max(right, end)
