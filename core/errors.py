"""Kura's exception tree. Every error a user can see derives from KuraError.

    KuraError
    ├── ConfigError            bad or missing settings (names the variable to set)
    ├── StoreError             the Qdrant index is missing, locked or failing
    │   └── StoreNotFoundError no index yet: run `kura ingest`
    ├── JobLockedError         another run of a job (`kura reindex`) holds its lock
    ├── ConnectorError         a source failed as a whole
    │   ├── ConnectorAuthError credentials rejected: stop the sync, say what to fix
    │   └── RateLimitedError   retries exhausted on 429
    ├── RetrievalError
    ├── AnswerError
    │   └── LLMUnavailableError endpoint down, timing out or refusing after retries
    └── EvalError

Entry points (CLI, web app, Slack app) catch KuraError at one boundary and show
its message; anything else is logged with its traceback and shown as a generic
one-line failure.
"""


class KuraError(Exception):
    """Base of all errors Kura reports to users."""


class ConfigError(KuraError):
    """Settings are missing or invalid."""


class StoreError(KuraError):
    """The vector store failed or is unusable."""


class StoreNotFoundError(StoreError):
    """No index exists at the configured location."""


class JobLockedError(KuraError):
    """Another run of the same job holds its lock; this run did nothing."""


class ConnectorError(KuraError):
    """A connector failed as a whole (not a single document)."""


class ConnectorAuthError(ConnectorError):
    """The source rejected our credentials or configuration."""


class RateLimitedError(ConnectorError):
    """The source kept answering 429 after the bounded retries."""


class RetrievalError(KuraError):
    """Retrieval failed."""


class AnswerError(KuraError):
    """Answer generation failed."""


class LLMUnavailableError(AnswerError):
    """The LLM endpoint could not be reached or kept failing after retries."""


class EvalError(KuraError):
    """An evaluation run could not be carried out (bad dataset, bad arguments)."""
