"""A thin wrapper over the ``openai`` SDK for any OpenAI-compatible chat-completions endpoint.

Built for slow local servers as much as hosted APIs (measured against llama.cpp
on a 2-core CPU: a full answer took ~55 s, the first streamed token 4-12 s):

* **Streaming by default** (``stream=True``), also for ``complete``, which
  assembles the streamed text (and logprobs). A whole-answer timeout cannot tell
  a slow server from a dead one; streaming can: the request fails when no first
  token arrives within ``first_token_timeout_s`` or the stream goes quiet for
  ``idle_timeout_s``. With ``stream=False`` (servers that cannot stream) one
  request may take ``timeout_s`` in all.
* **No retry of a request the server may still be computing.** A timed-out,
  cut-off or 5xx-failed request is not sent again: the server would compute it
  twice (llama.cpp keeps computing an abandoned request to the end). On a timeout
  the connection is shut down, which is how a server learns to stop. Only
  requests the server refused to start are retried, at most ``max_retries``
  times with backoff and ``Retry-After``: connection refused, 429, 502, 503.
* Reasoning blocks (``<think>`` ...) are stripped here, once, for every consumer
  (``chat.llm_output``); ``Completion.raw_text`` keeps what the model wrote.

Whatever fails is raised as ``LLMUnavailableError`` (``LLMStatusError`` when the
endpoint answered an HTTP error) with a message that says what to check, never a secret.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import openai

try:  # recent openai releases run on httpx2; older ones on httpx
    import httpx2

    _TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (openai.OpenAIError, httpx.HTTPError, httpx2.HTTPError)
    _CONNECT_ERRORS: tuple[type[BaseException], ...] = (httpx.ConnectError, httpx2.ConnectError)
    _Timeout: Any = httpx2.Timeout
except ImportError:  # pragma: no cover - depends on the installed SDK
    _TRANSPORT_ERRORS = (openai.OpenAIError, httpx.HTTPError)
    _CONNECT_ERRORS = (httpx.ConnectError,)
    _Timeout = httpx.Timeout

from chat.llm_output import ReasoningFilter, strip_reasoning
from core.errors import ConfigError, LLMUnavailableError
from core.settings import Settings

logger = logging.getLogger(__name__)

# Local servers (vLLM, Ollama, llama.cpp) ignore the key, but the SDK insists on one.
_NO_KEY = "not-needed"
# The server refused to start these: sending them again cannot make it compute twice.
_RETRY_STATUSES = frozenset({429, 502, 503})
_MAX_BACKOFF_S = 20.0


class LLMStatusError(LLMUnavailableError):
    """The endpoint answered with an HTTP error (``status_code``), e.g. 500 for an unsupported parameter."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


