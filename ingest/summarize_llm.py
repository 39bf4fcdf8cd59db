"""Document summaries from an OpenAI-compatible LLM endpoint, cached by content hash.

The prompt lives in a versioned file (``ingest/prompts/summary/<version>.txt``,
``[system]`` and ``[user]`` parts, ``{title}`` and ``{text}`` placeholders).
The document goes in as data inside ``<document>`` tags, cut to the context
budget; the reply is bounded by ``max_tokens`` (and cut again, in case a server
ignores it).

Summaries are cached on disk under a key of everything that shapes them:
prompt text, model, length limit, and the document's title and text (not its
URL or permissions, which do not change what it says). An unchanged document
is never sent twice, across incremental runs and full rebuilds alike.

Every reply passes a quality gate (``chat.llm_output.check_output``) before it
is used: empty output, chat-template or control tokens (``<<SYS>>``, ``[INST]``,
``<|im_start|>`` ...), text that mostly copies the prompt or the document, and
output over the length limit (a server ignoring ``max_tokens``) are rejected and
the document gets the offline extractive summary instead; rejections are counted
by reason (``stats()``, reported in the ingest result). Against a base model with
no chat template, 21 of 37 replies were the template's ``<<SYS>>`` and 4 were empty.

When the endpoint fails after the client's retries the document's chunking fails
(a per-document failure the pipeline records; an incremental run keeps the
old chunks and retries next time), rather than silently indexing a different
kind of summary under this summarizer's signature. After three failures in a
row the rest of the run fails fast instead of waiting on timeouts.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

from chat.llm_client import LLMClient, LLMStatusError
from chat.llm_output import check_output
from core.errors import ConfigError, LLMUnavailableError
from core.settings import Settings
from core.tokens import encoding_for_model
from core.types import Document, content_hash

logger = logging.getLogger(__name__)

PROMPT_DIR = Path(__file__).resolve().parent / "prompts" / "summary"
_FAIL_FAST_AFTER = 3
_PLACEHOLDER = re.compile(r"\{(?:title|text)\}")


def load_prompt(version: str, directory: Path = PROMPT_DIR) -> tuple[str, str]:
    """(system, user template) of a prompt version."""
    path = directory / f"{version}.txt"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.txt"))) or "none"
        raise ConfigError(f"no summary prompt {version!r} (KURA_SUMMARY_PROMPT_VERSION); known: {known}")
    raw = path.read_text(encoding="utf-8")
    if "[system]" not in raw or "[user]" not in raw:
        raise ConfigError(f"{path} needs a [system] and a [user] part")
    system, user = raw.split("[user]", 1)
    return system.replace("[system]", "", 1).strip(), user.strip()


class SummaryCache:
    """Summaries on disk, one small file per key, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.txt"

    def get(self, key: str) -> str | None:
        path = self._path(key)
        return path.read_text(encoding="utf-8") if path.exists() else None

    def put(self, key: str, summary: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".summary-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(summary)
        os.replace(tmp, path)


class LLMSummarizer:
    """A short summary per document through ``LLMClient``; unusable replies fall back to the offline summary."""

    def __init__(
        self,
        client: LLMClient,
        *,
        model: str,
        cache: SummaryCache,
        max_tokens: int = 120,
        context_tokens: int = 8000,
        prompt_version: str = "v1",
        temperature: float = 0.0,
        fallback=None,
    ) -> None:
        from ingest.summarize import ExtractiveSummarizer

        self.client = client
        self.fallback = fallback or ExtractiveSummarizer(max_tokens=max_tokens)
        self.model = model
        self.cache = cache
        self.max_tokens = max_tokens
        self.context_tokens = context_tokens
        self.prompt_version = prompt_version
        self.temperature = temperature
        self.system, self.user_template = load_prompt(prompt_version)
        self._prompt_hash = content_hash(self.system + "\x1e" + self.user_template)
        self.signature = f"llm/{model}/{prompt_version}-{self._prompt_hash}/{max_tokens}"
        self._encoding = encoding_for_model(model)
        self._failures_in_row = 0
        self.requests = 0  # calls made to the endpoint (tests and the run summary count them)
        self.cache_hits = 0
        self.rejected: Counter[str] = Counter()  # replies the quality gate turned down, by reason

    @classmethod
    def from_settings(cls, settings: Settings) -> "LLMSummarizer":
        from ingest.summarize import ExtractiveSummarizer

        fallback = ExtractiveSummarizer(
            max_sentences=settings.summary_sentences,
            max_tokens=settings.summary_max_tokens,
            encoding=settings.tokenizer_encoding,
        )
        return cls(
            LLMClient.from_settings(settings),
            model=settings.llm_model,
            cache=SummaryCache(settings.cache_dir / "summaries"),
            max_tokens=settings.summary_max_tokens,
            context_tokens=settings.llm_context_tokens,
            prompt_version=settings.summary_prompt_version,
            temperature=settings.llm_temperature,
            fallback=fallback,
        )

    def stats(self) -> dict:
        """This run's calls, cache hits and rejected replies (each replaced by the offline summary)."""
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": dict(self.rejected),
        }

    def cache_key(self, document: Document) -> str:
        return content_hash("\x1f".join([self.signature, document.title, document.text]))

    def summarize(self, document: Document) -> str:
        if not document.text.strip():
            return ""
        key = self.cache_key(document)
        cached = self.cache.get(key)
        if cached is not None:
            self.cache_hits += 1
            return cached
        summary = self._ask(document)
        self.cache.put(key, summary)
        return summary

    def _ask(self, document: Document) -> str:
        if self._failures_in_row >= _FAIL_FAST_AFTER:
            raise LLMUnavailableError(f"summary skipped: the LLM endpoint failed {self._failures_in_row} times in a row")
        messages = [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self._user_message(document)},
        ]
        self.requests += 1
        try:
            completion = self.client.complete(messages, max_tokens=self.max_tokens, temperature=self.temperature)
        except LLMStatusError as exc:
            if exc.status_code in (401, 403):
                raise ConfigError("the LLM endpoint rejected the API key (KURA_LLM_API_KEY)") from exc
            self._failed(document, exc)
            raise
        except LLMUnavailableError as exc:
            self._failed(document, exc)
            raise
        self._failures_in_row = 0
        summary = " ".join(completion.text.split())
        reason = self._rejection(summary, document)
        if reason is None:
            return summary
        self.rejected[reason] += 1
        logger.info("LLM summary of %s %s rejected (%s): the offline summary is used",
                    document.source, document.source_id, reason)
        return self.fallback.summarize(document)

    def _failed(self, document: Document, exc: Exception) -> None:
        self._failures_in_row += 1
        logger.warning("summary request failed for %s %s: %s", document.source, document.source_id, exc)

    def _rejection(self, summary: str, document: Document) -> str | None:
        """Why the reply is no summary (see ``check_output``), or None."""
        instructions = [self.system, _PLACEHOLDER.sub(" ", self.user_template)]
        # tiktoken counts a local model's text up to ~30% off its own tokenizer: only a reply well past the
        # limit means the server ignored max_tokens.
        too_long = len(self._encoding.encode(summary, disallowed_special=())) > 1.5 * self.max_tokens
        return check_output(summary, prompt=instructions, document=document.text) or ("too_long" if too_long else None)

    def _user_message(self, document: Document) -> str:
        # Room for the document: the context budget minus the prompt and the reply.
        overhead = len(self._encoding.encode(self.system + self.user_template + document.title, disallowed_special=()))
        room = max(256, self.context_tokens - overhead - self.max_tokens - 16)
        ids = self._encoding.encode(document.text, disallowed_special=())
        text = document.text if len(ids) <= room else self._encoding.decode(ids[:room])
        # str.replace, not str.format: documents are full of braces.
        return self.user_template.replace("{title}", document.title).replace("{text}", text)
