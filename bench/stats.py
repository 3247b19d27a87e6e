"""Pure statistics used by the scenarios: percentiles and latency summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of already-sorted values; None when empty."""
    if not sorted_values:
        return None
    if pct <= 0:
        return sorted_values[0]
    rank = math.ceil(pct / 100.0 * len(sorted_values))
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def latency_summary_ms(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99/max/mean in milliseconds from durations in seconds."""
    ordered = sorted(seconds)
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 2)
    mean = sum(ordered) / len(ordered) if ordered else None
    return {
        "p50_ms": ms(percentile(ordered, 50)),
        "p90_ms": ms(percentile(ordered, 90)),
        "p99_ms": ms(percentile(ordered, 99)),
        "max_ms": ms(ordered[-1] if ordered else None),
        "mean_ms": ms(mean),
    }


def rate(count: int, seconds: float) -> float:
    """Events per second, 0 when no time elapsed."""
    return round(count / seconds, 2) if seconds > 0 else 0.0


def median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2.0
