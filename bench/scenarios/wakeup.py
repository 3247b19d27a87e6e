"""wakeup: N idle long polls parked on /sync, one message, time until all return.

Connections are spread over K users (N/K each, all from the same since token).
Parking is detected on the client side (request headers written, via an aiohttp
trace) plus a settle time, optionally until the server's RSS stops growing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import aiohttp

from bench import api
from bench.http import TRANSIENT_ERRORS, HomeserverClient, make_session
from bench.population import Target, join_all, register_users
from bench.process import open_fds, raise_nofile_limit, rss_mb
from bench.report import ScenarioResult
from bench.stats import latency_summary_ms
from bench.syncing import SyncCursor, prepare_cursors

log = logging.getLogger("bench.wakeup")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connections", "-n", type=int, default=3000,
                        help="parked /sync connections (default 3000)")
    parser.add_argument("--users", type=int, default=10,
                        help="users sharing the connections, N/K each (default 10)")
    parser.add_argument("--poll-timeout", type=int, default=120000,
                        help="/sync timeout in ms; must outlast opening + settling (default 120000)")
    parser.add_argument("--open-batch", type=int, default=200,
                        help="connections opened per batch while ramping up (default 200)")
    parser.add_argument("--open-interval", type=float, default=0.1,
                        help="seconds between opening batches (default 0.1)")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds to wait after all requests are written (default 3)")
    parser.add_argument("--wake-timeout", type=float, default=60.0,
                        help="max seconds to wait for every connection to return (default 60)")


@dataclass
class WakeState:
    headers_sent: int = 0
    early_returns: int = 0
    errors: int = 0
    marker: str | None = None
    sent_at: float | None = None
    woken_at: list[float] = field(default_factory=list)
    all_woken: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0


def parking_trace(state: WakeState) -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def on_headers_sent(_session: aiohttp.ClientSession, _ctx: SimpleNamespace,
                              _params: aiohttp.TraceRequestHeadersSentParams) -> None:
        state.headers_sent += 1

    trace.on_request_headers_sent.append(on_headers_sent)
    return trace


async def parked_poll(client: HomeserverClient, cursor: SyncCursor, poll_timeout_ms: int,
                      state: WakeState, deadline: float) -> None:
    """Long-poll until a response carries the marker; re-poll on early returns."""
    since = cursor.since
    while time.monotonic() < deadline:
        try:
            response = await api.sync(client, cursor.account, since=since,
                                      timeout_ms=poll_timeout_ms,
                                      filter_param=cursor.filter_param)
        except TRANSIENT_ERRORS as exc:
            state.errors += 1
            log.debug("parked sync failed: %s", exc)
            await asyncio.sleep(0.5)
            continue
        now = time.monotonic()
        if state.marker is not None and any(
                api.marker_of(e) == state.marker for _r, e in response.timeline_events()):
            state.woken_at.append(now)
            if len(state.woken_at) >= state.expected:
                state.all_woken.set()
            return
        state.early_returns += 1
        since = response.next_batch


async def wait_parked(state: WakeState, target: Target, want: int, settle_s: float,
                      timeout_s: float) -> float:
    """Wait for every request to be written, then settle (and for RSS to flatten)."""
    started = time.monotonic()
    deadline = started + timeout_s
    # The writer side counts headers without signalling; polling this counter is the
    # bench client's business, never the server's.
    while state.headers_sent < want and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await asyncio.sleep(settle_s)
    if target.server_pid is not None:
        previous = rss_mb(target.server_pid) or 0.0
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            current = rss_mb(target.server_pid) or 0.0
            if abs(current - previous) <= max(previous * 0.005, 0.5):
                break
            previous = current
    return time.monotonic() - started


async def run(args: argparse.Namespace, target: Target) -> ScenarioResult:
    n_conn = max(args.connections, 1)
    n_users = min(max(args.users, 1), n_conn)
    fd_limit = raise_nofile_limit(n_conn + 1024)
    result = ScenarioResult("wakeup", params={
        "connections": n_conn, "users": n_users, "poll_timeout_ms": args.poll_timeout,
        "settle_s": args.settle})
    if fd_limit < n_conn + 64:
        result.note(f"client RLIMIT_NOFILE is {fd_limit}; connections may fail")
    state = WakeState(expected=n_conn)
    session = make_session(request_timeout_s=args.poll_timeout / 1000.0 + 60,
                           trace_configs=[parking_trace(state)])
    client = HomeserverClient(session, target.base_url, request_timeout_s=60.0)
    tasks: list[asyncio.Task[None]] = []
    try:
        accounts = await register_users(client, target, n_users + 1, "wk")
        sender, listeners = accounts[0], accounts[1:]
        room_id = await api.create_room(client, sender, "bench wakeup")
        await join_all(client, target, [(a, room_id) for a in listeners])
        cursors = await prepare_cursors(client, target, listeners, timeline_limit=5)

        rss_before = rss_mb(target.server_pid)
        fds_before = open_fds(target.server_pid)
        state.headers_sent = 0
        deadline = time.monotonic() + args.poll_timeout / 1000.0 + args.wake_timeout + 60
        open_started = time.monotonic()
        for i in range(n_conn):
            cursor = cursors[i % len(cursors)]
            tasks.append(asyncio.create_task(
                parked_poll(client, SyncCursor(cursor.account, cursor.filter_param, cursor.since),
                            args.poll_timeout, state, deadline), name=f"bench-park-{i}"))
            if (i + 1) % max(args.open_batch, 1) == 0:
                await asyncio.sleep(args.open_interval)
        park_wait = await wait_parked(state, target, n_conn, args.settle,
                                      timeout_s=args.poll_timeout / 2000.0)
        open_elapsed = time.monotonic() - open_started
        rss_parked = rss_mb(target.server_pid)
        fds_parked = open_fds(target.server_pid)
        written_before_send = state.headers_sent
        if written_before_send < n_conn:
            result.note(f"only {written_before_send}/{n_conn} requests were written before "
                        "the message was sent")
        if state.early_returns:
            result.note(f"{state.early_returns} polls returned before the message "
                        "(timeouts or other events); they were re-issued")

        state.marker = f"wake.{api.new_run_id()}"
        state.sent_at = time.monotonic()
        put_started = time.monotonic()
        await api.send_message(client, sender, room_id, api.bench_content(state.marker))
        put_elapsed = time.monotonic() - put_started
        try:
            await asyncio.wait_for(state.all_woken.wait(), timeout=args.wake_timeout)
        except TimeoutError:
            result.note(f"only {len(state.woken_at)}/{n_conn} woke within "
                        f"--wake-timeout {args.wake_timeout}s")
        rss_after = rss_mb(target.server_pid)

        delays = [t - state.sent_at for t in state.woken_at]
        summary = latency_summary_ms(delays)
        result.add("requests_written", written_before_send)
        result.add("open_and_settle_s", round(open_elapsed, 2), "s")
        result.add("park_wait_s", round(park_wait, 2), "s")
        result.add("woken", len(state.woken_at))
        result.add("all_woken_ms", summary["max_ms"] if len(delays) == n_conn else None,
                   "ms", headline=True)
        result.add("wake_p50", summary["p50_ms"], "ms")
        result.add("wake_p90", summary["p90_ms"], "ms")
        result.add("wake_p99", summary["p99_ms"], "ms")
        result.add("wake_max", summary["max_ms"], "ms")
        result.add("put_ms", round(put_elapsed * 1000, 2), "ms")
        result.add("early_returns", state.early_returns)
        result.add("poll_errors", state.errors)
        result.add("server_fds_before", fds_before)
        result.add("server_fds_parked", fds_parked)
        result.add("rss_before_mb", rss_before, "MB")
        result.add("rss_parked_mb", rss_parked, "MB")
        result.add("rss_after_mb", rss_after, "MB")
        if rss_before is not None and rss_parked is not None:
            result.add("rss_per_connection_kb",
                       round((rss_parked - rss_before) * 1024 / n_conn, 2), "kB", headline=True)
            if rss_parked - rss_before <= 0.5:
                result.note("server RSS barely grew: memory freed by earlier runs was reused; "
                            "measure RSS per connection on a freshly started server")
        result.absorb_client(client)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.close()
        await asyncio.sleep(0.1)
    return result
