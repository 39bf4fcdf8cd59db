"""Do the retrieved chunks answer the question? One calibrated probability, shared by both answerers.

Per (question, candidate sentence) it measures

- ``coverage``: the question's content terms found in the sentence (its title and headings count 0.2),
  each term weighted by its rarity among the candidates; a term also matches through Sudachi's synonym
  dictionary (``chat/data/sudachi_synonyms.txt.gz``: 概要 finds 要約), the term bridge's bilingual tables
  (``retrieval/term_bridge.py``, SudachiDict and JMdict: hotel finds ホテル, business trip 出張), one or two typing slips (sesion finds session) and its
  Japanese reading (経費生産 finds 経費精算: both read セイサン);
- ``dense``: cosine similarity of question and sentence with Kura's embedder, only where it reads both
  (the unreadable-share rule of ``retrieval/embedder.py``; the default MiniLM reads English only). Every
  readable sentence of the best chunks is embedded, then the best others by coverage, with a cache. A
  typing slip the model cannot read is respelt first (the question is embedded with "session", not "sesion");
- ``type``: whether the sentence holds what the question asks for (a time for when / いつ, an amount for
  how much / いくら, a number for how many / 何枚, a name for who / 誰);
- ``rank``: 1 / (rank of its chunk + 1), the retriever's own ordering;
- ``specific`` and ``number_missing``: the share of the question's numbers, ids, years and names the
  sentence (or its title and headings) holds, and whether a number is missing: a near miss keeps the
  topic and changes exactly these ("HoshiOS 9.0" where the page has 8.0).

Per question it adds

- ``chunk_coverage``: the best chunk's coverage;
- ``rare_missing``: the corpus rarity (normalised BM25 IDF, 0..~1.1) of the rarest specific term that no
  candidate contains: "Munich", "CC-600" or "FY2025" absent from every retrieved chunk is a near miss;
- ``type_missing``: the question expects a type and none of the three best sentences holds it.

    z = intercept + w . features ;  probability = 1 / (1 + exp(-z))

Two fitted weight sets (``chat/data/answerability_weights.json``): ``dense`` for a sentence the embedder
reads (with the question), ``lexical`` for any other (Japanese with the default model). Each sentence is
scored by its set and the two compare by their margin over their own threshold in log-odds, so the best
sentence of either kind decides. Fitted by ``python -m eval.answerability_fit`` (logistic regression; a
feature fitted with the wrong sign is dropped) on public data split by article: SQuAD 2.0 train articles
(English; its adversarial unanswerable questions plus near misses made by removing the paragraph that holds
the answer or swapping the question's key number or term) and JSQuAD (Japanese; the same near misses).
Thresholds (answer at or above ``threshold``; the LLM gate calls the model at or above ``gate_threshold``)
were chosen on validation articles that were not fitted on; the weights file records the values, the data
and how they were chosen.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from chat.dates import asked_months, held_months, is_year, missing_months
from chat.evidence import question_terms
from chat.injection import looks_like_instruction
from chat.names import unknown_names
from chat.unknown_terms import unknown_compounds, unknown_versions
from chat.sentences import split_sentences
from core.types import ScoredChunk
from retrieval.respell import within_edits
from retrieval.tokenize import has_japanese, tokenize

DATA = Path(__file__).resolve().parent / "data"
WEIGHTS_FILE = DATA / "answerability_weights.json"
SYNONYMS_FILE = DATA / "sudachi_synonyms.txt.gz"

SENTENCE_FEATURES = ("coverage", "dense", "type", "rank", "specific", "number_missing")
QUESTION_FEATURES = ("chunk_coverage", "rare_missing", "type_missing")
FEATURES = SENTENCE_FEATURES + QUESTION_FEATURES

_CONTEXT_SHARE = 0.2  # how much the title/headings around a sentence count towards its coverage
_TYPED_ANSWERS = frozenset({"time", "amount", "count"})  # answered only by a sentence holding one (a name is
# too loosely detected to require: any capitalised word looks like one)
_TYPE_WINDOW = 3  # type_missing: none of this many best sentences holds the expected type
_DENSE_TOP_CHUNKS = 3  # every readable sentence of the best chunks is embedded (a paraphrase shares few words)
_DENSE_MAX_SENTENCES = 32  # ... plus the best others by coverage, up to this many per question


# --- answer types -------------------------------------------------------------------------------
# A "when" question is answered by a time, not by any number: "いつまでに提出" wants "30日以内", not "5万円".
_TIME_QUESTION = re.compile(
    # "when" asks for a time where it opens the question ("When is...", "Since when"), not in a clause of another
    # question ("What happens when sunlight hits it?", "What is White suffering from when Bond finds him?").
    r"(?:^|[.?!]\s+|\b(?:and|or|since|until|till|by)\s+)\W*when\b|"
    r"\b(what (year|date|day|month|time)|which (year|date|day|month)|(in|by) what (year|date|month)|"
    r"how (long|often|soon|early|late|quickly)|what time)\b|いつ|何[年月日時分秒曜]|何時間|何日間|何か月|何ヶ月|何週|期限|締め切り|締切|"
    r"どのくらいの期間|何年ごと|頻度",
    re.IGNORECASE,
)
_AMOUNT_QUESTION = re.compile(
    r"\b(how much|what (percentage|percent|amount|price|rate)|what does .+ cost)\b|いくら|幾ら|何円|何パーセント|金額|何[%％割]|"
    # "What daily allowance do I get", "What is the budget for X": asking what a money noun is asks for an amount
    # (the noun heads what is asked: "what is the revision code of the salary bands" asks for a code).
    r"\bwhat(?:'s| is| are| was| were)?(?: the| a| an| my| our| your)?(?: [\w-]+){0,3}? "
    # ... and only as the head of the phrase: "the salary band revision code" asks for a code.
    r"(fee|cost|price|allowance|budget|fare|salary|wage|stipend|per diem)s?\b"
    r"(?!\s+(?:band|grade|code|range|table|level|centre|center|number|holder|owner|policy|rule)s?\b)",
    re.IGNORECASE,
)
# "How much energy / water" asks for a quantity in any unit, not for money ("how much does it cost", "how much do
# I get", "how much is the fee" do).
_QUANTITY_QUESTION = re.compile(
    r"\bhow much (?!(?:money|cash|budget|funding|revenue|profit|income|tax|rent|salary|pay|fee|cost)s?\b)"
    r"(?!(?:does|do|did|is|are|was|were|will|would|can|could|should|has|have|had|of|for|to|in|on|per|more|less|"
    r"extra|i|we|you|they|he|she|it)\b)[a-z]+",
    re.IGNORECASE,
)
# "どれくらい時間がかかりますか" asks for a duration: どれくらい alone would make it a count.
_DURATION_QUESTION = re.compile(r"(どれくらい|どのくらい|どれだけ|どの程度)の?(時間|期間|日数)|時間(が|は)?(どれくらい|どのくらい)")
_COUNT_QUESTION = re.compile(
    r"\b(how (many|old|far|big|large|tall|high|fast)|what number)\b|いくつ|幾つ|何[歳才人個回件枚台本名度倍行]|どのくらい|どれくらい|どれだけ",
    re.IGNORECASE,
)
_NAME_QUESTION = re.compile(r"\b(who|whom|whose)\b|誰|だれ", re.IGNORECASE)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundred|thousand|million|billion|dozen|half"
_HAS_NUMBER = re.compile(
    rf"\d|[〇一二三四五六七八九十百千万億]|\b({_NUMBER_WORDS}|once|twice|{_MONTHS}|{_WEEKDAYS}|daily|weekly|monthly|"
    rf"annually|yearly)\b|毎[日週月年]|半",
    re.IGNORECASE,
)
_HAS_TIME = re.compile(
    rf"\b(1[0-9]|20)\d\d\b|\d{{1,2}}:\d\d|[\d〇一二三四五六七八九十百]+\s*(年|か月|ヶ月|カ月|月|週間|週|日|時間|時|分|秒|営業日|曜|世紀)|"
    rf"\b({_NUMBER_WORDS}|\d+|a|an)[\s-]+(business |working |calendar )?(years?|months?|weeks?|days?|hours?|minutes?|seconds?|nights?)\b|"
    rf"\b({_MONTHS}|{_WEEKDAYS}|daily|weekly|monthly|quarterly|annually|yearly|today|tomorrow|century|decade)\b|"
    rf"\b(1[0-9]|20)\d0s\b|'[0-9]0s\b|"  # a decade: the 1970s, the '90s
    # Quarters, halves and seasons date plans ("we acquire Tanuki Corp in Q4", "2026年度上期").
    rf"\b(Q[1-4]|H[12])\b|\b(first|second|third|fourth|last|next|this) quarter\b|\b(spring|summer|autumn|fall|winter)\b|"
    rf"四半期|[上下]半?期|\bday (one|1)\b|"
    # An ordinal day, week or month ("from the third calendar day", "the 2nd business day") is a time.
    rf"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d+(st|nd|rd|th))[\s-]+"
    rf"(business |working |calendar )?(day|week|month|year|night)s?\b|"
    # まで / 以内 ("until", "within") are a time only with a number or a day before them, which the units above match.
    rf"毎[日週月年]|[月火水木金土日]曜|翌月|当月|前月|[前当翌]日|[前翌]営業日|月末|月初|年末|年始|年度末",
    re.IGNORECASE,
)
_HAS_AMOUNT = re.compile(r"[¥￥€$£%％]|\d\s*[十百千万億兆]*\s*(円|ユーロ|ドル|yen|euros?|dollars?|percent|割)|\b(free|no charge)\b|無料|全額", re.IGNORECASE)
_HAS_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+|[\u30a0-\u30ff]{2,}|[\u4e00-\u9fff]{1,3}(さん|氏|部長|課長|様)")


def expected_type(question: str) -> str:
    """What the answer must hold: ``time``, ``amount``, ``count`` (any number), ``name``, or ``""`` (anything)."""
    if _QUANTITY_QUESTION.search(question):
        return "count"
    if _AMOUNT_QUESTION.search(question):
        return "amount"
    if _DURATION_QUESTION.search(question):
        return "time"
    if _COUNT_QUESTION.search(question):
        return "count"
    if _TIME_QUESTION.search(question):
        return "time"
    if _NAME_QUESTION.search(question):
        return "name"
    return ""


# What a sentence says, for its answer type: not the chat message's header ("Yuki Sato (2026-03-11 14:10): ...",
# the time it was posted, which every message of a thread has), not the digits of a link (".../pages/1009" is no
# year) and not those of a hyphenated id (INC-2026-014, AMR-200: neither a year nor a count). Otherwise every chat
# message, linked line or ticket mention would look like it holds a time, a number and a name.
_MESSAGE_HEADER = re.compile(
    r"^\s*[^\s:()\[\]][^:()\[\]\n]{0,60}[(\[]\s*\d{4}-\d\d-\d\d[ T]\d{1,2}:\d\d(?::\d\d)?\s*[)\]]\s*:\s*"
)
_LINK = re.compile(r"<(?:https?|mailto):[^|>\s]*\|([^>]*)>|<(?:https?|mailto):[^>\s]*>|\b(?:https?://|www\.)\S+")
_HYPHENATED_ID = re.compile(r"(?<![\w-])[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*-[A-Za-z0-9]*\d[A-Za-z0-9-]*")


def said(sentence: str) -> str:
    """The sentence without a chat message's speaker-and-time header, link targets (a label stays) and hyphenated ids."""
    text = _LINK.sub(lambda m: m.group(1) or " ", _MESSAGE_HEADER.sub("", sentence, count=1))
    return _HYPHENATED_ID.sub(" ", text)


