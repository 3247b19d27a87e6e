"""throughput: messages/s for PUT /send, one sender then N concurrent senders."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from bench import api
from bench.api import Account
from bench.http import TRANSIENT_ERRORS, HomeserverClient
from bench.population import Target, join_all, register_users, scenario_client
from bench.process import rss_mb
from bench.report import ScenarioResult
from bench.stats import latency_summary_ms, rate

log = logging.getLogger("bench.throughput")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=20,
                        help="concurrent senders in phase 2, each its own user (default 20)")
    parser.add_argument("--count", type=int, default=1000,
                        help="max messages per phase (default 1000)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="max seconds per phase (default 20)")


class SendPhase:
    """Counts and times PUT /send calls shared by the senders of one phase."""

    def __init__(self, count: int, duration_s: float) -> None:
        self.remaining = count
        self.deadline = time.monotonic() + duration_s
        self.latencies: list[float] = []
        self.failures = 0

    def take(self) -> bool:
        if self.remaining <= 0 or time.monotonic() >= self.deadline:
            return False
        self.remaining -= 1
        return True


async def sender(client: HomeserverClient, account: Account, room_id: str,
                 phase: SendPhase) -> None:
    while phase.take():
        started = time.monotonic()
        try:
            await api.send_message(client, account, room_id, api.bench_content(body="tput"))
        except TRANSIENT_ERRORS as exc:
            phase.failures += 1
            log.debug("send failed: %s", exc)
            continue
        phase.latencies.append(time.monotonic() - started)


async def run_phase(client: HomeserverClient, senders: list[Account], room_id: str,
                    count: int, duration_s: float) -> tuple[SendPhase, float]:
    phase = SendPhase(count, duration_s)
    started = time.monotonic()
    await asyncio.gather(*(sender(client, a, room_id, phase) for a in senders))
    return phase, time.monotonic() - started


def record_phase(result: ScenarioResult, prefix: str, phase: SendPhase, elapsed: float) -> None:
    sent = len(phase.latencies)
    result.add(f"{prefix}_messages", sent)
    result.add(f"{prefix}_msgs_per_s", rate(sent, elapsed), "msg/s", headline=True)
    summary = latency_summary_ms(phase.latencies)
    result.add(f"{prefix}_put_p50", summary["p50_ms"], "ms")
    result.add(f"{prefix}_put_p99", summary["p99_ms"], "ms")
    result.add(f"{prefix}_failures", phase.failures)


async def run(args: argparse.Namespace, target: Target) -> ScenarioResult:
    result = ScenarioResult("throughput", params={
        "concurrency": args.concurrency, "count": args.count, "duration_s": args.duration})
    async with scenario_client(target) as client:
        users = await register_users(client, target, max(args.concurrency, 1), "tp")
        room_id = await api.create_room(client, users[0], "bench throughput")
        await join_all(client, target, [(u, room_id) for u in users[1:]])
        result.add("rss_before_mb", rss_mb(target.server_pid), "MB")

        log.info("phase 1: one sequential sender")
        phase, elapsed = await run_phase(client, users[:1], room_id, args.count, args.duration)
        record_phase(result, "sequential", phase, elapsed)

        log.info("phase 2: %d concurrent senders", len(users))
        phase, elapsed = await run_phase(client, users, room_id, args.count, args.duration)
        record_phase(result, f"concurrent{len(users)}", phase, elapsed)

        result.add("rss_after_mb", rss_mb(target.server_pid), "MB")
        result.absorb_client(client)
    return result
