"""all: every scenario in sequence with modest sizes, then one summary table."""

from __future__ import annotations

# (subcommand, its arguments) in run order; sized to finish in a few minutes.
MODEST_PLAN: list[tuple[str, list[str]]] = [
    ("rss", []),
    # First, so its RSS-per-connection is measured before other scenarios grow the heap.
    ("wakeup", ["--connections", "500", "--users", "10", "--settle", "2"]),
    ("throughput", ["--count", "300", "--concurrency", "10", "--duration", "15"]),
    ("latency", ["--users", "50", "--rooms", "5", "--rate", "20", "--duration", "10"]),
    ("latency", ["--users", "50", "--rooms", "5", "--duration", "10", "--flat-out"]),
    ("initial-sync", ["--rooms", "10", "--messages", "30", "--repeat", "3"]),
    ("paginate", ["--events", "1000", "--limit", "100"]),
    ("rss", []),
]
