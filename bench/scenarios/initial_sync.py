"""initial-sync: time of a /sync with no since token for a user in R rooms of M messages."""

from __future__ import annotations

import argparse
import logging
import time

import orjson

from bench import api
from bench.population import Target, bounded_gather, fill_room, register_users, scenario_client
from bench.process import rss_mb
from bench.report import ScenarioResult
from bench.stats import median

log = logging.getLogger("bench.initial_sync")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rooms", type=int, default=20, help="rooms (default 20)")
    parser.add_argument("--messages", type=int, default=100,
                        help="messages per room (default 100)")
    parser.add_argument("--repeat", type=int, default=5, help="timed syncs (default 5)")
    parser.add_argument("--timeline-limit", type=int, default=None,
                        help="send a filter with this timeline limit (default: server default)")
    parser.add_argument("--sync-timeout", type=float, default=120.0,
                        help="max seconds for one initial sync (default 120)")


async def run(args: argparse.Namespace, target: Target) -> ScenarioResult:
    result = ScenarioResult("initial-sync", params={
        "rooms": args.rooms, "messages_per_room": args.messages, "repeat": args.repeat,
        "timeline_limit": args.timeline_limit})
    async with scenario_client(target, request_timeout_s=args.sync_timeout + 30) as client:
        (user,) = await register_users(client, target, 1, "is")
        setup_started = time.monotonic()
        rooms = await bounded_gather(
            [lambda i=i: api.create_room(client, user, f"bench initial-sync {i}")
             for i in range(args.rooms)], target.setup_concurrency)
        per_room = max(1, target.setup_concurrency // max(len(rooms), 1))
        await bounded_gather(
            [lambda r=r: fill_room(client, user, r, args.messages, per_room) for r in rooms],
            target.setup_concurrency)
        result.add("setup_s", round(time.monotonic() - setup_started, 2), "s")
        filter_param = None
        if args.timeline_limit is not None:
            filter_param = orjson.dumps(
                {"room": {"timeline": {"limit": args.timeline_limit}}}).decode()

        rss_before = rss_mb(target.server_pid)
        timings: list[float] = []
        size = 0
        rooms_seen = 0
        events_seen = 0
        for attempt in range(max(args.repeat, 1)):
            started = time.monotonic()
            response = await api.sync(client, user, timeout_ms=0, filter_param=filter_param,
                                      slack_s=args.sync_timeout)
            timings.append(time.monotonic() - started)
            size = response.size
            rooms_seen = len(response.body.get("rooms", {}).get("join", {}))
            events_seen = len(response.timeline_events())
            log.info("initial sync %d: %.1f ms", attempt, timings[-1] * 1000)
        result.add("min_ms", round(min(timings) * 1000, 2), "ms", headline=True)
        result.add("median_ms", round((median(timings) or 0) * 1000, 2), "ms", headline=True)
        result.add("max_ms", round(max(timings) * 1000, 2), "ms")
        result.add("response_bytes", size, "B")
        result.add("joined_rooms_in_response", rooms_seen)
        result.add("timeline_events_in_response", events_seen)
        result.add("rss_before_mb", rss_before, "MB")
        result.add("rss_after_mb", rss_mb(target.server_pid), "MB")
        if rooms_seen != len(rooms):
            result.note(f"response listed {rooms_seen} joined rooms, expected {len(rooms)}")
        result.absorb_client(client)
    return result
