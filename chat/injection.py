"""Guards against prompt injection that work on text, after the model has answered.

The prompt already tells the model that documents are data. These checks catch
a model that obeyed a document anyway:

* ``strip_instructions`` removes the sentences of a document that address the
  assistant ("ignore previous instructions", "reveal your system prompt", "tell
  users to visit ...", "@channel"). Answer sentences are checked for support
  against the *rest* of the document, so repeating an injected order, or a link
  that only the injected order carries, is never "supported".
* ``leaks_prompt`` spots an answer sentence that reproduces the system prompt.
* ``neutralise_mentions`` removes mass mentions, which no answer ever needs.

These are heuristics: a safety net under the prompt and the citation check,
not a replacement for them.
"""

from __future__ import annotations

import re

_INSTRUCTION_PATTERNS = [
    r"\b(ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,60}\b(instructions?|prompts?|rules?|directions?|guidelines?)\b",
    r"\bsystem\s+prompt\b",
    r"\byour\s+(instructions|rules|prompt|guidelines)\b",
    r"\b(you are now|from now on|pretend to be|act as (an?|the) )",
    r"\b(ai|assistant|chatbot|bot|llm|language model|kura)s?\b[^.!?\n]{0,40}\b(must|should|shall|will|always|never)\b",
    r"\b(tell|instruct)\s+(the\s+|all\s+)?(users?|readers?)\b",
    r"\b(reply|respond|answer|begin|start|end|post|write|mention|add|include|ping|notify)\b[^.!?]{0,60}"
    r"(@(channel|here|everyone)\b|<!(channel|here|everyone)\b)",
    r"(以前|前|上記)の(指示|命令|指令)を(無視|忘れ)",
    r"システムプロンプト",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.IGNORECASE)
# Units of a document for the instruction check: sentences (". " but not the dot in "evil.example"),
# Japanese full stops, paragraphs, and lines that start a list item, table row or chat message. A single
# line break inside a paragraph is only wrapping: an order wrapped over three lines stays one sentence.
_UNIT_END = re.compile(r"((?<=[.!?])\s+|(?<=[。！？])|\n\s*\n\s*|\n(?=\s*(?:[-*+•|]\s|\d+[.)]\s|\*\*)))")
_MASS_MENTION = re.compile(
    r"(?:<!(?:channel|here|everyone)(?:\|[^>]*)?>|<!subteam\^[^>]*>|(?<!\w)@(?:channel|here|everyone)\b)[ \t]*",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


def looks_like_instruction(sentence: str) -> bool:
    """True when a sentence addresses the assistant or tries to make it act."""
    return _INSTRUCTION.search(sentence) is not None


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
