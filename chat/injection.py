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
    r"\b(tell|instruct|inform|remind)\s+(the\s+|all\s+)?(users?|readers?|employees|everyone)\b",
    r"\b(reply|respond|answer|begin|start|end)\b[^.!?\n]{0,40}\bwith\b[^.!?\n]{0,40}@(channel|here|everyone)",
    r"@(channel|here|everyone)\b|<!(channel|here|everyone)\b",
    r"(以前|前|上記)の(指示|命令|指令)を(無視|忘れ)",
    r"システムプロンプト",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.IGNORECASE)
# Sentence ends: ". " (not the dot inside "evil.example"), Japanese full stops, line breaks.
_SENTENCE_END = re.compile(r"((?<=[.!?])\s+|(?<=[。！？])|\n+)")

_MASS_MENTION = re.compile(
    r"(?:<!(?:channel|here|everyone)(?:\|[^>]*)?>|<!subteam\^[^>]*>|(?<!\w)@(?:channel|here|everyone)\b)[ \t]*",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


def looks_like_instruction(sentence: str) -> bool:
    """True when a sentence addresses the assistant or tries to make it act."""
    return _INSTRUCTION.search(sentence) is not None


def strip_instructions(text: str) -> str:
    """The text without its sentences that look like instructions to the assistant."""
    pieces = _SENTENCE_END.split(text)
    kept = []
    for sentence, separator in zip(pieces[::2], pieces[1::2] + [""]):
        if sentence.strip() and not looks_like_instruction(sentence):
            kept.append(sentence + separator)
    return "".join(kept).strip()


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
