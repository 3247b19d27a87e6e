"""Token-bucket rate limiting keyed by a string (a client IP, a user ID ...).

spec: client-server-api/_index.md, "Rate limiting": a refused request gets
429 M_LIMIT_EXCEEDED, optionally with ``retry_after_ms``.

Each key owns a bucket holding up to ``burst`` tokens that refills at
``rate_per_second``; a request takes one token. Buckets live in an LRU map of
bounded size so that a flood of distinct keys cannot grow memory without end
(an evicted bucket was the least recently used, so it has refilled the most).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from homeserver.errors import limit_exceeded

DEFAULT_MAX_KEYS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows ``burst`` requests at once per key, then ``rate_per_second`` on average."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate_per_second
        self.burst = burst
        self._monotonic = monotonic
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @classmethod
    def per_minute(
        cls, per_minute: float, burst: int, monotonic: Callable[[], float] = time.monotonic
    ) -> RateLimiter:
        return cls(per_minute / 60.0, burst, monotonic)

    def try_acquire(self, key: str) -> int:
        """Take one token for ``key``: 0 if allowed, else milliseconds until one is free."""
        now = self._monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate * 1000))

    def check(self, key: str) -> None:
        """Take one token for ``key`` or raise 429 M_LIMIT_EXCEEDED with retry_after_ms."""
        retry_after_ms = self.try_acquire(key)
        if retry_after_ms:
            raise limit_exceeded(retry_after_ms)