def holds_type(sentence: str, kind: str) -> bool:
    sentence = said(sentence)
    if kind == "time":
        return _HAS_TIME.search(sentence) is not None
    if kind == "amount":
        return _HAS_AMOUNT.search(sentence) is not None
    if kind == "count":
        return _HAS_NUMBER.search(sentence) is not None
    if kind == "name":
        return _HAS_NAME.search(sentence) is not None
    return True


# --- answer units ---------------------------------------------------------------------------------
# A sentence that asks is never an answer by itself, yet it often restates the asker's question in the
# document's words: an FAQ's "Q. 領収書をなくしてしまいました。" or a Slack message "Can I expense X?". What
# answers it is what follows, so the two are one unit (the question, then its reply), and an asking sentence
# with no reply after it in the chunk is no candidate at all.
_ASKS = re.compile(r"[?？]\W*$|^\W*(Q|Ｑ|質問)\s*[.:．：]", re.IGNORECASE)


def asks(sentence: str) -> bool:
    """Whether a document sentence is a question (ends with a question mark or is an FAQ's Q. line)."""
    return _ASKS.search(sentence) is not None


def answer_units(text: str) -> list[str]:
    """The chunk's sentences, each question joined with the sentence that follows it (its reply)."""
    sentences = split_sentences(text)
    units = []
    for i, sentence in enumerate(sentences):
        if not asks(sentence):
            units.append(sentence)
        elif i + 1 < len(sentences) and not asks(sentences[i + 1]):
            units.append(_span(text, sentence, sentences[i + 1]))
    return units