def _display_url(url: str) -> str:
    """The base URL without any user:password part, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class TokenLogprob:
    """One token and its logprob; ``top_logprobs`` the alternatives at its position (the chat API's shape)."""

    token: str
    logprob: float
    top_logprobs: tuple["TokenLogprob", ...] = ()


def _legacy_logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    """The completions API's parallel lists (``tokens``, ``token_logprobs``, ``top_logprobs`` dicts) as entries."""
    tokens = getattr(logprobs, "tokens", None) if logprobs is not None else None
    if not tokens:
        return None
    values = list(logprobs.token_logprobs or [])
    tops = list(logprobs.top_logprobs or [])
    entries = []
    for i, token in enumerate(tokens):
        value = values[i] if i < len(values) and values[i] is not None else float("-inf")
        top = tops[i] if i < len(tops) and tops[i] else {}
        entries.append(TokenLogprob(token, value, tuple(TokenLogprob(t, lp) for t, lp in top.items())))
    return entries


@dataclass
class Completion:
    """A finished completion: the visible text (reasoning stripped), the model that wrote it and why it stopped."""

    text: str
    model: str
    finish_reason: str | None = None
    logprobs: list[Any] | None = None  # ChatCompletionTokenLogprob entries when asked for (and returned)
    elapsed_ms: float = 0.0
    raw_text: str = ""  # as the model wrote it, reasoning included


class _Watchdog:
    """Shuts a stream's socket down when no token came in time: the blocked read fails at once and the
    server sees the client go, so it stops computing (a socket close alone would not wake the read)."""

    def __init__(self, response: Any, first_s: float, idle_s: float) -> None:
        self._sock = self._socket_of(response)
        self._response = response
        self.idle_s = idle_s
        self.waited_for: str | None = None  # "first token" / "next token" once it fired
        self._deadline = time.monotonic() + first_s
        self._what = "first token"
        self._done = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._watch, name="llm-stream-watchdog", daemon=True).start()

    @staticmethod
    def _socket_of(response: Any) -> socket.socket | None:
        stream = getattr(response, "extensions", {}).get("network_stream")
        try:
            return stream.get_extra_info("socket") if stream is not None else None
        except Exception:  # noqa: BLE001 - a transport without a socket: the read timeout is the backstop
            return None

    def token(self) -> None:
        with self._lock:
            self._deadline = time.monotonic() + self.idle_s
            self._what = "next token"

    def stop(self) -> None:
        self._done.set()

    def waiting_for(self) -> str:
        """What the stream is waiting for now: the first token, or the next one."""
        with self._lock:
            return self._what

    def _watch(self) -> None:
        while not self._done.is_set():
            with self._lock:
                left = self._deadline - time.monotonic()
                what = self._what
            if left <= 0:
                self.waited_for = what
                self._cut()
                return
            self._done.wait(min(left, 0.5))

    def _cut(self) -> None:
        try:
            if self._sock is not None:
                self._sock.shutdown(socket.SHUT_RDWR)
            else:
                self._response.close()
        except OSError:
            pass  # already closed


@dataclass
class CompletionStream:
    """Iterates over visible text deltas; ``model``, ``finish_reason``, ``text`` are set as the stream goes."""

    _chunks: Iterator[Any]
    _on_error: Callable[..., LLMUnavailableError]
    model: str = ""
    finish_reason: str | None = None
    text: str = ""
    logprobs: list[Any] | None = None
    _watchdog: _Watchdog | None = None
    _close: Callable[[], None] | None = None
    _filter: ReasoningFilter = field(default_factory=ReasoningFilter)

    def __iter__(self) -> Iterator[str]:
        try:
            for chunk in self._chunks:
                self.model = chunk.model or self.model
                for choice in chunk.choices or ():
                    if choice.finish_reason:
                        self.finish_reason = choice.finish_reason
                    content = getattr(choice.logprobs, "content", None) if choice.logprobs else None
                    if content:
                        self.logprobs = (self.logprobs or []) + list(content)
                    delta = choice.delta.content if choice.delta else None
                    if delta:
                        if self._watchdog is not None:
                            self._watchdog.token()
                        visible = self._filter.feed(delta)
                        if visible:
                            yield visible
            rest = self._filter.flush()
            if rest:
                yield rest
        except _TRANSPORT_ERRORS as exc:
            waited = self._watchdog.waited_for if self._watchdog is not None else None
            if waited is None and self._watchdog is not None and isinstance(exc, openai.APITimeoutError):
                # The socket's read timeout shares the watchdog's first-token deadline and may fire a moment
                # before it (a loaded machine): the meaning, and the closing in ``finally``, are the same.
                waited = self._watchdog.waiting_for()
            raise self._on_error(exc, during_stream=True, waited_for=waited) from exc
        finally:
            self.close()
        self.text = self._filter.text
        if self.finish_reason is None:
            # The connection ended without a finish_reason: the answer is cut off.
            raise LLMUnavailableError("the LLM stream ended before the answer was complete")

    @property
    def raw_text(self) -> str:
        return self._filter.raw

    def close(self) -> None:
        """Stop reading; closing the connection tells the server to stop computing."""
        if self._watchdog is not None:
            self._watchdog.stop()
        if self._close is not None:
            self._close()
            self._close = None


