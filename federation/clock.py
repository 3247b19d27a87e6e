"""The time source the library runs on, supplied by its user (tests move it)."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def time_ms(self) -> int:
        """Wall-clock time in milliseconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for intervals."""
        ...
