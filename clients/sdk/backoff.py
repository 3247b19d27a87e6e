"""Retry delays: capped exponential backoff with optional jitter (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    # Fraction of the delay that is randomised, so many clients do not retry in step.
    jitter: float = 0.0

    def delay(self, attempt: int, *, retry_after_ms: int | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based).

        A server's retry_after_ms (M_LIMIT_EXCEEDED) wins when longer than our own delay.
        """
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        # Cap the exponent so huge attempt counts do not overflow floats.
        base = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        if self.jitter:
            r = (rng or random).random()
            base = base * (1 - self.jitter) + base * self.jitter * r
        if retry_after_ms is not None:
            base = max(base, retry_after_ms / 1000)
        return base
