"""latency: delay from PUT /send to receipt through long-polling /sync.

Syncing users are spread over rooms; senders post at a fixed (open-loop) rate, or
as fast as they can with --flat-out. Each message carries a unique marker; the
delay is measured on one monotonic clock from just before the PUT to the moment
a syncer's /sync response containing the marker has been parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from bench import api
from bench.api import Account
from bench.http import TRANSIENT_ERRORS, HomeserverClient
from bench.population import Target, join_all, register_users, scenario_client
from bench.process import rss_mb
from bench.report import ScenarioResult
from bench.stats import latency_summary_ms, rate
from bench.syncing import SyncCursor, prepare_cursors

log = logging.getLogger("bench.latency")

MAX_IN_FLIGHT_SENDS = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=100, help="syncing users (default 100)")
    parser.add_argument("--rooms", type=int, default=5, help="rooms (default 5)")
    parser.add_argument("--senders", type=int, default=None,
                        help="sending users, one room each (default: one per room)")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="total messages/s across senders (default 20)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds of sending (default 20)")
    parser.add_argument("--flat-out", action="store_true",
                        help="senders send back-to-back as fast as they can")
    parser.add_argument("--timeline-limit", type=int, default=10,
                        help="sync filter timeline limit (default 10)")
    parser.add_argument("--poll-timeout", type=int, default=30000,
                        help="/sync timeout in ms (default 30000)")
    parser.add_argument("--drain", type=float, default=10.0,
                        help="max seconds to wait for deliveries after sending (default 10)")


@dataclass
class DeliveryLog:
    """Shared bookkeeping between senders and syncers."""

    members: Counter[str]
    sent_at: dict[str, float] = field(default_factory=dict)
    send_latencies: list[float] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    expected: int = 0
    send_failures: int = 0
    duplicates: int = 0
    limited: int = 0
    sync_errors: int = 0
    sync_responses: int = 0
    first_send: float | None = None
    last_delivery: float | None = None
    all_delivered: asyncio.Event = field(default_factory=asyncio.Event)
    sending_done: bool = False

    def check_done(self) -> None:
        if self.sending_done and len(self.delays) >= self.expected:
            self.all_delivered.set()


async def send_marked(client: HomeserverClient, account: Account, room_id: str,
                      marker: str, deliveries: DeliveryLog) -> None:
    started = time.monotonic()
    if deliveries.first_send is None:
        deliveries.first_send = started
    deliveries.sent_at[marker] = started
    try:
        await api.send_message(client, account, room_id, api.bench_content(marker))
    except TRANSIENT_ERRORS as exc:
        deliveries.send_failures += 1
        log.debug("send failed: %s", exc)
        return
    deliveries.send_latencies.append(time.monotonic() - started)
    deliveries.expected += deliveries.members[room_id]


async def sync_loop(client: HomeserverClient, cursor: SyncCursor, poll_timeout_ms: int,
                    deliveries: DeliveryLog, deadline: float) -> None:
    seen: set[str] = set()
    while time.monotonic() < deadline:
        try:
            response = await api.sync(client, cursor.account, since=cursor.since,
                                      timeout_ms=poll_timeout_ms,
                                      filter_param=cursor.filter_param)
        except TRANSIENT_ERRORS as exc:
            deliveries.sync_errors += 1
            log.debug("sync failed for %s: %s", cursor.account.user_id, exc)
            await asyncio.sleep(0.5)
            continue
        now = time.monotonic()
        deliveries.sync_responses += 1
        deliveries.limited += response.limited_rooms()
        for _room_id, event in response.timeline_events():
            marker = api.marker_of(event)
            if marker is None or marker not in deliveries.sent_at:
                continue
            if marker in seen:
                deliveries.duplicates += 1
                continue
            seen.add(marker)
            deliveries.delays.append(now - deliveries.sent_at[marker])
            deliveries.last_delivery = now
        cursor.since = response.next_batch
        deliveries.check_done()


async def send_at_rate(client: HomeserverClient, senders: list[tuple[Account, str]],
                       rate_per_s: float, duration_s: float, run_tag: str,
                       deliveries: DeliveryLog) -> None:
    """Open-loop: message i is due at start + i/rate whether or not earlier ones finished."""
    total = int(rate_per_s * duration_s)
    start = time.monotonic()
    in_flight: set[asyncio.Task[None]] = set()
    skipped = 0
    for i in range(total):
        delay = start + i / rate_per_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= MAX_IN_FLIGHT_SENDS:
            skipped += 1
            continue
        account, room_id = senders[i % len(senders)]
        task = asyncio.create_task(
            send_marked(client, account, room_id, f"{run_tag}.{i}", deliveries),
            name=f"bench-send-{i}")
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=60)
    if skipped:
        log.warning("skipped %d sends: server fell behind by %d in-flight requests",
                    skipped, MAX_IN_FLIGHT_SENDS)


async def send_flat_out(client: HomeserverClient, senders: list[tuple[Account, str]],
                        duration_s: float, run_tag: str, deliveries: DeliveryLog) -> None:
    deadline = time.monotonic() + duration_s

    async def one_sender(index: int, account: Account, room_id: str) -> None:
        n = 0
        while time.monotonic() < deadline:
            await send_marked(client, account, room_id, f"{run_tag}.{index}.{n}", deliveries)
            n += 1

    await asyncio.gather(*(one_sender(i, a, r) for i, (a, r) in enumerate(senders)))


async def run(args: argparse.Namespace, target: Target) -> ScenarioResult:
    n_rooms = max(args.rooms, 1)
    n_senders = max(args.senders or n_rooms, n_rooms)  # each room is created by a sender
    mode = "flat-out" if args.flat_out else "fixed-rate"
    result = ScenarioResult(f"latency ({mode})", params={
        "users": args.users, "rooms": n_rooms, "senders": n_senders,
        "rate": None if args.flat_out else args.rate, "duration_s": args.duration,
        "timeline_limit": args.timeline_limit, "poll_timeout_ms": args.poll_timeout})
    async with scenario_client(target, request_timeout_s=60.0) as client:
        accounts = await register_users(client, target, args.users + n_senders, "lat")
        syncers, sender_accounts = accounts[:args.users], accounts[args.users:]
        rooms = [await api.create_room(client, sender_accounts[i], f"bench latency {i}")
                 for i in range(n_rooms)]
        senders = [(a, rooms[i % n_rooms]) for i, a in enumerate(sender_accounts)]
        members = Counter(rooms[i % n_rooms] for i in range(len(syncers)))
        await join_all(client, target,
                       [(a, rooms[i % n_rooms]) for i, a in enumerate(syncers)]
                       + [(a, r) for i, (a, r) in enumerate(senders) if i >= n_rooms])
        cursors = await prepare_cursors(client, target, syncers, args.timeline_limit)
        rss_before = rss_mb(target.server_pid)

        deliveries = DeliveryLog(members)
        hard_deadline = time.monotonic() + args.duration + args.drain + 5
        sync_tasks = [asyncio.create_task(
            sync_loop(client, c, args.poll_timeout, deliveries, hard_deadline),
            name=f"bench-sync-{i}") for i, c in enumerate(cursors)]
        await asyncio.sleep(1.0)  # let the long polls park before the first send
        run_tag = api.new_run_id()
        send_started = time.monotonic()
        if args.flat_out:
            await send_flat_out(client, senders, args.duration, run_tag, deliveries)
        else:
            await send_at_rate(client, senders, args.rate, args.duration, run_tag, deliveries)
        send_elapsed = time.monotonic() - send_started
        deliveries.sending_done = True
        deliveries.check_done()
        try:
            await asyncio.wait_for(deliveries.all_delivered.wait(), timeout=args.drain)
        except TimeoutError:
            result.note(f"not all deliveries arrived within --drain {args.drain}s")
        rss_after = rss_mb(target.server_pid)
        for task in sync_tasks:
            task.cancel()
        await asyncio.gather(*sync_tasks, return_exceptions=True)

        sent = len(deliveries.send_latencies)
        delivered = len(deliveries.delays)
        span = ((deliveries.last_delivery or send_started) - (deliveries.first_send or send_started))
        result.add("messages_sent", sent)
        result.add("send_rate", rate(sent, send_elapsed), "msg/s", headline=args.flat_out)
        result.add("send_failures", deliveries.send_failures)
        result.add("deliveries_expected", deliveries.expected)
        result.add("deliveries", delivered)
        result.add("deliveries_per_s", rate(delivered, span), "deliveries/s", headline=True)
        summary = latency_summary_ms(deliveries.delays)
        for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
            result.add(f"delay_{key[:-3]}", summary[key], "ms",
                       headline=not args.flat_out and key in ("p50_ms", "p99_ms"))
        put = latency_summary_ms(deliveries.send_latencies)
        result.add("put_p50", put["p50_ms"], "ms")
        result.add("put_p99", put["p99_ms"], "ms")
        result.add("sync_responses", deliveries.sync_responses)
        result.add("limited_timelines", deliveries.limited)
        result.add("sync_errors", deliveries.sync_errors)
        result.add("duplicate_deliveries", deliveries.duplicates)
        result.add("rss_before_mb", rss_before, "MB")
        result.add("rss_after_mb", rss_after, "MB")
        if deliveries.limited:
            result.note("some timelines were limited (gaps): raise --timeline-limit "
                        "if deliveries < expected")
        result.absorb_client(client)
    return result
