"""Citation checking after generation: parse ``[n]`` per sentence, verify, score support.

For each sentence of the model's answer:

1. citations to numbers that are not sources are removed;
2. a sentence that reproduces the system prompt is dropped, whatever the setting;
3. links, e-mail addresses and phone numbers that the cited sources do not
   contain are removed (a link's text stays), and broadcast mentions are removed;
   the cited sources here are their text without instruction-like sentences, so a
   contact that only a document's injected order carries is removed too;
4. the sentence is scored with the support scorer against the text of the sources
   it cites (their instruction-like sentences left out, see ``chat.injection``);
   below ``threshold``, or without any valid citation, it is unsupported;
5. a sentence that repeats a document's instruction to the assistant, or is
   itself such an instruction or a request for a secret, is dropped in both modes;
6. other unsupported sentences are kept and marked, or dropped (``mode``).

Kept sources are renumbered 1..k in order of first citation, so the user sees
[1], [2] ... without gaps. ``AnswerVerifier`` takes sentences one at a time, so
the streaming answerer can release each sentence as soon as it is verified.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chat.context import ContextDocument
from chat.injection import leaks_prompt, looks_like_instruction, neutralise_mentions, split_instructions
from chat.support import content_terms
from core.protocols import SupportScorer
from core.types import AnswerSentence, Source
from retrieval.tokenize import has_japanese

UNVERIFIED_MARK = "(unverified)"

_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_BOUNDARY = re.compile(
    r"(?:[.!?](?=[\s\[])|[。！？])(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])*|\n+"
)
# What may still follow a finished sentence before the next one starts: spaces and (partial) citations.
_PENDING_TAIL = re.compile(r"^[\s\[\]\d,;]*$")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_SLACK_LINK = re.compile(r"<(https?://[^|>\s]+)\|([^>]*)>")
_URL = re.compile(r"https?://[^\s<>()\[\]\"'|]+")
_TRAILING_PUNCT = re.compile(r"[.,;:!?。、]+$")
_EMAIL = re.compile(r"(?:mailto:)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.ASCII)
# Phone numbers: optional +country code, groups of digits split by spaces, hyphens or brackets (9-15 digits,
# counted in ``_phone_digits``). No dots, so versions and IP addresses are never taken for one.
_PHONE = re.compile(r"(?<![\w+\-/.])(?:\+\d{1,3}[ \-]?)?(?:\(\d{1,5}\)[ \-]?)?\d{1,5}(?:[ \-]\d{1,5}){1,4}(?![\w\-/])")
_PHONE_TAIL = 8  # digits compared: "+81 3 5555 0142" and "03-5555-0142" are the same number
_END_PUNCT = re.compile(r"[.!?。！？]+$")


@dataclass(frozen=True)
class RawSentence:
    """A sentence as the model wrote it, and whether it began a new line (bullets, paragraphs)."""

    text: str
    starts_line: bool


def split_sentences(text: str, *, final: bool = True) -> tuple[list[RawSentence], str]:
    """Split text into sentences; returns (finished sentences, unfinished rest).

    With ``final=False`` (streaming) a sentence only counts as finished once real
    text follows it, so citations written after its full stop stay with it.
    """
    sentences: list[RawSentence] = []
    start = 0
    starts_line = True
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if not final and _PENDING_TAIL.match(text[end:]):
            break
        piece = text[start:end]
        if piece.strip():
            sentences.append(RawSentence(piece.strip(), starts_line))
        starts_line = "\n" in match.group(0)
        start = end
    rest = text[start:]
    if final:
        if rest.strip():
            sentences.append(RawSentence(rest.strip(), starts_line))
        rest = ""
    return sentences, rest


def parse_citations(sentence: str) -> tuple[str, tuple[int, ...]]:
    """The sentence without its [n] markers, and the numbers cited (first-seen order, no repeats)."""
    numbers: list[int] = []
    for group in _MARKER.findall(sentence):
        for n in re.split(r"\s*[,;]\s*", group):
            if int(n) not in numbers:
                numbers.append(int(n))
    text = _MARKER.sub("", sentence)
    text = re.sub(r"\s+([.,;:!?。、])", r"\1", re.sub(r"[ \t]+", " ", text)).strip()
    return text, tuple(numbers)


def _normalise_url(url: str) -> str:
    return _TRAILING_PUNCT.sub("", url).rstrip("/").lower()


def _phone_digits(number: str) -> str | None:
    """The digits of a phone-number-like match, or None when it is too short or too long to be one."""
    digits = re.sub(r"\D", "", number)
    return digits if 9 <= len(digits) <= 15 else None


def remove_unsourced_links(text: str, evidence: str) -> str:
    """Drop links, e-mail addresses and phone numbers that ``evidence`` (cited texts and URLs) lacks.

    A link's text stays; an address or number is removed outright: a model that obeyed an injected
    "write to helpdesk@evil.example" must not deliver the address, marked or not.
    """
    known = evidence.lower()
    known_numbers = {d[-_PHONE_TAIL:] for d in map(_phone_digits, _PHONE.findall(evidence)) if d}

    def sourced(url: str) -> bool:
        return _normalise_url(url) in known

    text = _MD_LINK.sub(lambda m: m.group(0) if sourced(m.group(2)) else m.group(1), text)
    text = _SLACK_LINK.sub(lambda m: m.group(0) if sourced(m.group(1)) else m.group(2), text)

    def bare(match: re.Match) -> str:
        url = match.group(0)
        trailing = url[len(_TRAILING_PUNCT.sub("", url)) :]
        return url if sourced(url) else trailing

    def email(match: re.Match) -> str:
        address = match.group(0).removeprefix("mailto:")
        return match.group(0) if address.lower().rstrip(".") in known else ""

    def phone(match: re.Match) -> str:
        digits = _phone_digits(match.group(0))
        return match.group(0) if digits is None or digits[-_PHONE_TAIL:] in known_numbers else ""

    text = _URL.sub(bare, text)
    text = _EMAIL.sub(email, text)
    text = _PHONE.sub(phone, text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def render_sentence(text: str, citations: Sequence[int], marked: bool) -> str:
    """The sentence as shown: citation markers before its final punctuation, an unverified mark after."""
    markers = "".join(f"[{n}]" for n in citations)
    if markers:
        end = _END_PUNCT.search(text)
        if end:
            sep = "" if has_japanese(text) else " "
            text = f"{text[: end.start()]}{sep}{markers}{end.group(0)}"
        else:
            text = f"{text} {markers}"
    return f"{text} {UNVERIFIED_MARK}" if marked else text


class AnswerVerifier:
    """Verifies one answer sentence by sentence against its numbered context documents."""

    def __init__(
        self,
        documents: Sequence[ContextDocument],
        scorer: SupportScorer,
        *,
        threshold: float,
        mode: Literal["mark", "drop"] = "mark",
        system_prompt: str = "",
    ) -> None:
        self.documents = {d.number: d for d in documents}
        self.scorer = scorer
        self.threshold = threshold
        self.mode = mode
        self.system_prompt = system_prompt
        self.sentences: list[AnswerSentence] = []
        self._deltas: list[str] = []  # each kept sentence as shown, with the separator before it
        self.invalid_citations: list[int] = []
        self.dropped: list[str] = []  # why each dropped sentence went
        self._renumber: dict[int, int] = {}
        self._split: dict[int, tuple[str, str]] = {}

    def _parts(self, number: int) -> tuple[str, str]:
        """A source's text split into (evidence, instruction-like sentences left out of the evidence)."""
        if number not in self._split:
            self._split[number] = split_instructions(self.documents[number].text)
        return self._split[number]

    def _evidence_for(self, number: int) -> str:
        return self._parts(number)[0]

    def _obeys_instruction(self, text: str, cited: Sequence[int]) -> bool:
        """True when the sentence is backed by a document's instructions to the assistant, not by its content."""
        orders = [self._parts(n)[1] for n in cited if self._parts(n)[1]]
        return bool(orders) and self.scorer.score(text, orders) >= self.threshold

    def add(self, raw: RawSentence) -> str | None:
        """Verify one sentence; returns the text to append to the answer so far (None when dropped)."""
        text, cited = parse_citations(raw.text)
        valid = tuple(n for n in cited if n in self.documents)
        self.invalid_citations += [n for n in cited if n not in self.documents]
        if self.system_prompt and leaks_prompt(text, self.system_prompt):
            self.dropped.append("repeats the system prompt")
            return None
        evidence = [self._evidence_for(n) for n in valid]
        urls = " ".join(self.documents[n].best.chunk.url for n in valid)
        text = neutralise_mentions(remove_unsourced_links(text, "\n".join(evidence) + " " + urls)).strip()
        if not content_terms(text):
            self.dropped.append("no content left")
            return None
        support = self.scorer.score(text, evidence) if valid else None
        supported = support is not None and support >= self.threshold
        # Repeating what a document orders the assistant to say is dropped in either mode: marking it
        # would still deliver the attacker's message. So is an answer sentence that is itself such an order
        # ("send your password to ..."), however well a document supports it.
        if looks_like_instruction(text):
            self.dropped.append("gives an instruction or asks for a secret")
            return None
        if not supported and self._obeys_instruction(text, valid or tuple(self.documents)):
            self.dropped.append("repeats an instruction found in a document")
            return None
        if not supported and self.mode == "drop":
            self.dropped.append("unsupported" if valid else "uncited")
            return None
        numbers = tuple(self._renumber.setdefault(n, len(self._renumber) + 1) for n in valid)
        self.sentences.append(AnswerSentence(text=text, citations=numbers, support=support, supported=supported))
        shown = render_sentence(text, numbers, marked=not supported)
        if not self._deltas:
            separator = ""
        elif raw.starts_line:
            separator = "\n"
        else:
            separator = "" if has_japanese(shown) else " "
        self._deltas.append(separator + shown)
        return self._deltas[-1]

    @property
    def text(self) -> str:
        """The verified answer text: the deltas ``add`` returned, joined."""
        return "".join(self._deltas)

    @property
    def sources(self) -> tuple[Source, ...]:
        """The cited sources, renumbered in order of first citation."""
        ordered = sorted(self._renumber.items(), key=lambda kv: kv[1])
        return tuple(self.documents[old].to_source(number=new) for old, new in ordered)

    @property
    def any_supported(self) -> bool:
        return any(s.supported for s in self.sentences)