def _span(text: str, first: str, second: str) -> str:
    """``first`` through ``second`` as the text has them (so a quoted pair is verbatim, line breaks and all)."""
    start = text.find(first)
    end = text.find(second, start + len(first)) if start >= 0 else -1
    if end < 0:
        return f"{first} {second}"
    return text[start : end + len(second)]


# --- identifiers -------------------------------------------------------------------------------
# A cost centre, ticket, fiscal year, grade or model (CC-600, INC-2026-014, FY2028, G4, DB10) names one thing.
# When no document the asker may read holds it, the documents cannot answer a question about it, however
# close their topic: the question gets "not found" (the restricted salary table's G4 stays unknown to someone
# who may not read it). Measures (100m, 1600s, 3rd) start with a digit and are not identifiers.
_IDENTIFIER = re.compile(r"(?<![A-Za-z0-9\-])[A-Za-z][A-Za-z]*(?:-?[A-Za-z]*\d[A-Za-z0-9]*)(?:-[A-Za-z0-9]+)*(?![A-Za-z0-9\-])")


def identifiers(question: str) -> list[str]:
    """The question's identifiers: a letter first, a digit somewhere (FY2028, CC-600, G4, p95)."""
    return list(dict.fromkeys(_IDENTIFIER.findall(unicodedata.normalize("NFKC", question))))


def _compact(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", unicodedata.normalize("NFKC", text).lower())


def _holds_identifier(text: str, identifier: str) -> bool:
    """The identifier in the text, ignoring case, hyphens and spaces (FY 2028 = FY2028); a plural "DB10s" is DB10."""
    wanted = re.sub(r"(?<=\d)s$", "", _compact(identifier))
    return bool(wanted) and wanted in _compact(text)


# --- specific terms ------------------------------------------------------------------------------
# The words that pin a question to one fact: numbers, years, versions and ids (2027, 9.0, CC-600, FY2025),
# capitalised names in English (Munich, HoshiOS), proper nouns and quoted names in Japanese (名古屋, 「梅」).
# A near-miss question keeps its topic and changes exactly these, so an answer sentence must hold them
# (or its title and headings must); ordinary words may be paraphrased.
_WITH_DIGIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-/]*")  # kept when it holds a digit
_CAPITALISED = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][A-Za-z0-9\-]*[A-Za-z0-9]\b")
_AMOUNT = re.compile(r"[¥￥€$£]\s?[\d.,]+\s?[MmKk万億]?|[\d.,]+\s?(?:万|億)?(?:円|ユーロ|ドル|yen|euros?|EUR|JPY)")
_QUOTED = re.compile(r"[「『\"“]([^」』\"”]{1,20})[」』\"”]")
# Katakana words joined by a middle dot are one name (プロジェクト・ツバメ, ジョン・スミス), even where Sudachi reads the
# words as common nouns (ツバメ, the bird): the dot is how Japanese writes a foreign or coined name.
_DOTTED_NAME = re.compile(r"[\u30a1-\u30fa\u30fc]+(?:[・=][\u30a1-\u30fa\u30fc]+)+")


def specific_terms(question: str) -> frozenset[str]:
    """BM25 terms of the question's numbers, ids, names and quoted names (see above)."""
    from retrieval.tokenize import japanese_proper_nouns

    question = unicodedata.normalize("NFKC", question)
    question = _AMOUNT.sub(" ", question)  # an amount is the asker's input ("a €2,500 report"), not what pins the fact
    pieces = [w for w in _WITH_DIGIT.findall(question) if any(c.isdigit() for c in w)] + _QUOTED.findall(question)
    pieces += _DOTTED_NAME.findall(question)
    pieces += [w for w in _CAPITALISED.findall(question.strip()) if w.lower() not in _NOT_NAMES]
    if has_japanese(question):
        pieces += japanese_proper_nouns(question)
    return frozenset(t for piece in pieces for t in tokenize(piece))


_NOT_NAMES = frozenset("i i'm i've what when where which who whom whose why how is are do does can could".split())


# --- synonyms ------------------------------------------------------------------------------------
class Synonyms:
    """Sudachi synonym groups keyed by BM25 term: ``expand(term)`` is the term and what it may be written as."""

    def __init__(self, groups: Sequence[Sequence[str]] = ()) -> None:
        self._alternatives: dict[str, set[str]] = {}
        for group in groups:
            members = {t.lstrip("~") for t in group}
            for term in group:
                if not term.startswith("~"):
                    self._alternatives.setdefault(term, set()).update(members)

    @classmethod
    def load(cls, path: Path = SYNONYMS_FILE) -> "Synonyms":
        """The groups in ``path``, parsed once per machine (retrieval/table_cache.py): ~30 ms instead of ~150."""
        from retrieval.table_cache import SplitValues, load_table

        def parse(source: Path) -> dict[str, str]:
            with gzip.open(source, "rt", encoding="utf-8") as handle:
                parsed = cls([line.split() for line in handle if line.strip()])
            return {term: "\t".join(sorted(words)) for term, words in parsed._alternatives.items()}

        synonyms = cls()
        synonyms._alternatives = SplitValues(load_table(path, "synonyms", 1, parse))
        return synonyms

    def expand(self, term: str) -> frozenset[str]:
        alternatives = self._alternatives.get(term)
        return frozenset(alternatives | {term}) if alternatives else frozenset((term,))


_SYNONYMS: Synonyms | None = None
_SYNONYMS_LOCK = threading.Lock()


