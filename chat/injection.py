"""Guards against prompt injection: document text is data, never an instruction to the assistant.

One detector, ``looks_like_instruction``, serves both answerers:

* the offline (extractive) answerer skips the sentences it flags, so a document's
  order is never quoted as an answer;
* the LLM answerer (``chat.citations``) leaves them out of the evidence an
  answer sentence is checked against, drops answer sentences that repeat them
  or are themselves such orders, and removes contacts only they carry.

The detector normalises first (``normalise``: NFKC, so full-width letters are
letters; zero-width, bidi and other invisible characters removed; Cyrillic and
Greek look-alikes folded to Latin; text hidden behind a right-to-left override
also read reversed), then matches the English and Japanese pattern families of
``chat.injection_patterns``. Rates on the hostile/benign corpus:
``python -m eval.injection_corpus`` (chat/README.md).

Also here: ``leaks_prompt`` spots an answer sentence that reproduces the system
prompt, and ``neutralise_mentions`` removes mass mentions, which no answer needs.

These are heuristics: a safety net under the prompt and the citation check,
not a replacement for them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from chat.injection_patterns import (
    ENGLISH,
    ENGLISH_CREDENTIAL,
    ENGLISH_NEGATION_BEFORE,
    JAPANESE,
    JAPANESE_CREDENTIAL,
    JAPANESE_NEGATED_CREDENTIAL,
)

_FLAGS = re.IGNORECASE | re.MULTILINE
_ENGLISH = re.compile("|".join(f"(?:{p})" for p in ENGLISH), _FLAGS)
_JAPANESE = re.compile("|".join(f"(?:{p})" for p in JAPANESE), _FLAGS)
_CREDENTIAL = [re.compile(p, _FLAGS) for p in ENGLISH_CREDENTIAL]
_JA_CREDENTIAL = re.compile("|".join(f"(?:{p})" for p in JAPANESE_CREDENTIAL), _FLAGS)
_JA_NEGATED_CREDENTIAL = re.compile(JAPANESE_NEGATED_CREDENTIAL, _FLAGS)
_NEGATION_BEFORE = re.compile(ENGLISH_NEGATION_BEFORE, _FLAGS)
# Cheap gates, so most sentences skip most patterns (the offline answerer checks every retrieved sentence):
# English patterns need two Latin words in a row, Japanese ones kana or kanji, credential ones a secret's name.
_LATIN_WORDS = re.compile(r"[a-z]{2,}\W+[a-z]{2,}")
_JAPANESE_TEXT = re.compile("[\u3040-\u30ff\u3400-\u9fff]")
_SECRET_WORD = re.compile(
    r"pass|pin|key|token|credential|login|code|card|cvv|cvc|cookie|seed|secret|user ?name|パスワード|暗証|鍵|キー|コード|"
    r"ログイン|認証|カード|トークン|シークレット|クレデンシャル"
)

# Invisible characters an attacker splits words with: zero-width space/joiners, word joiner, soft hyphen,
# BOM, Mongolian vowel separator, bidi embeddings/overrides/isolates and marks, variation selectors, tags.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)
_RIGHT_TO_LEFT_OVERRIDE = re.compile("\u202e([^\u202c\n]*)")
# Letters of other scripts that look like Latin ones (Unicode's confusables, the common part).
_CONFUSABLES = str.maketrans(
    "\u0430\u0432\u0435\u0438\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0455\u0456\u0457"
    "\u0458\u04bb\u0501\u051b\u051d\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0423"
    "\u0425\u0405\u0406\u0408\u03b1\u03b5\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7\u0391\u0392"
    "\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7\u0131\u0261\u0251",
    "aBeukMHopcTyxsiijhdqwABEKMHOPCTYXSIJaeikvoptuxABEZHIKMNOPTYXiga",
)
_QUOTED = re.compile(r"\"[^\"\n]{3,}\"|“[^”\n]{3,}”|‘[^’\n]{3,}’|(?<!\w)'[^'\n]{3,}'(?!\w)|「[^」\n]{3,}」|『[^』\n]{3,}』")
# Units of a document for the instruction check: sentences (". " but not the dot in "evil.example"),
# Japanese full stops, paragraphs, and lines that start a list item, table row or chat message. A single
# line break inside a paragraph is only wrapping: an order wrapped over three lines stays one sentence.
_UNIT_END = re.compile(r"((?<=[.!?])\s+|(?<=[。！？])|\n\s*\n\s*|\n(?=\s*(?:[-*+•|]\s|\d+[.)]\s|\*\*)))")
_MASS_MENTION = re.compile(
    r"(?:<!(?:channel|here|everyone)(?:\|[^>]*)?>|<!subteam\^[^>]*>|(?<!\w)@(?:channel|here|everyone)\b)[ \t]*",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    """The text as a reader sees it: NFKC, no invisible characters, look-alike letters folded to Latin.

    Text inside a right-to-left override is shown reversed on screen, so it is appended read that way too.
    """
    hidden = [m.group(1)[::-1] for m in _RIGHT_TO_LEFT_OVERRIDE.finditer(text) if m.group(1).strip()]
    text = unicodedata.normalize("NFKC", " ".join([text, *hidden]))
    return _INVISIBLE.sub("", text).translate(_CONFUSABLES)


def remove_invisible(text: str) -> str:
    """The text without zero-width, bidi-control and other invisible characters (what a terminal must not get)."""
    return _INVISIBLE.sub("", text)


def _requests_credential(text: str) -> bool:
    """A request to hand over a secret, outside quotations and not negated ("never send your password")."""
    if not _SECRET_WORD.search(text):
        return False
    unquoted = _QUOTED.sub(" ", text)
    for pattern in _CREDENTIAL:
        for match in pattern.finditer(unquoted):
            if not _NEGATION_BEFORE.search(unquoted[: match.start()][-60:]):
                return True
    return _JA_CREDENTIAL.search(unquoted) is not None and _JA_NEGATED_CREDENTIAL.search(unquoted) is None


@lru_cache(maxsize=65536)
def looks_like_instruction(sentence: str) -> bool:
    """True when a sentence addresses the assistant, orders it to relay something, or asks for a secret.

    Cached: the same chunks come back for many questions.
    """
    text = normalise(sentence).lower()
    if _LATIN_WORDS.search(text) and _ENGLISH.search(text):
        return True
    if _JAPANESE_TEXT.search(text) and _JAPANESE.search(text):
        return True
    return _requests_credential(text)


def split_instructions(text: str) -> tuple[str, str]:
    """Split a document into (its text without instruction-like sentences, those sentences)."""
    pieces = _UNIT_END.split(text)
    kept, removed = [], []
    for sentence, separator in zip(pieces[::2], pieces[1::2] + [""]):
        if sentence.strip():
            (removed if looks_like_instruction(sentence) else kept).append(sentence + separator)
    return "".join(kept).strip(), "".join(removed).strip()


def strip_instructions(text: str) -> str:
    """The text without its sentences that look like instructions to the assistant."""
    return split_instructions(text)[0]


def neutralise_mentions(text: str) -> str:
    """Remove @channel / @here / @everyone and Slack's <!channel>-style broadcasts."""
    return _MASS_MENTION.sub("", text)


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def leaks_prompt(sentence: str, prompt: str, *, n: int = 4, share: float = 0.5) -> bool:
    """True when most of the sentence's word n-grams come from the (system) prompt."""
    grams = _ngrams(sentence, n)
    if len(grams) < 2 or not prompt:
        return False
    shared = grams & _ngrams(prompt, n)
    return len(shared) >= 2 and len(shared) / len(grams) >= share
