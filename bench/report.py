"""Scenario results: one structure, printed for humans or dumped as JSON."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson

from bench.http import HomeserverClient


@dataclass
class ScenarioResult:
    """Named metrics of one scenario run, with their units, plus errors seen."""

    scenario: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    headline: list[str] = field(default_factory=list)

    def add(self, key: str, value: Any, unit: str = "", headline: bool = False) -> None:
        self.metrics[key] = value
        if unit:
            self.units[key] = unit
        if headline:
            self.headline.append(key)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def absorb_client(self, client: HomeserverClient) -> None:
        """Record the transport's error and rate-limit counters."""
        for code, count in client.errors.items():
            self.errors[code] = self.errors.get(code, 0) + count
        self.metrics["http_requests"] = client.requests
        self.metrics["rate_limited_429"] = client.rate_limited

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "params": self.params,
            "metrics": self.metrics,
            "units": self.units,
            "errors": self.errors,
            "notes": self.notes,
        }


def format_value(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_result(result: ScenarioResult, out: TextIO = sys.stdout) -> None:
    out.write(f"\n== {result.scenario} ==\n")
    if result.params:
        params = ", ".join(f"{k}={v}" for k, v in result.params.items())
        out.write(f"params: {params}\n")
    width = max((len(k) for k in result.metrics), default=10)
    for key, value in result.metrics.items():
        unit = result.units.get(key, "")
        out.write(f"  {key:<{width}}  {format_value(value)} {unit}".rstrip() + "\n")
    if result.errors:
        errs = ", ".join(f"{k}={v}" for k, v in sorted(result.errors.items()))
        out.write(f"  errors: {errs}\n")
    for note in result.notes:
        out.write(f"  note: {note}\n")
    out.flush()


def summary_rows(results: list[ScenarioResult]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for result in results:
        keys = result.headline or list(result.metrics)[:2]
        for key in keys:
            value = format_value(result.metrics.get(key))
            rows.append((result.scenario, key, f"{value} {result.units.get(key, '')}".strip()))
        if result.errors:
            errs = sum(result.errors.values())
            rows.append((result.scenario, "errors", str(errs)))
    return rows


def print_summary_table(results: list[ScenarioResult], out: TextIO = sys.stdout) -> None:
    rows = summary_rows(results)
    headers = ("scenario", "metric", "value")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out.write("\n== summary ==\n" + line + "\n" + "  ".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + "\n")
    out.flush()


def write_json(results: list[ScenarioResult], destination: str) -> None:
    """Write results as JSON to a path, or to stdout for '-'."""
    payload = [r.to_json() for r in results]
    data = orjson.dumps(payload[0] if len(payload) == 1 else payload,
                        option=orjson.OPT_INDENT_2)
    if destination == "-":
        sys.stdout.buffer.write(data + b"\n")
        sys.stdout.flush()
    else:
        with open(destination, "wb") as fh:
            fh.write(data + b"\n")
