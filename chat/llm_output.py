"""What an LLM wrote, made safe to use: reasoning blocks out, template tokens caught, unusable output rejected.

Every consumer of an OpenAI-compatible endpoint (answerer, rewriter, summarizer,
judge) reads the model's text through ``LLMClient``, which strips reasoning
blocks here once (``strip_reasoning`` for whole texts, ``ReasoningFilter`` for
streams). ``check_output`` is the quality gate for generated text that gets
stored or searched with (summaries, query rewrites): it names why an output is
unusable, or returns None.

Why these rules (seen against a real llama.cpp server with a base model and
no chat template): the model echoed the fallback template (``[INST] <<SYS>>``),
returned empty strings, and copied the document it was asked to summarise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# <think>, <thinking>, <reasoning> in any case; an unclosed block runs to the end of the text.
_REASONING_OPEN = re.compile(r"<\s*(think|thinking|reasoning)\s*>", re.IGNORECASE)
_REASONING_CLOSE = re.compile(r"<\s*/\s*(think|thinking|reasoning)\s*>", re.IGNORECASE)
# A tag that may still be arriving at the end of a stream ("<", "<thi", "</thinking").
_PARTIAL_TAG = re.compile(r"<\s*/?\s*[a-zA-Z]{0,9}\s*$")

# Chat-template and control tokens of common model families: Llama 2 ([INST], <<SYS>>), Llama 3 and ChatML
# (<|...|>), Gemma (<start_of_turn>), SentencePiece/BERT specials, Mistral tool-call markers.
CONTROL_TOKENS = re.compile(
    r"<<\s*/?\s*SYS\s*>>|\[\s*/?\s*INST\s*\]|\[/?(?:AVAILABLE_TOOLS|TOOL_CALLS|TOOL_RESULTS)\]"
    r"|<\|[^|<>\n]{1,40}\|>|<\s*(?:start|end)_of_turn\s*>|<\s*/?\s*(?:s|bos|eos|pad|unk|mask)\s*>"
    r"|\[(?:CLS|SEP|PAD|MASK|UNK)\]|<\s*(?:im_start|im_end|endoftext)\s*>",
    re.IGNORECASE,
)

_LATIN_WORD = re.compile(r"[0-9a-z]+(?:['’][a-z]+)?")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_SHINGLE = 4  # word 4-grams: long enough that shared common phrases rarely add up to "mostly copied"
COPY_SHARE = 0.8  # output whose shingles are at least this much from one input is a copy


def strip_reasoning(text: str) -> str:
    """The text without reasoning blocks (``<think>…</think>``, any case; an unclosed block runs to the end).

    A closing tag with no opening one means the chat template opened the block in the prompt
    (DeepSeek-R1 style): everything before it is reasoning.
    """
    out: list[str] = []
    pos = 0
    while True:
        opening = _REASONING_OPEN.search(text, pos)
        closing = _REASONING_CLOSE.search(text, pos)
        if closing and (opening is None or closing.start() < opening.start()):
            out = []  # a lone closing tag: what came before was reasoning
            pos = closing.end()
            continue
        if opening is None:
            out.append(text[pos:])
            break
        out.append(text[pos : opening.start()])
        end = _REASONING_CLOSE.search(text, opening.end())
        if end is None:
            break  # unclosed: the rest is reasoning
        pos = end.end()
    return "".join(out).lstrip() if pos else "".join(out)


class ReasoningFilter:
    """Streams the visible text of a growing answer: reasoning held back, tags split across deltas handled.

    ``feed(delta)`` returns the newly visible text. A lone closing tag (reasoning opened by the template)
    cannot be undone once text was shown, so streams rely on the opening tag; ``text`` (the whole visible
    text, computed again at the end) handles both cases.
    """

    def __init__(self) -> None:
        self.raw = ""
        self._shown = ""

    def feed(self, delta: str) -> str:
        self.raw += delta
        visible = strip_reasoning(self._settled(self.raw))
        if len(visible) <= len(self._shown) or not visible.startswith(self._shown):
            return ""  # nothing new, or a lone closing tag re-cut the text: only ``text`` can tell now
        new = visible[len(self._shown) :]
        self._shown = visible
        return new

    def flush(self) -> str:
        """At the end of the stream: the visible text still held back (a trailing "<" that was no tag)."""
        visible = self.text
        if len(visible) <= len(self._shown) or not visible.startswith(self._shown):
            return ""
        new = visible[len(self._shown) :]
        self._shown = visible
        return new

    @staticmethod
    def _settled(text: str) -> str:
        """The text without a tag that may still be arriving at its end."""
        partial = _PARTIAL_TAG.search(text)
        return text[: partial.start()] if partial else text

    @property
    def text(self) -> str:
        return strip_reasoning(self.raw)


def control_tokens(text: str) -> list[str]:
    """The chat-template or control tokens in ``text`` (empty when there are none)."""
    return CONTROL_TOKENS.findall(text)


def remove_control_tokens(text: str) -> str:
    return re.sub(r"[ \t]{2,}", " ", CONTROL_TOKENS.sub(" ", text)).strip()


def shingles(text: str) -> list[tuple[str, ...]]:
    """Word 4-grams of English text, character 4-grams of Japanese runs (both lower-cased)."""
    tokens = [m.group(0) for m in re.finditer(rf"{_LATIN_WORD.pattern}|{_CJK.pattern}", text.lower())]
    return [tuple(tokens[i : i + _SHINGLE]) for i in range(len(tokens) - _SHINGLE + 1)]


def copied_share(output: str, source: str) -> float:
    """Share of the output's 4-grams that occur in ``source`` (0 when the output is too short to tell)."""
    grams = shingles(output)
    if not grams:
        return 0.0
    have = set(shingles(source))
    return sum(g in have for g in grams) / len(grams)


def check_output(
    text: str,
    *,
    prompt: str | Iterable[str] = (),
    document: str = "",
    max_chars: int | None = None,
    copy_share: float = COPY_SHARE,
) -> str | None:
    """Why a generated text is unusable (``empty``, ``control_tokens``, ``copies_prompt``, ``copies_document``,
    ``too_long``), or None when it passes.

    ``prompt``: the instructions the model was given (system and template text, not the data it was given);
    ``document``: the data it was asked to work on (copying it wholesale is not a summary).
    """
    text = text.strip()
    if not text:
        return "empty"
    if control_tokens(text):
        return "control_tokens"
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if any(p and copied_share(text, p) >= copy_share for p in prompts):
        return "copies_prompt"
    if document and copied_share(text, document) >= copy_share:
        return "copies_document"
    if max_chars is not None and len(text) > max_chars:
        return "too_long"
    return None


REJECTION_REASONS = ("empty", "control_tokens", "copies_prompt", "copies_document", "too_long")


MAX_REWRITE_CHARS = 300


def check_rewrite(query: str, instructions: Iterable[str] = ()) -> str | None:
    """Why an LLM's search-query rewrite is unusable (see ``check_output``), or None.

    ``instructions``: the rewrite prompt's system and user templates. The conversation itself is not passed:
    a good standalone query repeats the question's words.
    """
    return check_output(query, prompt=list(instructions), max_chars=MAX_REWRITE_CHARS)
