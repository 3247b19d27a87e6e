"""paginate: walk a room's whole history backwards with /messages, events/s."""

from __future__ import annotations

import argparse
import logging
import math
import time

from bench import api
from bench.api import Account
from bench.http import HomeserverClient, HomeserverError, JsonDict
from bench.population import Target, fill_room, register_users, scenario_client
from bench.process import rss_mb
from bench.report import ScenarioResult
from bench.stats import latency_summary_ms, rate

log = logging.getLogger("bench.paginate")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=10000,
                        help="messages sent into the room first (default 10000)")
    parser.add_argument("--limit", type=int, default=100, help="page size (default 100)")
    parser.add_argument("--from-sync", action="store_true",
                        help="start from a sync's prev_batch instead of omitting 'from'")
    parser.add_argument("--duration", type=float, default=300.0,
                        help="max seconds for the walk (default 300)")


async def start_token(client: HomeserverClient, user: Account, room_id: str
                      ) -> tuple[str, list[JsonDict]]:
    """prev_batch of the room's timeline in a fresh sync, and the events already seen there."""
    filter_param = '{"room":{"timeline":{"limit":1}}}'
    response = await api.sync(client, user, timeout_ms=0, filter_param=filter_param)
    timeline = response.body["rooms"]["join"][room_id]["timeline"]
    return str(timeline["prev_batch"]), list(timeline.get("events", []))


async def run(args: argparse.Namespace, target: Target) -> ScenarioResult:
    result = ScenarioResult("paginate", params={
        "events": args.events, "limit": args.limit, "from_sync": args.from_sync})
    async with scenario_client(target) as client:
        (user,) = await register_users(client, target, 1, "pg")
        room_id = await api.create_room(client, user, "bench paginate")
        setup_started = time.monotonic()
        await fill_room(client, user, room_id, args.events, target.setup_concurrency)
        setup_elapsed = time.monotonic() - setup_started
        result.add("setup_s", round(setup_elapsed, 2), "s")
        result.add("setup_send_rate", rate(args.events, setup_elapsed), "msg/s")

        token: str | None = None
        initial: list[JsonDict] = []
        if args.from_sync:
            token, initial = await start_token(client, user, room_id)
        max_pages = math.ceil(args.events / max(args.limit, 1)) * 2 + 50
        deadline = time.monotonic() + args.duration
        page_times: list[float] = []
        seen = len(initial)
        messages_seen = sum(1 for e in initial if e.get("type") == "m.room.message")
        reached_create = False
        started = time.monotonic()
        for _page in range(max_pages):
            if time.monotonic() >= deadline:
                result.note(f"stopped at --duration {args.duration}s")
                break
            page_started = time.monotonic()
            try:
                page = await api.room_messages(client, user, room_id, from_token=token,
                                               limit=args.limit)
            except HomeserverError as exc:
                if token is None and exc.status == 400:
                    # Server predates spec v1.3 (optional 'from'): start from sync instead.
                    result.note(f"omitting 'from' was rejected ({exc.errcode}); used prev_batch")
                    token, initial = await start_token(client, user, room_id)
                    seen += len(initial)
                    messages_seen += sum(1 for e in initial if e.get("type") == "m.room.message")
                    continue
                raise
            page_times.append(time.monotonic() - page_started)
            chunk = page.get("chunk", [])
            seen += len(chunk)
            for event in chunk:
                if event.get("type") == "m.room.message":
                    messages_seen += 1
                elif event.get("type") == "m.room.create":
                    reached_create = True
            end = page.get("end")
            if not chunk or end is None or end == token:
                break
            token = str(end)
        elapsed = time.monotonic() - started

        result.add("pages", len(page_times))
        result.add("events_walked", seen)
        result.add("messages_walked", messages_seen)
        result.add("reached_room_create", reached_create)
        result.add("walk_s", round(elapsed, 2), "s")
        result.add("events_per_s", rate(seen, elapsed), "events/s", headline=True)
        pages = latency_summary_ms(page_times)
        result.add("page_p50", pages["p50_ms"], "ms")
        result.add("page_p99", pages["p99_ms"], "ms")
        result.add("rss_after_mb", rss_mb(target.server_pid), "MB")
        if messages_seen < args.events:
            result.note(f"walked {messages_seen} of {args.events} sent messages")
        result.absorb_client(client)
    return result
