"""The shared retry loop: Retry-After, jittered back-off, bounded attempts, auth errors at once."""

from __future__ import annotations

import random
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from core.errors import ConnectorAuthError, ConnectorError, RateLimitedError
from ingest.connectors.retry import Fault, RetryPolicy, http_fault, parse_retry_after


class Flaky:
    """Fails with the given faults in turn, then returns 'ok'."""

    def __init__(self, *faults: Fault) -> None:
        self.faults = list(faults)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.faults:
            raise RuntimeError(self.faults.pop(0))
        return "ok"


def classify(exc: BaseException) -> Fault | None:
    return exc.args[0] if isinstance(exc, RuntimeError) else None


def policy(**kw) -> tuple[RetryPolicy, list[float]]:
    waits: list[float] = []
    return RetryPolicy(sleep=waits.append, rng=random.Random(7), **kw), waits


def test_waits_exactly_what_retry_after_asks():
    retry, waits = policy()
    fn = Flaky(Fault("rate_limited", "429", 3.0), Fault("rate_limited", "429", 1.0))
    assert retry.call(fn, classify=classify, what="t") == "ok"
    assert waits == [3.0, 1.0]


def test_retry_after_is_honoured_in_full_beyond_the_backoff_cap():
    retry, waits = policy(max_delay_s=10)
    retry.call(Flaky(Fault("rate_limited", "429", 120.0)), classify=classify, what="t")
    assert waits == [120.0]  # never shortened: an early retry fails again


def test_retry_after_longer_than_the_limit_stops_instead_of_retrying_early():
    retry, waits = policy(max_retry_after_s=900)
    fn = Flaky(Fault("rate_limited", "429", 3600.0))
    with pytest.raises(RateLimitedError, match="3600s"):
        retry.call(fn, classify=classify, what="t")
    assert waits == [] and fn.calls == 1


def test_503_with_retry_after_waits_what_it_says():
    fault = http_fault(503, "30", "busy", auth_hint="")
    assert (fault.kind, fault.retry_after_s) == ("transient", 30.0)
    retry, waits = policy(max_delay_s=5)
    retry.call(Flaky(fault), classify=classify, what="t")
    assert waits == [30.0]


def test_server_errors_back_off_exponentially_with_jitter():
    retry, waits = policy(max_attempts=5, base_delay_s=1.0, max_delay_s=60)
    retry.call(Flaky(*[Fault("transient", "503")] * 4), classify=classify, what="t")
    for attempt, wait in enumerate(waits, start=1):
        ceiling = 2 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling
    assert len(set(waits)) == 4


def test_rate_limit_without_retry_after_backs_off():
    retry, waits = policy(base_delay_s=2.0)
    retry.call(Flaky(Fault("rate_limited", "429", None)), classify=classify, what="t")
    assert 1.0 <= waits[0] <= 2.0


def test_attempts_are_bounded():
    retry, _ = policy(max_attempts=3)
    limited = Flaky(*[Fault("rate_limited", "429", 0.0)] * 5)
    with pytest.raises(RateLimitedError):
        retry.call(limited, classify=classify, what="t")
    assert limited.calls == 3
    broken = Flaky(*[Fault("transient", "500")] * 5)
    with pytest.raises(ConnectorError, match="gave up after 3 attempts"):
        retry.call(broken, classify=classify, what="t")
    assert broken.calls == 3


def test_auth_fault_stops_at_once():
    retry, waits = policy()
    fn = Flaky(Fault("auth", "bad token. set KURA_X"))
    with pytest.raises(ConnectorAuthError, match="set KURA_X"):
        retry.call(fn, classify=classify, what="t")
    assert fn.calls == 1 and waits == []


def test_permanent_and_unknown_errors_reach_the_caller_unchanged():
    retry, _ = policy()
    with pytest.raises(RuntimeError):
        retry.call(Flaky(Fault("permanent", "404")), classify=classify, what="t")

    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        retry.call(boom, classify=classify, what="t")


def test_http_status_mapping_and_retry_after_forms():
    assert http_fault(429, "2", "m", auth_hint="h") == Fault("rate_limited", "m", 2.0)
    assert http_fault(401, None, "m", auth_hint="fix it").kind == "auth"
    assert http_fault(502, None, "m", auth_hint="h").kind == "transient"
    assert http_fault(404, None, "m", auth_hint="h").kind == "permanent"
    soon = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 <= parse_retry_after(format_datetime(soon, usegmt=True)) <= 30
    assert parse_retry_after("garbage") is None
