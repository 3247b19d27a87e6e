"""push: messages/s and server CPU per message into rooms of N local members.

Every committed event is evaluated against the push rules of every local member of
its room, so a send into a big room costs the server work per member. For each N in
``--members`` this registers N users, joins them to one room through the client API,
then one user sends ``--count`` messages back-to-back. Server CPU per message (needs
``--server-pid``) is the primary figure on a shared machine.
"""

from __future__ import annotations

import argparse
import logging
import time

from bench import api
from bench.population import Target, join_all, register_users, scenario_client
from bench.process import cpu_seconds
from bench.report import ScenarioResult
from bench.scenarios.throughput import run_phase
from bench.stats import latency_summary_ms, rate

log = logging.getLogger("bench.push")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", default="10,100,1000",
                        help="comma-separated local member counts, one room each (default 10,100,1000)")
    parser.add_argument("--count", type=int, default=200,
                        help="max messages sent into each room (default 200)")
    parser.add_argument("--duration", type=float, default=30.0,
                        help="max seconds of sending per room (default 30)")


def member_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 2:
        raise ValueError("--members needs counts of at least 2")
    return counts


async def run(args: argparse.Namespace, target: Target) -> ScenarioResult:
    counts = member_counts(args.members)
    result = ScenarioResult("push", params={
        "members": args.members, "count": args.count, "duration_s": args.duration})
    async with scenario_client(target) as client:
        for members in counts:
            users = await register_users(client, target, members, f"push{members}")
            room_id = await api.create_room(client, users[0], f"bench push {members}")
            setup_started = time.monotonic()
            await join_all(client, target, [(u, room_id) for u in users[1:]])
            result.add(f"n{members}_join_wall_s", round(time.monotonic() - setup_started, 2), "s")

            log.info("sending into a room of %d members", members)
            cpu_before = cpu_seconds(target.server_pid)
            phase, elapsed = await run_phase(client, users[:1], room_id, args.count, args.duration)
            cpu_after = cpu_seconds(target.server_pid)
            sent = len(phase.latencies)
            result.add(f"n{members}_messages", sent)
            result.add(f"n{members}_msgs_per_s", rate(sent, elapsed), "msg/s", headline=True)
            result.add(f"n{members}_put_p50", latency_summary_ms(phase.latencies)["p50_ms"], "ms")
            result.add(f"n{members}_failures", phase.failures)
            if cpu_before is not None and cpu_after is not None and sent:
                per_message_ms = (cpu_after - cpu_before) * 1000.0 / sent
                result.add(f"n{members}_server_cpu_per_msg", round(per_message_ms, 2), "ms",
                           headline=True)
        result.absorb_client(client)
    return result
