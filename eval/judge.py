"""The LLM groundedness judge: a ``SupportScorer`` that asks an OpenAI-compatible model Yes/No per claim.

A sentence is first split into atomic claims (decomposition prompt). Each claim
is then one chat completion with ``max_tokens=1``, ``logprobs`` with
``top_logprobs`` and a ``logit_bias`` that pushes the judge's first token onto
"Yes" or "No" (token ids from tiktoken for the judge model's encoding). The
claim's score is P(yes) / (P(yes) + P(no)) from the returned log-probabilities,
a calibrated number instead of a coin flip; equal bias on both tokens leaves
that ratio unchanged. Endpoints that return no logprobs get the text parsed
(Yes -> 1, No -> 0). A sentence scores as its weakest claim: one unsupported
claim makes the sentence unsupported.

Prompts live in ``eval/prompts/{decompose,judge}/<version>/{system,user}.txt``
so a change of wording is a new version, recorded with every run.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path

from chat.prompts import load_prompt
from core.errors import ConfigError, LLMUnavailableError
from core.settings import Settings
from core.tokens import encoding_for_model

logger = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).parent / "prompts"
_BIAS = 100  # the API's maximum: the first token is Yes or No, whatever the model would have said
_TOP_LOGPROBS = 5
_BULLET = re.compile(r"^\s*(?:[-*•・]|\d+[.)])\s*")
_YES = ("yes", "はい")
_NO = ("no", "いいえ")


def parse_claims(text: str, limit: int) -> list[str]:
    """Claims from the decomposition reply: one a line, bullets and blank lines dropped."""
    claims = [_BULLET.sub("", line).strip() for line in text.splitlines()]
    return [c for c in claims if c][:limit]


def yes_probability(top_logprobs: Sequence[tuple[str, float]]) -> float | None:
    """P(yes) / (P(yes) + P(no)) from (token, logprob) alternatives; None when neither word is among them."""
    p_yes = p_no = 0.0
    for token, logprob in top_logprobs:
        word = token.strip().lower()
        if word in _YES:
            p_yes += math.exp(logprob)
        elif word in _NO:
            p_no += math.exp(logprob)
    if p_yes + p_no == 0.0:
        return None
    return p_yes / (p_yes + p_no)


def parse_verdict(text: str) -> float:
    """1.0 for a Yes, 0.0 for a No; a reply we cannot read supports nothing (0.0)."""
    word = text.strip().lower()
    if word.startswith(_YES):
        return 1.0
    if word.startswith(_NO):
        return 0.0
    logger.warning("judge reply is neither Yes nor No; counted as unsupported")
    return 0.0


class LLMJudge:
    """Scores claim support with an LLM through the ``openai`` client (any OpenAI-compatible endpoint)."""

    def __init__(self, settings: Settings, *, client=None) -> None:
        self.model = settings.eval_judge_model or settings.llm_model
        self.version = settings.eval_judge_prompt_version
        self.threshold = settings.eval_judge_threshold
        self.max_claims = settings.eval_judge_max_claims
        self._client = client or self._make_client(settings)
        self._judge_prompt = load_prompt("judge", self.version, PROMPTS_DIR)
        self._decompose_prompt = load_prompt("decompose", self.version, PROMPTS_DIR)
        self.name = f"llm-judge:{self.model}:{self._judge_prompt.id}"
        encoding = encoding_for_model(self.model)
        self._bias = {str(t): _BIAS for word in ("Yes", "No") for t in encoding.encode(word)[:1]}
        self.calls = 0
        self.logprob_replies = 0  # how many verdicts came from logprobs (the rest from parsing text)

    @staticmethod
    def _make_client(settings: Settings):
        import openai

        base_url = settings.eval_judge_base_url or settings.llm_base_url
        if not base_url:
            raise ConfigError("the LLM judge needs an endpoint: set KURA_EVAL_JUDGE_BASE_URL or KURA_LLM_BASE_URL")
        key = settings.eval_judge_api_key or settings.llm_api_key
        return openai.OpenAI(
            base_url=base_url,
            api_key=key.get_secret_value() if key else "not-needed",
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )

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
        response = self._create(messages=self._decompose_prompt.messages(sentence=sentence), max_tokens=400)
        return tuple(parse_claims(response.choices[0].message.content or "", self.max_claims))

    def verdict(self, claim: str, sources: Sequence[str]) -> float:
        """P(yes) that the sources support one atomic claim."""
        documents = "\n\n".join(f"<document>\n{s}\n</document>" for s in sources)
        response = self._create(
            messages=self._judge_prompt.messages(documents=documents, claim=claim),
            max_tokens=1,
            logprobs=True,
            top_logprobs=_TOP_LOGPROBS,
            logit_bias=self._bias,
        )
        choice = response.choices[0]
        content = getattr(choice.logprobs, "content", None) if choice.logprobs else None
        if content:
            first = content[0]
            alternatives = [(t.token, t.logprob) for t in (first.top_logprobs or [])] or [(first.token, first.logprob)]
            probability = yes_probability(alternatives)
            if probability is not None:
                self.logprob_replies += 1
                return probability
        return parse_verdict(choice.message.content or "")

    def _create(self, **kwargs):
        import openai

        self.calls += 1
        try:
            return self._client.chat.completions.create(model=self.model, temperature=0.0, **kwargs)
        except openai.APIError as exc:
            # Message only: the exception text never carries the key, but the request body may carry documents.
            status = getattr(exc, "status_code", None)
            detail = f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
            raise LLMUnavailableError(f"the LLM judge's endpoint failed: {detail}") from exc
