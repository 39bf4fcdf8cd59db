"""A thin wrapper over the ``openai`` SDK for any OpenAI-compatible chat-completions endpoint.

Retries are the SDK's own, bounded by ``llm_max_retries``: it retries
connection errors, timeouts, 408/409/429 and 5xx with exponential backoff and
honours ``Retry-After``. Whatever still fails — or fails in a way retrying
cannot fix (401, 404, a stream cut off mid-way) — is raised as
``LLMUnavailableError`` with a message that says what to check, never a secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import openai

try:  # recent openai releases run on httpx2; older ones on httpx
    import httpx2

    _TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (openai.OpenAIError, httpx.HTTPError, httpx2.HTTPError)
except ImportError:  # pragma: no cover - depends on the installed SDK
    _TRANSPORT_ERRORS = (openai.OpenAIError, httpx.HTTPError)

from core.errors import ConfigError, LLMUnavailableError
from core.settings import Settings

logger = logging.getLogger(__name__)

# Local servers (vLLM, Ollama, llama.cpp) ignore the key, but the SDK insists on one.
_NO_KEY = "not-needed"


def _display_url(url: str) -> str:
    """The base URL without any user:password part, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass
class Completion:
    """A finished completion: the text, the model that wrote it and why it stopped."""

    text: str
    model: str
    finish_reason: str | None = None
    logprobs: list[Any] | None = None  # ChatCompletionTokenLogprob entries when asked for
    elapsed_ms: float = 0.0


@dataclass
class CompletionStream:
    """Iterates over text deltas; ``model`` and ``finish_reason`` are set as the stream goes."""

    _chunks: Iterator[Any]
    _on_error: Any
    model: str = ""
    finish_reason: str | None = None
    text: str = ""
    _parts: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[str]:
        try:
            for chunk in self._chunks:
                self.model = chunk.model or self.model
                for choice in chunk.choices or ():
                    if choice.finish_reason:
                        self.finish_reason = choice.finish_reason
                    delta = choice.delta.content if choice.delta else None
                    if delta:
                        self._parts.append(delta)
                        yield delta
        except _TRANSPORT_ERRORS as exc:
            raise self._on_error(exc, during_stream=True) from exc
        self.text = "".join(self._parts)
        if self.finish_reason is None:
            # The connection ended without a finish_reason: the answer is cut off.
            raise LLMUnavailableError("the LLM stream ended before the answer was complete")


class LLMClient:
    """Chat completions against one OpenAI-compatible endpoint and model."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        max_tokens: int = 600,
        temperature: float = 0.0,
    ) -> None:
        if not base_url:
            raise ConfigError("no LLM endpoint: set KURA_LLM_BASE_URL (e.g. https://api.openai.com/v1)")
        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or _NO_KEY, timeout=timeout_s, max_retries=max_retries
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, max_retries: int | None = None) -> "LLMClient":
        """A client for the configured endpoint; ``max_retries`` overrides the setting (optional calls use 0)."""
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            settings.llm_base_url or "",
            model=settings.llm_model,
            api_key=key,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries if max_retries is None else max_retries,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
        )

    def _params(self, messages, max_tokens, temperature, extra) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
            **extra,
        }

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        logprobs: bool = False,
        top_logprobs: int | None = None,
    ) -> Completion:
        """One non-streaming completion; raises LLMUnavailableError when the endpoint fails."""
        extra: dict[str, Any] = {}
        if logprobs:
            extra["logprobs"] = True
            if top_logprobs:
                extra["top_logprobs"] = top_logprobs
        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(**self._params(messages, max_tokens, temperature, extra))
        except _TRANSPORT_ERRORS as exc:
            raise self._unavailable(exc) from exc
        if not response.choices:
            raise LLMUnavailableError("the LLM endpoint returned no choices")
        choice = response.choices[0]
        return Completion(
            text=choice.message.content or "",
            model=response.model or self.model,
            finish_reason=choice.finish_reason,
            logprobs=list(choice.logprobs.content or []) if choice.logprobs else None,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    def stream(
        self, messages: list[dict[str, str]], *, max_tokens: int | None = None, temperature: float | None = None
    ) -> CompletionStream:
        """Start a streaming completion; iterate the result for text deltas."""
        try:
            chunks = self._client.chat.completions.create(
                **self._params(messages, max_tokens, temperature, {"stream": True})
            )
        except _TRANSPORT_ERRORS as exc:
            raise self._unavailable(exc) from exc
        return CompletionStream(iter(chunks), self._unavailable, model=self.model)

    def _unavailable(self, exc: BaseException, during_stream: bool = False) -> LLMUnavailableError:
        """Turn an SDK/transport error into an LLMUnavailableError saying what to check."""
        url = _display_url(self.base_url)
        retried = f" after {self.max_retries} retries" if self.max_retries else ""
        if during_stream and not isinstance(exc, openai.APIStatusError):
            message = f"the answer stream from the LLM endpoint {url} broke off ({type(exc).__name__})"
        elif isinstance(exc, openai.APITimeoutError):
            message = f"the LLM endpoint {url} did not answer within {self.timeout_s:g}s{retried}"
        elif isinstance(exc, openai.APIConnectionError):
            message = f"could not connect to the LLM endpoint {url}{retried}"
        elif isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            message = f"the LLM endpoint {url} rejected the API key (HTTP {exc.status_code}): check KURA_LLM_API_KEY"
        elif isinstance(exc, openai.NotFoundError):
            message = (
                f"the LLM endpoint {url} does not know model '{self.model}' or the path (HTTP 404): "
                "check KURA_LLM_MODEL and KURA_LLM_BASE_URL"
            )
        elif isinstance(exc, openai.RateLimitError):
            message = f"the LLM endpoint {url} kept answering 429 (rate limited){retried}"
        elif isinstance(exc, openai.APIStatusError):
            message = f"the LLM endpoint {url} failed with HTTP {exc.status_code}{retried}"
        else:
            message = f"the LLM endpoint {url} failed ({type(exc).__name__})"
        logger.warning("LLM call failed: %s", message)
        return LLMUnavailableError(message)