class LLMClient:
    """Chat completions against one OpenAI-compatible endpoint and model."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        max_tokens: int = 600,
        temperature: float = 0.0,
        stream: bool = True,
        first_token_timeout_s: float = 60.0,
        idle_timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        if not base_url:
            raise ConfigError("no LLM endpoint: set KURA_LLM_BASE_URL (e.g. https://api.openai.com/v1)")
        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.streaming = stream
        self.first_token_timeout_s = first_token_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.connect_timeout_s = connect_timeout_s
        # The SDK's own retries are off: it would retry timeouts and 500s, i.e. requests still being computed.
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or _NO_KEY, max_retries=0)

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
            stream=settings.llm_stream,
            first_token_timeout_s=settings.llm_first_token_timeout_s,
            idle_timeout_s=settings.llm_idle_timeout_s,
            connect_timeout_s=settings.llm_connect_timeout_s,
        )

    # --- public ------------------------------------------------------------------------
    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        logprobs: bool = False,
        top_logprobs: int | None = None,
    ) -> Completion:
        """One completion, streamed underneath unless streaming is off; raises LLMUnavailableError on failure."""
        extra: dict[str, Any] = {}
        if logprobs:
            extra["logprobs"] = True
            if top_logprobs:
                extra["top_logprobs"] = top_logprobs
        started = time.perf_counter()
        if self.streaming:
            stream = self._open_stream(self._params(messages, max_tokens, temperature, extra))
            for _ in stream:
                pass
            return Completion(
                text=stream.text,
                model=stream.model or self.model,
                finish_reason=stream.finish_reason,
                logprobs=stream.logprobs,
                elapsed_ms=(time.perf_counter() - started) * 1000,
                raw_text=stream.raw_text,
            )
        params = self._params(messages, max_tokens, temperature, extra)
        response = self._send(params, self._timeout(self.timeout_s))
        if not response.choices:
            raise LLMUnavailableError("the LLM endpoint returned no choices")
        choice = response.choices[0]
        raw = choice.message.content or ""
        return Completion(
            text=strip_reasoning(raw),
            model=response.model or self.model,
            finish_reason=choice.finish_reason,
            logprobs=list(choice.logprobs.content or []) if choice.logprobs else None,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            raw_text=raw,
        )

    def complete_text(
        self, prompt: str, *, max_tokens: int | None = None, temperature: float | None = None,
        logprobs: int | None = None,
    ) -> Completion:
        """A plain-text continuation of ``prompt`` (the completions API, ``/v1/completions``), not streamed.

        For prompts a base model can continue ("... Answer:"), which a chat template would wrap in turns it
        was never trained on. Meant for short replies (a few tokens), so the whole reply is bounded by the
        first-token timeout. ``logprobs``: that many alternatives per token, returned as ``TokenLogprob``s.
        Hosted chat-only models answer 404 (``LLMStatusError``).
        """
        params: dict[str, Any] = {
            "model": self.model, "prompt": prompt, "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
        }  # fmt: skip
        if logprobs:
            params["logprobs"] = logprobs
        started = time.perf_counter()
        response = self._send(params, self._timeout(self.first_token_timeout_s), self._client.completions.create)
        if not response.choices:
            raise LLMUnavailableError("the LLM endpoint returned no choices")
        choice = response.choices[0]
        raw = choice.text or ""
        return Completion(
            text=strip_reasoning(raw),
            model=response.model or self.model,
            finish_reason=choice.finish_reason,
            logprobs=_legacy_logprobs(choice.logprobs),
            elapsed_ms=(time.perf_counter() - started) * 1000,
            raw_text=raw,
        )

    def stream(
        self, messages: list[dict[str, str]], *, max_tokens: int | None = None, temperature: float | None = None
    ) -> CompletionStream:
        """Start a streaming completion; iterate the result for visible text deltas."""
        return self._open_stream(self._params(messages, max_tokens, temperature, {}))

    # --- plumbing ------------------------------------------------------------------------
    def _params(self, messages, max_tokens, temperature, extra) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
            **extra,
        }

    def _timeout(self, read_s: float) -> Any:
        return _Timeout(read_s, connect=self.connect_timeout_s)

    def _open_stream(self, params: dict[str, Any]) -> CompletionStream:
        # The socket's read timeout bounds the wait for the response headers (some servers send them only with
        # the first token), and stays the backstop for every read after; the watchdog bounds the first token
        # and each gap between tokens (so an idle timeout above the first-token one is capped by it).
        chunks = self._send({**params, "stream": True}, self._timeout(self.first_token_timeout_s))
        response = getattr(chunks, "response", None)
        watchdog = _Watchdog(response, self.first_token_timeout_s, self.idle_timeout_s) if response is not None else None
        return CompletionStream(iter(chunks), self._unavailable, model=self.model, _watchdog=watchdog,
                                _close=getattr(chunks, "close", None))

    def _send(self, params: dict[str, Any], timeout: Any, create: Callable[..., Any] | None = None):
        """The request (chat unless ``create`` says otherwise), retried only where the server refused to start it."""
        create = create or self._client.chat.completions.create
        attempt = 0
        while True:
            try:
                return create(**params, timeout=timeout)
            except _TRANSPORT_ERRORS as exc:
                wait = self._retry_wait(exc, attempt)
                if wait is None:
                    raise self._unavailable(exc, attempts=attempt) from exc
                logger.info("LLM request refused (%s); retry %d of %d in %.1fs",
                            type(exc).__name__, attempt + 1, self.max_retries, wait)
                time.sleep(wait)
                attempt += 1

    def _retry_wait(self, exc: BaseException, attempt: int) -> float | None:
        """Seconds to wait before sending again, or None when this failure must not be retried."""
        if attempt >= self.max_retries:
            return None
        backoff = min(_MAX_BACKOFF_S, 0.5 * 2**attempt)
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code not in _RETRY_STATUSES:
                return None
            header = exc.response.headers.get("retry-after") if exc.response is not None else None
            try:
                return min(_MAX_BACKOFF_S, float(header)) if header is not None else backoff
            except ValueError:
                return backoff
        if isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError):
            # Only a connection that never opened: a dropped one may have reached a server now computing.
            return backoff if isinstance(exc.__cause__, _CONNECT_ERRORS) else None
        return None

    def _unavailable(
        self, exc: BaseException, during_stream: bool = False, waited_for: str | None = None, attempts: int = 0
    ) -> LLMUnavailableError:
        """Turn an SDK/transport error into an LLMUnavailableError saying what to check."""
        url = _display_url(self.base_url)
        retried = f" after {attempts} retries" if attempts else ""
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        if waited_for is not None:
            limit = self.first_token_timeout_s if waited_for == "first token" else self.idle_timeout_s
            message = (f"the LLM endpoint {url} sent no {waited_for} within {limit:g}s "
                       "(the request was closed so the server stops computing it)")
        elif during_stream and status is None:
            message = f"the answer stream from the LLM endpoint {url} broke off ({type(exc).__name__})"
        elif isinstance(exc, openai.APITimeoutError):
            limit = self.first_token_timeout_s if self.streaming else self.timeout_s
            what = "sent no first token" if self.streaming else "did not answer"
            message = f"the LLM endpoint {url} {what} within {limit:g}s (not retried: it may still be computing)"
        elif isinstance(exc, openai.APIConnectionError):
            message = f"could not connect to the LLM endpoint {url}{retried}"
        elif isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            message = f"the LLM endpoint {url} rejected the API key (HTTP {status}): check KURA_LLM_API_KEY"
        elif isinstance(exc, openai.NotFoundError):
            message = (
                f"the LLM endpoint {url} does not know model '{self.model}' or the path (HTTP 404): "
                "check KURA_LLM_MODEL and KURA_LLM_BASE_URL"
            )
        elif isinstance(exc, openai.RateLimitError):
            message = f"the LLM endpoint {url} kept answering 429 (rate limited){retried}"
        elif status is not None:
            message = f"the LLM endpoint {url} failed with HTTP {status}{retried}"
        else:
            message = f"the LLM endpoint {url} failed ({type(exc).__name__})"
        logger.warning("LLM call failed: %s", message)
        return LLMStatusError(message, status) if status is not None else LLMUnavailableError(message)