def default_synonyms() -> Synonyms:
    global _SYNONYMS
    with _SYNONYMS_LOCK:
        if _SYNONYMS is None:
            _SYNONYMS = Synonyms.load()
        return _SYNONYMS


# --- corpus rarity -------------------------------------------------------------------------------
class TermStats(Protocol):
    def idf(self, term: str) -> float:
        """Normalised rarity in the corpus: about 1.1 for a term no document has, near 0 for one all have."""

    def mentions(self, identifier: str) -> bool:
        """Whether any document (that the asker may read) holds this identifier (CC-600, FY2028, G4)."""

    def holds(self, term: str) -> bool:
        """Whether any document (that the asker may read) holds this BM25 term."""


def normalised_idf(df: int, n: int) -> float:
    return math.log((n + 1) / (df + 0.5)) / math.log(n + 1.5)


@dataclass
class CountTermStats:
    """Rarity from known document frequencies (the fit script's corpora; the candidates themselves)."""

    df: dict[str, int]
    n: int

    @classmethod
    def of_texts(cls, term_sets: Sequence[set[str]]) -> "CountTermStats":
        df: dict[str, int] = {}
        for terms in term_sets:
            for t in terms:
                df[t] = df.get(t, 0) + 1
        return cls(df, len(term_sets))

    def idf(self, term: str) -> float:
        return normalised_idf(self.df.get(term, 0), max(1, self.n))

    def mentions(self, identifier: str) -> bool:
        """Only terms are counted here, so an identifier counts as held when each of its terms is somewhere."""
        return all(self.df.get(t, 0) > 0 for t in tokenize(identifier))

    def holds(self, term: str) -> bool:
        return self.df.get(term, 0) > 0


class StoreTermStats:
    """Rarity from the index itself: a one-term BM25 query counts the chunks these principals may read.

    Only terms missing from every candidate are looked up (usually none or one), counted up to ``cap``
    chunks: beyond that a term is common, whatever the exact figure. Counting only readable chunks keeps
    a restricted document from changing how an answer to someone else comes out.
    """

    def __init__(self, store, encoder, principals: Sequence[str], *, cap: int = 50) -> None:
        self.store, self.encoder, self.principals, self.cap = store, encoder, tuple(principals), cap
        self._n: int | None = None
        self._counts: dict[str, int] = {}

    def _count(self, term: str) -> int:
        """Readable chunks holding the term, up to ``cap``."""
        if term not in self._counts:
            from core.store import HybridQuery

            sparse = self.encoder.encode_terms([term])
            hits = self.store.query(
                HybridQuery(dense=None, sparse=sparse, principals=self.principals, limit=self.cap, weights=(0.0, 1.0))
            )
            if self._n is None:
                self._n = max(self.store.count(), len(hits), 1)
            self._counts[term] = len(hits)
        return self._counts[term]

    def idf(self, term: str) -> float:
        count = self._count(term)
        return normalised_idf(count, self._n or 1)

    def holds(self, term: str) -> bool:
        return self._count(term) > 0

    def mentions(self, identifier: str) -> bool:
        """A BM25 query for the identifier's terms, then its exact form in the hits' text ("CC-600", not "600")."""
        from core.store import HybridQuery

        sparse = self.encoder.encode_terms(tokenize(identifier))
        hits = self.store.query(
            HybridQuery(dense=None, sparse=sparse, principals=self.principals, limit=self.cap, weights=(0.0, 1.0))
        )
        return any(_holds_identifier(h.chunk.text + " " + h.chunk.title, identifier) for h in hits)


# --- the model -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Weights:
    """One fitted logistic combination of FEATURES, with its thresholds."""

    intercept: float
    weights: dict[str, float]
    threshold: float
    gate_threshold: float

    def sentence_score(self, features: dict[str, float]) -> float:
        return sum(self.weights.get(name, 0.0) * features[name] for name in SENTENCE_FEATURES)

    def question_score(self, features: dict[str, float]) -> float:
        return sum(self.weights.get(name, 0.0) * features[name] for name in QUESTION_FEATURES)


def load_weights(path: Path = WEIGHTS_FILE) -> dict[str, Weights]:
    """The fitted models, each answer threshold moved by its ``domain_shift`` and each LLM gate threshold by its
    ``gate_shift`` (log-odds) when the file has them.

    The thresholds are chosen on the public validation articles (SQuAD, JSQuAD); the shifts move them to what Kura's
    own development question sets call for (written company questions, realistic near misses; see the file's
    ``provenance.domain_shift`` and ``provenance.gate_shift``).
    """
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: Weights(m["intercept"], dict(m["weights"]), _shifted(m["threshold"], m.get("domain_shift", 0.0)),
                      _shifted(m["gate_threshold"], m.get("gate_shift", 0.0)))
        for name, m in raw["models"].items()
    }


def _shifted(threshold: float, shift: float) -> float:
    if not shift:
        return threshold
    return 1.0 / (1.0 + math.exp(-(math.log(threshold / (1.0 - threshold)) + shift)))


@dataclass(frozen=True)
class SentenceCandidate:
    """One sentence of a retrieved chunk and what the model measured of it."""

    sentence: str
    chunk: ScoredChunk
    rank: int
    position: int
    features: dict[str, float]
    score: float  # the fitted sentence part of z: higher answers the question better


@dataclass(frozen=True)
class Assessment:
    """The model's verdict on one question and its retrieved chunks."""

    probability: float
    model: str  # "dense" or "lexical"
    expected_type: str
    features: dict[str, float]
    candidates: list[SentenceCandidate] = field(default_factory=list)  # best first
    margin: float = -math.inf  # log-odds over the answer threshold of the best sentence's model: >= 0 answers
    gate_margin: float = -math.inf  # the same over the LLM gate's threshold: >= 0 calls the model
    # What makes the question a near miss whatever the score (never answerable): identifiers no readable document
    # holds (CC-600), months no retrieved chunk holds where they date facts by month (2027-04), a year the sentences
    # on the topic do not date it in (2027), a service the best sentence does not name among the others (telemetry-ingest)
    unknown: tuple[str, ...] = ()

    def answerable(self, threshold: float | None = None) -> bool:
        """At the fitted thresholds, or at one fixed probability threshold when given."""
        return self.margin >= 0 if threshold is None else bool(self.candidates) and self.probability >= threshold


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@lru_cache(maxsize=8192)
def _bridged_terms(term: str) -> frozenset[str]:
    from retrieval.term_bridge import default_bridge

    bridge = default_bridge()
    if bridge is None or len(term) < 2:
        return frozenset()
    found = set()
    for word in bridge.translations(term):
        pieces = tokenize(word)
        if len(pieces) == 1:
            found.add(pieces[0])
    return frozenset(found)


