"""The LLM groundedness judge: a ``SupportScorer`` that asks an OpenAI-compatible model Yes/No per claim.

A sentence is first split into atomic claims (decomposition prompt). Each claim
is then one short completion asking for ``top_logprobs``. The claim's score is
P(yes) / (P(yes) + P(no)), read from the returned alternatives **by their token
strings**: no tokenizer-specific ids and no ``logit_bias``, because vLLM, Ollama
and llama.cpp serve other vocabularies than OpenAI's (in Gemma's, tiktoken's ids
for "Yes"/"No" are " Fund" and " short"). Token strings are normalised: case,
spaces and the word-piece markers of SentencePiece (``▁``), byte-level BPE
(``Ġ``, ``Ċ``) and WordPiece (``##``). Leading tokens with no word (a newline, a
space piece) are skipped to the first word the model wrote.

Where no Yes/No mass is among the alternatives, or the endpoint returns no
logprobs, or refuses them (HTTP 4xx/500: the judge then stops asking for them),
the reply text is parsed.

A base model (no chat template; llama.cpp then wraps the prompt in a fallback
template it was never trained on) answers a chat verdict with anything but Yes
or No: measured with Gemma 3 270M base, its first tokens were newlines and
``<document>``, and its most likely first token was end-of-turn, for which
llama-cpp-python returns no logprobs at all. The same model continues a plain
prompt ending in ``Answer:`` with " Yes" or " No" as its top tokens. So
``eval_judge_style``: ``chat``; ``completion`` (the completions API with
``prompts/judge_completion``); ``auto`` (default): chat, and the completion
prompt when a chat verdict is neither Yes nor No; from then on the style that
last gave a verdict is asked first. An endpoint without the completions API
(hosted chat models answer 404) is not asked again.

Every verdict is counted by the path that decided it (``logprob``, ``text``,
``completion_logprob``, ``completion_text``, ``unparseable``);
an unparseable verdict supports nothing (0.0), and ``verdict_refusal`` tells the
report to withhold the groundedness figures when most verdicts were unparseable.
A sentence scores as its weakest claim.

Prompts live in ``eval/prompts/{decompose,judge}/<version>/{system,user}.txt``
so a change of wording is a new version, recorded with every run.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from chat.llm_client import LLMClient, LLMStatusError
from chat.prompts import load_prompt
from core.errors import ConfigError
from core.settings import Settings

logger = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).parent / "prompts"
TOP_LOGPROBS = 20  # the API's maximum: a base model's Yes/No may sit well below its first choice
_VERDICT_TOKENS = 5  # room for a leading newline or space piece before the word
_BULLET = re.compile(r"^\s*(?:[-*•・]|\d+[.)])\s*")
_YES = ("yes", "はい")
_NO = ("no", "いいえ")
# Word-piece markers of common tokenizers, and what may surround a verdict word ("**Yes**", "Yes.", "「はい」").
_PIECE_MARKERS = re.compile(r"^(?:##)|[▁ĠĊċ]")
_NOT_WORD = re.compile(r"[\s\"'`*_.,:;!?()\[\]{}<>「」『』。、！？：]+")
_ANSWER_PREFIX = re.compile(r"^(?:answer|verdict|回答|答え)\s*[:：]\s*", re.IGNORECASE)
PATHS = ("logprob", "text", "completion_logprob", "completion_text", "unparseable")
# In these HTTP errors to a logprobs request the server says it cannot give logprobs.
_NO_LOGPROBS_STATUSES = frozenset({400, 422, 500, 501})
# In these to a completions-API request it says it has no such API (or not for this model).
_NO_COMPLETIONS_STATUSES = frozenset({400, 404, 405, 422, 500, 501})


def parse_claims(text: str, limit: int) -> list[str]:
    """Claims from the decomposition reply: one a line, bullets and blank lines dropped."""
    claims = [_BULLET.sub("", line).strip() for line in text.splitlines()]
    return [c for c in claims if c][:limit]


def normalise_token(token: str) -> str:
    """A token string as a plain lower-case word: word-piece markers, spaces and punctuation removed."""
    return _NOT_WORD.sub("", _PIECE_MARKERS.sub("", token)).lower()


def yes_probability(top_logprobs: Sequence[tuple[str, float]]) -> float | None:
    """P(yes) / (P(yes) + P(no)) from (token, logprob) alternatives; None when neither word is among them."""
    p_yes = p_no = 0.0
    for token, logprob in top_logprobs:
        word = normalise_token(token)
        if word in _YES:
            p_yes += math.exp(logprob)
        elif word in _NO:
            p_no += math.exp(logprob)
    if p_yes + p_no == 0.0:
        return None
    return p_yes / (p_yes + p_no)


def logprob_verdict(entries: Sequence) -> float | None:
    """P(yes) at the first position where the model wrote a word (leading newlines/space pieces skipped)."""
    for entry in entries:
        if not normalise_token(entry.token):
            continue
        alternatives = [(t.token, t.logprob) for t in (entry.top_logprobs or [])]
        return yes_probability(alternatives or [(entry.token, entry.logprob)])
    return None


def parse_verdict(text: str) -> float | None:
    """1.0 for a Yes, 0.0 for a No, None for a reply that is neither."""
    first_line = next((line for line in text.strip().splitlines() if line.strip()), "")
    words = _NOT_WORD.sub(" ", _ANSWER_PREFIX.sub("", first_line.strip())).lower().split()
    if not words:
        return None
    if words[0] in _YES or words[0].startswith("はい"):
        return 1.0
    if words[0] in _NO or words[0].startswith("いいえ"):
        return 0.0
    return None


def verdict_refusal(counts: dict[str, int]) -> str | None:
    """Why no groundedness figure may be reported from these verdicts (most unparseable), else None."""
    total = sum(counts.get(p, 0) for p in PATHS)
    bad = counts.get("unparseable", 0)
    if total and bad * 2 > total:
        return f"{bad} of {total} judge verdicts were neither Yes nor No: no groundedness figure is reported"
    return None


class LLMJudge:
    """Scores claim support with an LLM through ``LLMClient`` (any OpenAI-compatible endpoint)."""

    def __init__(self, settings: Settings, *, client: LLMClient | None = None) -> None:
        self.model = settings.eval_judge_model or settings.llm_model
        self.version = settings.eval_judge_prompt_version
        self.threshold = settings.eval_judge_threshold
        self.max_claims = settings.eval_judge_max_claims
        self._client = client or self._make_client(settings, self.model)
        self._judge_prompt = load_prompt("judge", self.version, PROMPTS_DIR)
        self._completion_prompt = load_prompt("judge_completion", self.version, PROMPTS_DIR)
        self._decompose_prompt = load_prompt("decompose", self.version, PROMPTS_DIR)
        self.style = settings.eval_judge_style
        prompt_ids = {"chat": self._judge_prompt.id, "completion": self._completion_prompt.id}
        self.name = f"llm-judge:{self.model}:" + "+".join(
            prompt_ids[s] for s in prompt_ids if self.style in (s, "auto")
        )
        self.calls = 0
        self.verdicts: Counter[str] = Counter({p: 0 for p in PATHS})
        self.logprobs_supported = True  # False once the endpoint refused a logprobs request
        self.completions_supported = True  # False once the endpoint refused the completions API
        # The order styles are tried in; "auto" moves the one that last gave a verdict to the front.
        self._order = ["chat", "completion"] if self.style == "auto" else [self.style]

    @property
    def logprob_replies(self) -> int:
        return self.verdicts["logprob"] + self.verdicts["completion_logprob"]

    @staticmethod
    def _make_client(settings: Settings, model: str) -> LLMClient:
        """The judge's own endpoint and model where set, else the answerer's; the answerer's timeouts."""
        base_url = settings.eval_judge_base_url or settings.llm_base_url
        if not base_url:
            raise ConfigError("the LLM judge needs an endpoint: set KURA_EVAL_JUDGE_BASE_URL or KURA_LLM_BASE_URL")
        key = settings.eval_judge_api_key or settings.llm_api_key
        judge_settings = settings.model_copy(update={"llm_base_url": base_url, "llm_model": model, "llm_api_key": key})
        return LLMClient.from_settings(judge_settings)

    # --- SupportScorer -----------------------------------------------------------------
    def score(self, claim: str, sources: Sequence[str]) -> float:
        """Support of a sentence: its weakest atomic claim's P(yes)."""
        sources = [s for s in sources if s and s.strip()]
        if not sources:
            return 0.0
        claims = self.claims(claim) or (claim,)
        return min(self.verdict(c, sources) for c in claims)

    # --- the two prompts ---------------------------------------------------------------
    @functools.lru_cache(maxsize=4096)
    def claims(self, sentence: str) -> tuple[str, ...]:
        """The atomic claims of a sentence (cached: the same sentence is judged against several source sets)."""
        completion = self._complete(self._decompose_prompt.messages(sentence=sentence), max_tokens=400)
        return tuple(parse_claims(completion.text, self.max_claims))

    def verdict(self, claim: str, sources: Sequence[str]) -> float:
        """P(yes) that the sources support one atomic claim."""
        documents = "\n\n".join(f"<document>\n{s}\n</document>" for s in sources)
        for style in list(self._order):
            if style == "completion" and not self.completions_supported:
                continue
            found = self._chat_verdict(documents, claim) if style == "chat" else self._completion_verdict(documents, claim)
            if found is not None:
                path, probability = found
                self.verdicts[path] += 1
                if self.style == "auto" and self._order[0] != style:
                    logger.info("judge: %s verdicts parse where the other style's did not; asking %s first", style, style)
                    self._order.remove(style)
                    self._order.insert(0, style)
                return probability
        self.verdicts["unparseable"] += 1
        return 0.0

    def _chat_verdict(self, documents: str, claim: str) -> tuple[str, float] | None:
        """("logprob" | "text", P(yes)) from a chat verdict, or None when it is neither Yes nor No."""
        messages = self._judge_prompt.messages(documents=documents, claim=claim)
        completion = None
        if self.logprobs_supported:
            try:
                completion = self._complete(messages, max_tokens=_VERDICT_TOKENS, logprobs=True)
            except LLMStatusError as exc:
                if exc.status_code not in _NO_LOGPROBS_STATUSES:
                    raise
                logger.warning("the judge's endpoint refused logprobs (HTTP %s): reading verdicts from text",
                               exc.status_code)
                self.logprobs_supported = False
        if completion is None:
            completion = self._complete(messages, max_tokens=_VERDICT_TOKENS)
        return self._read(completion, "")

    def _completion_verdict(self, documents: str, claim: str) -> tuple[str, float] | None:
        """("completion_logprob" | "completion_text", P(yes)) from a plain prompt ending "Answer:", or None."""
        prompt = "\n\n".join(m["content"].strip() for m in self._completion_prompt.messages(documents=documents, claim=claim))
        self.calls += 1
        try:
            completion = self._client.complete_text(
                prompt, max_tokens=_VERDICT_TOKENS, temperature=0.0,
                logprobs=TOP_LOGPROBS if self.logprobs_supported else None,
            )  # fmt: skip
        except LLMStatusError as exc:
            if exc.status_code not in _NO_COMPLETIONS_STATUSES:
                raise
            logger.warning("the judge's endpoint has no completions API (HTTP %s): chat verdicts only", exc.status_code)
            self.completions_supported = False
            return None
        return self._read(completion, "completion_")

    @staticmethod
    def _read(completion, prefix: str) -> tuple[str, float] | None:
        """The verdict in a reply: Yes/No mass among the logprobs, else the text; None when neither has one."""
        if completion.logprobs:
            probability = logprob_verdict(completion.logprobs)
            if probability is not None:
                return prefix + "logprob", probability
        parsed = parse_verdict(completion.text)
        if parsed is None:
            logger.info("judge reply is neither Yes nor No: %.40r", completion.text)
            return None
        return prefix + "text", parsed

    def _complete(self, messages, *, max_tokens: int, logprobs: bool = False):
        self.calls += 1
        return self._client.complete(
            messages, max_tokens=max_tokens, temperature=0.0, logprobs=logprobs,
            top_logprobs=TOP_LOGPROBS if logprobs else None,
        )
