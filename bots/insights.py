"""What people ask that the documents do not answer, and how answers are received: the insight page's figures.

Built from the feedback store (every answer and verdict) and the job state
file (sync and re-index per source), for one viewer:

- answers per day, with the helpful rate (of rated answers) and the abstain rate;
- unanswered questions (abstained answers) grouped by similarity, with counts
  and the closest documents Kura found for them: what the documentation lacks;
- not-helpful answers with their reasons;
- per-source job status: last success, documents that failed in the last run.

Only text the viewer may read is shown. A question someone else asked appears
only to an admin (the page itself is for admins, see bots/web/insights_page.py;
the rule is applied here as well). A document title appears only when the
viewer holds one of its principals *now*: the stored answer says which chunk
it showed, and the index is asked for that chunk's principals; a chunk no longer
in the index cannot be checked, so its title is withheld too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from chat.support import content_terms

from bots.job_state import JobStateFile

# Words every question shares: they must not make two questions look alike.
_QUESTION_WORDS = frozenset(
    "how do does did i my me what who whom whose when where which why can could should would we our you your "
    "get is are there any about tell please".split()
)
MAX_GROUP_EXAMPLES = 5


@dataclass
class DayFigures:
    day: str  # YYYY-MM-DD (UTC)
    answers: int = 0
    abstained: int = 0
    rated: int = 0
    helpful: int = 0

    @property
    def helpful_rate(self) -> float | None:
        return self.helpful / self.rated if self.rated else None

    @property
    def abstain_rate(self) -> float | None:
        return self.abstained / self.answers if self.answers else None


@dataclass
class ShownDocument:
    title: str
    url: str
    document_id: str
    count: int = 1


@dataclass
class QuestionGroup:
    """Unanswered questions that ask much the same thing."""

    count: int
    questions: list[str]  # distinct wordings, most frequent first (at most MAX_GROUP_EXAMPLES)
    last_asked: str
    closest: list[ShownDocument] = field(default_factory=list)
    hidden_documents: int = 0  # closest documents the viewer may not read (titles withheld)


@dataclass
class NotHelpfulAnswer:
    question: str
    reason: str | None
    asked_at: str
    surface: str
    sources: list[ShownDocument] = field(default_factory=list)  # cited, or the closest ones of a "not found"
    hidden_documents: int = 0
    abstained: bool = False


@dataclass
class SourceStatus:
    job: str
    source: str
    last_success: float | None
    last_run: float | None
    added: int
    updated: int
    deleted: int
    failed: int
    failures: list[dict]  # {source_id, reason} of the last run


@dataclass
class InsightReport:
    since: str
    days: list[DayFigures]
    unanswered: list[QuestionGroup]
    not_helpful: list[NotHelpfulAnswer]
    sources: list[SourceStatus]

    @property
    def answers(self) -> int:
        return sum(d.answers for d in self.days)

    def to_dict(self) -> dict:
        out = asdict(self)
        for day, raw in zip(self.days, out["days"]):
            raw.update(helpful_rate=day.helpful_rate, abstain_rate=day.abstain_rate)
        return out


def question_terms(question: str) -> frozenset[str]:
    return frozenset(t for t in content_terms(question) if t not in _QUESTION_WORDS)


def group_questions(questions: Sequence[str], embed: Callable[[list[str]], np.ndarray] | None = None, *,
                    dense_threshold: float = 0.75, term_threshold: float = 0.5) -> list[list[int]]:
    """Indexes of ``questions`` grouped by similarity (single link), largest group first.

    Two questions are alike when their content terms overlap (Jaccard at least
    ``term_threshold``; BM25 terms, so Japanese works) or their embeddings are
    close (cosine at least ``dense_threshold``; catches paraphrases with other
    words, in the languages the embedder reads).
    """
    n = len(questions)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    terms = [question_terms(q) for q in questions]
    similar = np.zeros((n, n), dtype=bool)
    if embed is not None and n:
        vectors = np.asarray(embed(list(questions)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1, norms)
        similar |= vectors @ vectors.T >= dense_threshold
    for i in range(n):
        for j in range(i + 1, n):
            union = terms[i] | terms[j]
            if similar[i, j] or (union and len(terms[i] & terms[j]) / len(union) >= term_threshold):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


class InsightBuilder:
    """Builds an InsightReport for one viewer from the feedback store, the index and the job state."""

    def __init__(self, feedback, store, jobs: JobStateFile, *, embed: Callable[[list[str]], np.ndarray] | None = None,
                 max_questions: int = 1000) -> None:
        self.feedback = feedback
        self.store = store
        self.jobs = jobs
        self.embed = embed
        self.max_questions = max_questions

    def build(self, viewer: str, principals: Iterable[str], *, admin: bool, days: int = 30,
              now: datetime | None = None) -> InsightReport:
        now = now or datetime.now(timezone.utc)
        since = (now - timedelta(days=days - 1)).date().isoformat()
        records = [r for r in self.feedback.answers_since(since) if admin or r.user == viewer]
        readable = self._readable_chunks(records, set(principals))
        return InsightReport(
            since=since,
            days=self._days(records, since, now, days),
            unanswered=self._unanswered(records, readable),
            not_helpful=self._not_helpful(records, readable),
            sources=self._sources(),
        )

    # --- parts ---------------------------------------------------------------------------
    def _readable_chunks(self, records, principals: set[str]) -> set[str]:
        """Chunk ids of shown sources that the viewer may read now (one lookup in the index)."""
        wanted = list({s.get("chunk_id") for r in records for s in r.answer.get("sources", ()) if s.get("chunk_id")})
        if not wanted or not self.store.exists():
            return set()
        return {c.id for c in self.store.get(wanted) if principals.intersection(c.principals)}

    @staticmethod
    def _days(records, since: str, now: datetime, days: int) -> list[DayFigures]:
        start = datetime.fromisoformat(since).date()
        by_day = {(start + timedelta(days=i)).isoformat(): DayFigures((start + timedelta(days=i)).isoformat())
                  for i in range(days)}
        for r in records:
            day = by_day.get(r.created_at[:10])
            if day is None:
                continue
            day.answers += 1
            day.abstained += bool(r.answer.get("abstained"))
            if r.feedback is not None:
                day.rated += 1
                day.helpful += r.feedback.helpful
        return list(by_day.values())

    def _shown(self, records, readable: set[str]) -> tuple[list[ShownDocument], int]:
        """The documents these answers showed, readable ones by how often they came up, and how many were withheld."""
        shown: dict[str, ShownDocument] = {}
        hidden: set[str] = set()
        for r in records:
            for s in r.answer.get("sources", ()):
                doc_id = s.get("document_id", "")
                if s.get("chunk_id") not in readable:
                    hidden.add(doc_id)
                elif doc_id in shown:
                    shown[doc_id].count += 1
                else:
                    shown[doc_id] = ShownDocument(s.get("title", ""), s.get("url", ""), doc_id)
        hidden -= set(shown)
        return sorted(shown.values(), key=lambda d: -d.count)[:3], len(hidden)

    def _unanswered(self, records, readable: set[str]) -> list[QuestionGroup]:
        abstained = [r for r in records if r.answer.get("abstained")][-self.max_questions:]
        texts = [r.answer.get("question", "") for r in abstained]
        groups = []
        for members in group_questions(texts, self.embed):
            wordings = Counter(" ".join(texts[i].split()) for i in members)
            closest, hidden = self._shown([abstained[i] for i in members], readable)
            groups.append(QuestionGroup(
                count=len(members),
                questions=[q for q, _ in wordings.most_common(MAX_GROUP_EXAMPLES)],
                last_asked=max(abstained[i].created_at for i in members),
                closest=closest,
                hidden_documents=hidden,
            ))
        return groups

    def _not_helpful(self, records, readable: set[str]) -> list[NotHelpfulAnswer]:
        out = []
        for r in reversed(records):
            if r.feedback is None or r.feedback.helpful:
                continue
            cited = {n for s in r.answer.get("sentences", ()) for n in s.get("citations", ())}
            cited_records = [_only_sources(r, cited)] if cited else [r]
            sources, hidden = self._shown(cited_records, readable)
            out.append(NotHelpfulAnswer(r.answer.get("question", ""), r.feedback.reason, r.created_at, r.surface,
                                        sources, hidden, bool(r.answer.get("abstained"))))
        return out

    def _sources(self) -> list[SourceStatus]:
        out = []
        for job, sources in sorted(self.jobs.read().items()):
            for source, f in sorted(sources.items()):
                out.append(SourceStatus(job, source, f.get("last_success"), f.get("last_run"), int(f.get("added", 0)),
                                        int(f.get("updated", 0)), int(f.get("deleted", 0)), int(f.get("failed", 0)),
                                        list(f.get("failures", []))))
        return out


def _only_sources(record, numbers: set[int]):
    """The record with only the sources whose numbers are in ``numbers`` (an answer's cited ones)."""
    from dataclasses import replace

    answer = dict(record.answer)
    answer["sources"] = [s for s in answer.get("sources", ()) if s.get("number") in numbers]
    return replace(record, answer=answer)
