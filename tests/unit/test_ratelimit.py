"""Token-bucket rate limiter: burst, refill, per-key isolation, 429 errors."""

from __future__ import annotations

import pytest

from homeserver.core.ratelimit import RateLimiter
from homeserver.errors import MatrixError


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_allowed_then_refused() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(rate_per_second=1.0, burst=3, monotonic=clock)
    assert [limiter.try_acquire("ip") for _ in range(3)] == [0, 0, 0]
    assert limiter.try_acquire("ip") > 0


def test_retry_after_is_time_until_next_token() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(rate_per_second=0.5, burst=1, monotonic=clock)
    assert limiter.try_acquire("ip") == 0
    assert limiter.try_acquire("ip") == 2000
    clock.now += 1.5
    assert limiter.try_acquire("ip") == 500


def test_tokens_refill_over_time() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(rate_per_second=2.0, burst=2, monotonic=clock)
    limiter.try_acquire("ip")
    limiter.try_acquire("ip")
    assert limiter.try_acquire("ip") > 0
    clock.now += 0.5
    assert limiter.try_acquire("ip") == 0
    assert limiter.try_acquire("ip") > 0


def test_refill_never_exceeds_burst() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(rate_per_second=10.0, burst=2, monotonic=clock)
    clock.now += 3600
    assert [limiter.try_acquire("ip") for _ in range(2)] == [0, 0]
    assert limiter.try_acquire("ip") > 0


def test_keys_are_independent() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(rate_per_second=1.0, burst=1, monotonic=clock)
    assert limiter.try_acquire("a") == 0
    assert limiter.try_acquire("a") > 0
    assert limiter.try_acquire("b") == 0


def test_refused_requests_do_not_consume_tokens() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(rate_per_second=1.0, burst=1, monotonic=clock)
    limiter.try_acquire("ip")
    for _ in range(5):
        assert limiter.try_acquire("ip") > 0
    clock.now += 1.0
    assert limiter.try_acquire("ip") == 0


def test_check_raises_limit_exceeded_with_retry_after() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter.per_minute(60, burst=1, monotonic=clock)
    limiter.check("ip")
    with pytest.raises(MatrixError) as info:
        limiter.check("ip")
    assert info.value.status == 429
    assert info.value.errcode == "M_LIMIT_EXCEEDED"
    assert info.value.to_json()["retry_after_ms"] == 1000


def test_key_map_is_bounded() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(rate_per_second=1.0, burst=1, monotonic=clock, max_keys=10)
    for i in range(100):
        limiter.try_acquire(f"ip{i}")
    assert len(limiter._buckets) == 10
    # The most recent keys are still limited.
    assert limiter.try_acquire("ip99") > 0


def test_invalid_parameters_are_rejected() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate_per_second=0, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(rate_per_second=1, burst=0)