@lru_cache(maxsize=1024)
def _bridged_phrases(question: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """The English question's phrases in the term bridge, each with its translations as single BM25 terms."""
    from retrieval.term_bridge import default_bridge

    bridge = default_bridge()
    if bridge is None:
        return ()
    found = []
    for phrase, words in bridge.phrase_translations(question):
        pieces = frozenset(p[0] for p in map(tokenize, words) if len(p) == 1)
        if pieces:
            found.append((phrase, pieces))
    return tuple(found)


# A hyphenated word is also written joined: on-call / oncall, Wi-Fi / wifi, e-mail / email, sign-in / signin.
_HYPHENATED_WORD = re.compile(r"(?<![\w-])[A-Za-z]+(?:-[A-Za-z]+)+(?![\w-])")


@lru_cache(maxsize=8192)
def _terms(text: str) -> frozenset[str]:
    """BM25 terms of the text, the joined form of its hyphenated words, and the readings of its Japanese words
    (see ``_reading_of``)."""
    terms = frozenset(tokenize(text)) | frozenset(w.replace("-", "").lower() for w in _HYPHENATED_WORD.findall(text))
    if has_japanese(text):
        from retrieval.tokenize import japanese_readings, japanese_stems

        terms |= frozenset(_READING + r for r in japanese_readings(text))
        terms |= frozenset(_STEM + r for r in japanese_stems(text))
    return terms


_READING = "\x1e"  # marks a reading among the terms, so ケイヒ the reading never equals a katakana word by accident


@lru_cache(maxsize=8192)
def _reading_of(term: str) -> frozenset[str]:
    """A Japanese term's reading (one word), as ``_terms`` records it."""
    from retrieval.tokenize import japanese_readings

    readings = japanese_readings(term) if has_japanese(term) else []
    return frozenset((_READING + readings[0],)) if len(readings) == 1 else frozenset()


_STEM = "\x1d"  # marks a kanji stem among the terms (see ``_stem_of``)
_HIRAGANA = re.compile(r"[\u3041-\u309f]")


@lru_cache(maxsize=8192)
def _stem_of(term: str) -> frozenset[str]:
    """A Japanese term written with okurigana, by its kanji alone: the noun 繰り越し meets the verb 繰り越せます
    (Sudachi splits that into 繰る / 越す), 振り込み meets 振り込まれます. Terms of pure kanji match as they are."""
    from retrieval.tokenize import kanji_stem

    stem = kanji_stem(term) if _HIRAGANA.search(term) else ""
    return frozenset((_STEM + stem,)) if stem else frozenset()


def _misspelt(term: str, vocabulary: frozenset[str]) -> frozenset[str]:
    """Words of the vocabulary one typing slip from a Latin term (two for long ones): sesion ~ session,
    lenght ~ length, replacment ~ replacement. Short words and numbers are left exact."""
    if len(term) < 4 or not term.isascii() or not term.isalpha():
        return frozenset()
    limit = 1 if len(term) < 8 else 2
    return frozenset(
        w for w in vocabulary
        if w.isascii() and abs(len(w) - len(term)) <= limit and w[0] == term[0] and within_edits(term, w, limit)
    )


def _respelt(question: str, slips: dict[str, frozenset[str]], embedder) -> str:
    """The question with each typing slip the model cannot read replaced by the one word of the candidates it
    stands for, for the embedder: "sesion" is word-pieces the model never saw together, "session" one it knows.
    A word the model reads whole ("receipts" for "receipt") is left as typed."""
    for typed, words in slips.items():
        if len(words) == 1:
            (word,) = words
            if embedder.count_word_pieces(typed) > embedder.count_word_pieces(word):
                question = re.sub(rf"\b{re.escape(typed)}\b", word, question, flags=re.IGNORECASE)
    return question


# A lower-case hyphenated compound names a system, a service, a queue (telemetry-ingest, fleet-api); the page
# marks its own as code (`fleet-api`), which tells them from prose (high-rises, self-identified, on-call).
_CODE_NAME = re.compile(r"(?<![\w-])[a-z][a-z0-9]*(?:-[a-z0-9]+)+(?![\w-])")
_CODE_SPAN = re.compile(r"`([a-z][a-z0-9]*(?:-[a-z0-9]+)+)`")


def _named_sibling(question: str, sentence: str) -> tuple[str, ...]:
    """The question's hyphenated names, when the best sentence holds none of them and names other services as
    code: "p95 latency below 400 ms for `fleet-api`" does not answer the p95 of telemetry-ingest."""
    asked = set(_CODE_NAME.findall(question.lower()))
    if not asked:
        return ()
    text = said(sentence).lower()
    held = set(_CODE_SPAN.findall(text))
    return tuple(sorted(asked)) if held and not set(_CODE_NAME.findall(text)) & asked else ()


_DATE_UNITS = frozenset("年月日")  # the 年 of "2027年" is part of the year, not of the topic


def _year_elsewhere(terms, specific, alternatives, candidates) -> tuple[str, ...]:
    """The question's years when the sentences that hold all the rest of the question name other years only.

    "2027年の夏季賞与はいつ" against a row "夏季賞与: 2026年7月10日": the one sentence about the summer bonus dates it
    2026, so the documents give this fact for another year, even where 2027 is elsewhere on the page (a heading's
    "2026年4月〜2027年3月"). A sentence with the whole topic that dates nothing by month, or that dates it in the asked
    year, keeps the question open; so does a question whose every term is a year or a name.
    """
    years = [t for t in specific if is_year(t)]
    topic = [t for t in terms if t not in specific and t not in _DATE_UNITS]
    if not years or not topic:
        return ()
    named: set[int] = set()
    for sentence, hit, *_ in candidates:
        around = _terms(sentence) | _terms(" ".join([hit.chunk.title, *hit.chunk.heading_path]))
        if not all(alternatives[t] & around for t in topic):
            continue
        text = said(sentence)
        # Only a sentence that dates the fact by month counts ("2026年7月10日"; "2017年12月 ... 1月22日" names 2018
        # too): a bare year is as often the time of something else in the sentence ("the second largest city in
        # 1790", "worth $1.1 billion in 2006") and keeps the question open, as a sentence with no year does.
        found = {year for year, _ in held_months(text)}
        if not found:
            return ()
        named |= found
    if not named or any(int(y) in named for y in years):
        return ()
    return tuple(years)


def _names(text: str) -> frozenset[str]:
    """The names a text mentions (Berlin, HoshiOS, 大阪, プロジェクト・ツバメ) as BM25 terms; a chat header's speaker is none."""
    from retrieval.tokenize import japanese_proper_nouns

    text = unicodedata.normalize("NFKC", said(text))
    pieces = [w for w in _CAPITALISED.findall(text.strip()) if w.lower() not in _NOT_NAMES] + _DOTTED_NAME.findall(text)
    if has_japanese(text):
        pieces += japanese_proper_nouns(text)
    return frozenset(t for piece in pieces for t in tokenize(piece))


def _about_another(cand: SentenceCandidate, held: float, asked: frozenset[str]) -> bool:
    """The sentence misses some of the question's names and numbers that the best sentence holds, and names
    something the question does not: "In Berlin a badge costs €25" is about another office than Tokyo's."""
    return cand.features["specific"] < held and bool(_names(cand.sentence) - asked)


_JAPANESE_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")


def _mostly_japanese(text: str) -> bool:
    """More Japanese characters than Latin letters / 3 (an English page quoting 夏季休暇 stays English)."""
    return len(_JAPANESE_CHAR.findall(text)) * 3 > len(_LATIN_LETTER.findall(text))


def _ranks_by_language(question: str, chunks: Sequence[ScoredChunk]) -> list[int]:
    """Each chunk's rank among the chunks in the question's language, ahead of the others' fused ranks.

    A question searched in two languages gets two rankings fused in turns (retrieval/multiquery.py): an English
    question's best English chunk is first, its translation's best Japanese chunk second, the second English chunk
    third. The rank feature was fitted on one-language retrieval, where the third chunk is the third best; here it
    is the second best of its kind. A corpus in one language keeps the fused ranks as they are.
    """
    asked = _mostly_japanese(question)
    ranks, same_language = [], 0
    for fused, hit in enumerate(chunks):
        if _mostly_japanese(hit.chunk.text) == asked:
            ranks.append(same_language)
            same_language += 1
        else:
            ranks.append(fused)  # a translation's chunk keeps its fused rank: it is no first choice for this question
    return ranks


class AnswerabilityModel:
    """Scores how likely the retrieved chunks answer a question; ranks their sentences by the same model."""

    def __init__(
        self,
        embedder=None,
        *,
        weights: dict[str, Weights] | None = None,
        synonyms: Synonyms | None = None,
        unk_threshold: float = 0.5,
        dense_sentences: int = 5,
        cache_size: int = 4096,
        sentence_store=None,
    ) -> None:
        if dense_sentences < 1 or not 0 < unk_threshold <= 1:
            raise ValueError("dense_sentences must be >= 1 and unk_threshold in (0, 1]")
        self.embedder = embedder
        self.weights = weights or load_weights()
        self._synonyms = synonyms
        self.unk_threshold = unk_threshold
        self.dense_sentences = dense_sentences
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self.sentence_store = sentence_store  # a SentenceVectorStore shared with other processes, or None
        self._lock = threading.Lock()

    @property
    def synonyms(self) -> Synonyms:
        if self._synonyms is None:
            self._synonyms = default_synonyms()
        return self._synonyms

    def reads(self, question: str) -> bool:
        """Whether the embedder can read the question's language (else the lexical weights are used)."""
        share = getattr(self.embedder, "unknown_share", None)
        return self.embedder is not None and share is not None and share(question) < self.unk_threshold

    def threshold(self, question: str, *, gate: bool = False) -> float:
        w = self.weights["dense" if self.reads(question) else "lexical"]
        return w.gate_threshold if gate else w.threshold

    # --- scoring ---------------------------------------------------------------------------------
    def assess(
        self, question: str, chunks: Sequence[ScoredChunk], *, term_stats: TermStats | None = None,
        rules: bool = True, gate: bool = True,
    ) -> Assessment:
        """How likely ``chunks`` answer ``question``, and every usable sentence ranked best first.

        Each sentence is scored by the model that can read it: ``dense`` where the embedder reads both the
        question and the sentence, ``lexical`` otherwise (a Japanese sentence for an English question is
        matched through the term bridge and synonyms). The two are compared by their margin over their own
        threshold, in log-odds, so the best sentence of either kind can decide.

        A near-miss rule that fires (an unknown identifier, name, version, compound, month or year, a sibling
        service) makes the question unanswerable for the offline answerer, but not for the LLM gate: the gate margin
        is then the scores' alone (``rules=False``), so an LLM still reads what a rule misjudged (a month the
        calendar writes another way, a misspelt service name) and its NOT_FOUND judges the rest. That costs a second
        scoring; a caller that never reads the gate (the offline answerer) passes ``gate=False`` and skips it.
        """
        readable = self.reads(question)
        kind = expected_type(question)
        terms = question_terms(question)
        empty = {f: 0.0 for f in FEATURES}
        if not chunks or not terms:
            return Assessment(0.0, "lexical", kind, empty, margin=-math.inf, gate_margin=-math.inf)
        index_rules = rules and term_stats is not None  # the rules that ask the index what the asker may read
        unknown = self._unknown_identifiers(question, chunks, term_stats) if index_rules else ()
        if index_rules and not unknown:  # a name no readable document mentions (chat/names.py)
            unknown = unknown_names(question, chunks, translations=self._bridged, mentioned=term_stats.mentions)
        if index_rules and not unknown:  # a version no readable document mentions (chat/unknown_terms.py)
            unknown = unknown_versions(question, [c.chunk.title + "\n" + c.chunk.text for c in chunks], term_stats.mentions)
        if rules:
            unknown += self._unheld_months(question, chunks)
        if unknown:
            return self._ruled_out(question, chunks, kind, unknown, term_stats, gate)
        alternatives = {t: self._alternatives(t) for t in terms}
        for phrase, translations in _bridged_phrases(question):  # "business trip" is 出張 as one term
            for t in tokenize(phrase):
                if t in alternatives:
                    alternatives[t] = alternatives[t] | translations
        specific = [t for t in terms if t in specific_terms(question)]
        numbers = [t for t in specific if any(ch.isdigit() for ch in t)]  # a year, version or id asked about
        chunk_terms = [_terms(c.chunk.index_text) | _terms(c.chunk.title) for c in chunks]
        vocabulary = frozenset().union(*chunk_terms)
        slips = {t: _misspelt(t, vocabulary) for t in terms if not alternatives[t] & vocabulary}
        for t, words in slips.items():  # a word the candidates never hold may be a slip of the keyboard
            alternatives[t] |= words
        if index_rules:  # a compound's part no readable document has: 介護休業 against 育児休業
            compounds = unknown_compounds(
                question,
                [c.chunk.title + "\n" + c.chunk.text for c in chunks],
                held=lambda t: bool((alternatives.get(t) or self._alternatives(t)) & vocabulary),
                in_corpus=term_stats.holds,
            )
            if compounds:
                return self._ruled_out(question, chunks, kind, compounds, term_stats, gate)
        local = CountTermStats.of_texts(chunk_terms)  # rarity among the candidates weighs coverage
        # (a slip weighs as the word it was meant to be, not as a word no candidate has)
        df = {t: sum(1 for words in chunk_terms if slips[t] & words) if slips.get(t) else local.df.get(t, 0) for t in terms}
        term_weight = {t: normalised_idf(df[t], max(1, len(chunk_terms))) for t in terms}
        total = sum(term_weight.values()) or 1.0

        def coverage(words: frozenset[str]) -> float:
            return sum(w for t, w in term_weight.items() if alternatives[t] & words) / total

        candidates = []
        ranks = _ranks_by_language(question, chunks)
        for fused_rank, hit in enumerate(chunks):
            rank = ranks[fused_rank]
            context = _terms(" ".join([hit.chunk.title, *hit.chunk.heading_path]))
            for position, sentence in enumerate(answer_units(hit.chunk.text)):
                if looks_like_instruction(sentence):
                    continue  # a document's order to the assistant is never an answer
                words = _terms(sentence)
                around = words | context
                own = coverage(words)
                cov = (1 - _CONTEXT_SHARE) * own + _CONTEXT_SHARE * coverage(around)
                held = [t for t in specific if alternatives[t] & around]
                features = {"coverage": cov, "dense": 0.0, "type": float(holds_type(sentence, kind)) if kind else 0.0,
                            "rank": 1.0 / (rank + 1), "specific": len(held) / len(specific) if specific else 1.0,
                            "number_missing": float(any(t not in held for t in numbers))}
                dense_ok = readable and self._reads_text(sentence)
                if not dense_ok and own == 0.0:
                    continue  # read by words alone, a sentence without one word of the question answers nothing
                candidates.append([sentence, hit, rank, position, features, dense_ok])
        if not candidates:
            return Assessment(0.0, "lexical", kind, empty, margin=-math.inf, gate_margin=-math.inf)
        other_year = _year_elsewhere(terms, specific, alternatives, candidates) if rules else ()
        if other_year:
            return self._ruled_out(question, chunks, kind, other_year, term_stats, gate)
        candidates.sort(key=lambda c: c[4]["coverage"] + 0.05 * c[4]["rank"], reverse=True)
        if readable:
            self._add_dense(_respelt(question, slips, self.embedder), self._to_embed(candidates))
        missing = [t for t in specific if not any(alternatives[t] & words for words in chunk_terms)]
        stats = term_stats or local
        question_features = {
            "chunk_coverage": max(coverage(frozenset(words)) for words in chunk_terms),
            "rare_missing": max((stats.idf(t) for t in missing), default=0.0),
        }
        ranked = []
        for sentence, hit, rank, position, features, dense_ok in candidates:
            w = self.weights["dense" if dense_ok else "lexical"]
            ranked.append((SentenceCandidate(sentence, hit, rank, position, features, w.sentence_score(features)), w))
        # type_missing: none of the three best sentences (by their own model's sentence score) holds the type
        type_missing = float(bool(kind) and not any(
            c.features["type"] for c, _ in sorted(ranked, key=lambda x: x[0].score, reverse=True)[:_TYPE_WINDOW]
        ))
        question_features["type_missing"] = type_missing
        scored = []
        for cand, w in ranked:
            z = w.intercept + cand.score + w.question_score(question_features)
            scored.append((z - _logit(w.threshold), z - _logit(w.gate_threshold), z, w, cand))
        scored.sort(key=lambda x: x[0], reverse=True)
        gate_margin = max(g for _, g, _, _, _ in scored)
        top = scored[0]
        if kind in _TYPED_ANSWERS:
            # A question asking for a time, an amount or a count is answered by a sentence that holds one. With
            # none among the candidates, the documents do not say, however close their topic ("how many hours is
            # the lab safety course" against "the lab needs a safety course"): the LLM gate still reads every
            # sentence, its model may find the words. Otherwise the decision is the best sentence's, as for any
            # question, and the extractive answerer quotes a typed sentence first among those covering the question
            # about as well (``ExtractiveAnswerer.choose``): moving one ahead of a much better sentence quoted
            # "Before 10:00" from another page for "when do I install the VPN client", answered "before day one".
            names = _names(question)
            typed = [x for x in scored if x[4].features["type"] and not _about_another(x[4], top[4].features["specific"], names)]
            if not typed:
                order = [SentenceCandidate(c.sentence, c.chunk, c.rank, c.position, c.features, m) for m, _, _, _, c in scored]
                return Assessment(0.0, "lexical", kind, {**top[4].features, **question_features}, order,
                                  margin=-math.inf, gate_margin=gate_margin)
        margin, _, z, w, _ = top
        best = scored[0][4]
        sibling = _named_sibling(question, best.sentence) if rules else ()
        if sibling:
            return Assessment(0.0, "lexical", kind, empty, margin=-math.inf, gate_margin=gate_margin, unknown=sibling)
        name = "dense" if w is self.weights["dense"] else "lexical"
        order = [SentenceCandidate(c.sentence, c.chunk, c.rank, c.position, c.features, m) for m, _, _, _, c in scored]
        return Assessment(
            1.0 / (1.0 + math.exp(-z)), name, kind, {**best.features, **question_features}, order,
            margin=margin, gate_margin=gate_margin,
        )

    def _ruled_out(
        self, question: str, chunks: Sequence[ScoredChunk], kind: str, unknown: tuple[str, ...],
        term_stats: TermStats | None, gate: bool,
    ) -> Assessment:
        """Never answerable offline; the LLM gate's margin is the scores' without the rules (see ``assess``)."""
        gate_margin = self.assess(question, chunks, term_stats=term_stats, rules=False).gate_margin if gate else -math.inf
        empty = {f: 0.0 for f in FEATURES}
        return Assessment(0.0, "lexical", kind, empty, margin=-math.inf, gate_margin=gate_margin, unknown=unknown)

    @staticmethod
    def _unknown_identifiers(question: str, chunks: Sequence[ScoredChunk], term_stats: TermStats) -> tuple[str, ...]:
        """Identifiers no retrieved chunk holds and the corpus (what the asker may read) never mentions."""
        texts = [c.chunk.text + " " + c.chunk.title for c in chunks]
        return tuple(
            i for i in identifiers(question)
            if not any(_holds_identifier(t, i) for t in texts) and not term_stats.mentions(i)
        )

    @staticmethod
    def _unheld_months(question: str, chunks: Sequence[ScoredChunk]) -> tuple[str, ...]:
        """Months the question names (2027年4月, April 2027) that no retrieved chunk holds, where the chunks date
        their facts by month (chat/dates.py): the calendar lists other months, so its neighbour would be quoted.
        A chat message's posting time and a link's digits are no dates of its facts (see ``said``)."""
        if not asked_months(question):
            return ()  # most questions name no month: the chunks are not read for dates at all
        texts = [c.chunk.title + "\n" + "\n".join(said(line) for line in c.chunk.text.splitlines()) for c in chunks]
        return tuple(f"{year:04d}-{month:02d}" for year, month in missing_months(question, texts))

    def _reads_text(self, text: str) -> bool:
        return self.embedder.unknown_share(text) < self.unk_threshold

    def _to_embed(self, candidates: list) -> list:
        """Readable sentences worth a vector: all of the best chunks', then the best others by coverage."""
        readable = [c for c in candidates if c[5]]
        first = [c for c in readable if c[2] < _DENSE_TOP_CHUNKS]
        rest = [c for c in readable if c[2] >= _DENSE_TOP_CHUNKS][: max(0, _DENSE_MAX_SENTENCES - len(first))]
        return (first + rest)[:_DENSE_MAX_SENTENCES]

    def _alternatives(self, term: str) -> frozenset[str]:
        """The term and what it may be written as: synonyms, translations, its reading, its kanji stem."""
        return self.synonyms.expand(term) | self._bridged(term) | _reading_of(term) | _stem_of(term)

    def _bridged(self, term: str) -> frozenset[str]:
        """The term in the other language (the term bridge's tables), as single BM25 terms."""
        return _bridged_terms(term)

    def clear_cache(self) -> None:
        """Forget every cached vector (benchmarks measure a first sight of each sentence with it)."""
        with self._lock:
            self._vectors.clear()

    def prime(self, questions: Sequence[str], sentences: Sequence[str], batch: int = 256) -> None:
        """Embed many questions and sentences in large batches ahead of ``assess`` (the fit script's speed-up)."""
        for prefix, texts, embed in (("q\x1f", questions, self.embedder.embed_query), ("p\x1f", sentences, None)):
            todo = [t for t in dict.fromkeys(texts) if prefix + t not in self._vectors]
            for i in range(0, len(todo), batch):
                part = todo[i : i + batch]
                same = getattr(self.embedder, "query_prefix", "") == getattr(self.embedder, "passage_prefix", "")
                if embed is not None and not same:
                    vectors = [embed(t) for t in part]
                else:
                    vectors = self.embedder.embed_documents(part)
                with self._lock:
                    for text, vector in zip(part, vectors):
                        self._vectors[prefix + text] = np.asarray(vector, dtype=np.float32)

    def _add_dense(self, question: str, candidates: list) -> None:
        """Cosine of the question with each candidate sentence (vectors cached: documents repeat across asks)."""
        sentences = [c[0] for c in candidates]
        q_key = "q\x1f" + question
        with self._lock:
            want_q = q_key not in self._vectors
            want = [s for s in dict.fromkeys(sentences) if "p\x1f" + s not in self._vectors]
        # Sentences an earlier process embedded come from the data dir's store (chat/sentence_vectors.py).
        stored = self.sentence_store.get_many(want) if self.sentence_store is not None and want else {}
        fresh: dict[str, np.ndarray] = {"p\x1f" + s: v for s, v in stored.items()}
        want = [s for s in want if s not in stored]
        same_prefix = getattr(self.embedder, "query_prefix", "") == getattr(self.embedder, "passage_prefix", "")
        if want_q and same_prefix:
            # One forward pass for the question and the sentences when the model embeds both alike (MiniLM).
            vectors = self.embedder.embed_documents([question, *want])
            fresh[q_key] = vectors[0]
            fresh.update(("p\x1f" + s, v) for s, v in zip(want, vectors[1:]))
        else:
            if want_q:
                fresh[q_key] = self.embedder.embed_query(question)
            if want:
                fresh.update(("p\x1f" + s, v) for s, v in zip(want, self.embedder.embed_documents(want)))
        if self.sentence_store is not None and want:
            self.sentence_store.put_many({s: fresh["p\x1f" + s] for s in want})
        with self._lock:
            for key, vector in fresh.items():
                self._vectors[key] = np.asarray(vector, dtype=np.float32)
            q = self._vectors[q_key]
            sims = [float(np.dot(q, self._vectors["p\x1f" + s])) for s in sentences]
            for key in [q_key, *("p\x1f" + s for s in sentences)]:
                self._vectors.move_to_end(key)
            while len(self._vectors) > self._cache_size:
                self._vectors.popitem(last=False)
        for (_, _, _, _, features, _), sim in zip(candidates, sims):
            features["dense"] = sim
