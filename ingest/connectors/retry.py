"""Bounded retries for source API calls: honour Retry-After on 429, back off with jitter on 5xx and timeouts.

Each connector knows its client library's exceptions, so it passes a
``classify`` function that turns an exception into a :class:`Fault`. The loop
here is the same for every source:

- ``rate_limited``: wait what ``Retry-After`` says (or back off when it is
  missing), then try again; still limited after the last try -> RateLimitedError.
- ``transient`` (5xx, timeouts, dropped connections): exponential back-off with
  jitter so many workers do not retry in lockstep; exhausted -> ConnectorError.
  A 503 with ``Retry-After`` waits what it says, like a 429.

``Retry-After`` is never shortened: Atlassian documents that a retry before it
fails again. A wait longer than ``max_retry_after_s`` is not waited out inside
the sync either: RateLimitedError at once, and the next sync resumes from the
last committed batch.
- ``auth``: ConnectorAuthError at once, with the connector's hint on what to fix.
- ``permanent`` (404, 400, ...): the original exception goes back to the
  caller, which decides (a missing page is a deletion, a bad one a failure).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from core.errors import ConnectorAuthError, ConnectorError, RateLimitedError
from core.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

FaultKind = Literal["rate_limited", "transient", "auth", "permanent"]


@dataclass(frozen=True)
class Fault:
    """What a failed call means for the retry loop."""

    kind: FaultKind
    message: str
    retry_after_s: float | None = None


@dataclass
class RetryPolicy:
    """How often and how long to retry. ``sleep`` and ``rng`` are injectable so tests need not wait."""

    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_retry_after_s: float = 900.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetryPolicy":
        return cls(
            max_attempts=settings.connector_max_attempts,
            base_delay_s=settings.connector_backoff_base_s,
            max_delay_s=settings.connector_backoff_max_s,
            max_retry_after_s=settings.connector_retry_after_max_s,
        )

    def backoff_s(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based): half fixed, half random, doubling each time."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def call(self, fn: Callable[[], T], *, classify: Callable[[BaseException], Fault | None], what: str) -> T:
        """Run ``fn`` until it succeeds, the fault is final, or the attempts are used up."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified below; unknown ones re-raise
                fault = classify(exc)
                if fault is None or fault.kind == "permanent":
                    raise
                if fault.kind == "auth":
                    raise ConnectorAuthError(fault.message) from exc
                told = fault.retry_after_s
                if told is not None and told > self.max_retry_after_s:
                    raise RateLimitedError(
                        f"{what}: the server asks to retry after {told:.0f}s (over the {self.max_retry_after_s:.0f}s "
                        "KURA_CONNECTOR_RETRY_AFTER_MAX_S); the next sync resumes here"
                    ) from exc
                if attempt >= self.max_attempts:
                    if fault.kind == "rate_limited":
                        raise RateLimitedError(
                            f"{what}: still rate limited after {attempt} attempts; try again later"
                        ) from exc
                    raise ConnectorError(f"{what}: gave up after {attempt} attempts: {fault.message}") from exc
                delay = self._delay_for(fault, attempt)
                logger.info("%s: %s (%s); retry %d/%d in %.1fs", what, fault.kind, fault.message,
                            attempt, self.max_attempts - 1, delay)
                self.sleep(delay)

    def _delay_for(self, fault: Fault, attempt: int) -> float:
        if fault.retry_after_s is not None:
            return max(fault.retry_after_s, 0.0)  # the server said how long: an earlier retry fails again
        return self.backoff_s(attempt)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare for these APIs)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def http_fault(status: int, retry_after: str | None, message: str, *, auth_hint: str) -> Fault:
    """The usual mapping of an HTTP status to a fault; connectors refine it where their API differs."""
    if status == 429:
        return Fault("rate_limited", message, parse_retry_after(retry_after))
    if status in (401, 403):
        return Fault("auth", f"{message}. {auth_hint}")
    if status >= 500 or status == 408:
        # Atlassian (and Google) send Retry-After with some 503s: honour it as for a 429.
        return Fault("transient", message, parse_retry_after(retry_after))
    return Fault("permanent", message)
