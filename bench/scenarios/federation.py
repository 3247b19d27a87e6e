"""federation-send / federation-join: two parleyd processes federating on loopback.

The scenario starts its own two servers, A and B (``python -m homeserver.app.cli run``
children, each named ``127.0.0.1:<port>``, federating over plain HTTP, which the
config allows only to loopback peers), drives them over the Client-Server API and
stops them with SIGTERM at the end. ``--base-url`` and ``--server-pid`` are not used.

federation-send: senders on A post flat-out into a room a receiver on B has joined;
every message carries a marker, and B's receiver long-polls /sync. Reported: what A
accepted, what arrived at B (via /sync, and counted again in B's /messages), the
carried rate from the first send to the last arrival, and the send-to-arrival delay
(one monotonic clock). spec: server-server-api.md, "Transactions".

federation-join: A holds a room of ``--members`` members and ``--events`` events
(filled through the Client-Server API as fast as A takes them — messages first, then
the joins — timed); then a user
on B joins it by room ID with ``via=A`` — make_join, send_join with the full state and
auth chain, all checked on B. spec: server-server-api.md, "Joining Rooms".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml

from bench import api
from bench.api import CS, Account
from bench.http import HomeserverClient, path_segment
from bench.population import Target, fill_room, join_all, register_users, scenario_client
from bench.process import cpu_seconds, rss_mb
from bench.report import ScenarioResult
from bench.stats import latency_summary_ms, rate

log = logging.getLogger("bench.federation")

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", default=None,
                        help="directory for the two servers' data (default: a temporary one, removed)")
    send = parser.add_argument_group("federation-send")
    send.add_argument("--senders", type=int, default=4, help="users on A sending flat-out (default 4)")
    send.add_argument("--duration", type=float, default=10.0, help="seconds of sending (default 10)")
    send.add_argument("--rate", type=float, default=0.0,
                      help="total messages/s, open loop, spread over the senders (default 0: flat out)")
    send.add_argument("--drain", type=float, default=60.0,
                      help="max seconds to wait for arrivals at B after sending (default 60)")
    send.add_argument("--timeline-limit", type=int, default=500,
                      help="B's sync filter timeline limit (default 500)")
    join = parser.add_argument_group("federation-join")
    join.add_argument("--members", type=int, default=1000, help="members of the room on A (default 1000)")
    join.add_argument("--events", type=int, default=10000,
                      help="events in the room on A, members' joins included (default 10000)")
    join.add_argument("--fill-concurrency", type=int, default=20,
                      help="parallel sends while filling the room (default 20)")


# --- the two servers --------------------------------------------------------------------
def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class ParleydProcess:
    """One ``parleyd`` child named ``127.0.0.1:<port>``; stopped by SIGTERM to its PID."""

    def __init__(self, root: Path, label: str) -> None:
        self.label = label
        self.port = free_loopback_port()
        self.dir = root / f"{label}-{self.port}"  # a fresh directory per run, also under --data-root
        self.server_name = f"{LOOPBACK}:{self.port}"
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        self.config = self.dir / "homeserver.yaml"
        self.log = self.dir / "parleyd.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def init(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "homeserver.app.cli", "init", "--server-name", self.server_name,
            "--config", str(self.config), "--data-dir", str(self.dir / "data"),
            "--host", LOOPBACK, "--port", str(self.port),
            cwd=REPO, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"parleyd init failed: {err.decode(errors='replace')}")
        config = yaml.safe_load(self.config.read_text())
        # Benchmark servers: thousands of registrations must not measure argon2 or the limiter.
        config["password_hashing"] = {"opslimit": 1, "memlimit_kib": 8}
        config["registration"].update({"rate_per_minute": 10_000_000, "burst": 10_000_000})
        config["log_level"] = "WARNING"
        config.setdefault("federation", {}).update({"allow_plain_http": True, "trusted_key_servers": []})
        self.config.write_text(yaml.safe_dump(config))

    async def start(self) -> None:
        with self.log.open("ab") as log_file:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeserver.app.cli", "run", "--config", str(self.config),
                cwd=REPO, stdout=log_file, stderr=log_file, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        async with aiohttp.ClientSession() as session, asyncio.timeout(START_TIMEOUT_S):
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"parleyd {self.label} exited; see {self.log}")
                try:
                    async with session.get(self.base_url + "/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)  # polling a child's start-up: nothing to wait on

    async def stop(self) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.error("parleyd %s did not exit on SIGTERM; killing PID %s", self.label, self.pid)
            self.process.kill()
            return await self.process.wait()


@asynccontextmanager
async def two_servers(data_root: str | None) -> AsyncIterator[tuple[ParleydProcess, ParleydProcess]]:
    root = Path(data_root) if data_root else Path(tempfile.mkdtemp(prefix="parley-bench-fed-"))
    servers = (ParleydProcess(root, "a"), ParleydProcess(root, "b"))
    try:
        await asyncio.gather(*(s.init() for s in servers))
        await asyncio.gather(*(s.start() for s in servers))
        log.info("A = %s (pid %s), B = %s (pid %s)", servers[0].server_name, servers[0].pid,
                 servers[1].server_name, servers[1].pid)
        yield servers
    finally:
        for server in servers:
            code = await server.stop()
            if code not in (0, None):
                log.warning("parleyd %s exited with %s; see %s", server.label, code, server.log)
        if not data_root:
            shutil.rmtree(root, ignore_errors=True)


def server_target(server: ParleydProcess, target: Target) -> Target:
    return Target(server.base_url, server.pid, None, target.setup_concurrency)


async def join_via(client: HomeserverClient, account: Account, room_id: str, server_name: str) -> None:
    await client.request("POST", f"{CS}/join/{path_segment(room_id)}", access_token=account.access_token,
                         body={}, params={"via": server_name}, timeout_s=600.0)


class CpuMeter:
    """CPU seconds both servers spend between ``__init__`` and ``record``."""

    def __init__(self, a: ParleydProcess, b: ParleydProcess) -> None:
        self.servers = {"a": a, "b": b}
        self.start = {k: cpu_seconds(s.pid) for k, s in self.servers.items()}

    def record(self, result: ScenarioResult, phase: str) -> None:
        for key, server in self.servers.items():
            before, after = self.start[key], cpu_seconds(server.pid)
            if before is not None and after is not None:
                result.add(f"{phase}_cpu_{key}_s", round(after - before, 2), "s")


def absorb_clients(result: ScenarioResult, *clients: HomeserverClient) -> None:
    for client in clients:
        result.absorb_client(client)
    result.add("http_requests", sum(c.requests for c in clients))
    result.add("rate_limited_429", sum(c.rate_limited for c in clients))


# --- federation-send ----------------------------------------------------------------------
@dataclass
class Arrivals:
    sent_at: dict[str, float] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    send_latencies: list[float] = field(default_factory=list)
    send_failures: int = 0
    limited: int = 0
    first_send: float | None = None
    last_arrival: float | None = None
    sending_done: bool = False
    all_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def check_done(self) -> None:
        if self.sending_done and len(self.delays) >= len(self.send_latencies):
            self.all_arrived.set()


async def receive_loop(client: HomeserverClient, account: Account, filter_param: str, since: str,
                       arrivals: Arrivals) -> None:
    seen: set[str] = set()
    while True:
        response = await api.sync(client, account, since=since, timeout_ms=30000, filter_param=filter_param)
        now = time.monotonic()
        arrivals.limited += response.limited_rooms()
        for _room_id, event in response.timeline_events():
            marker = api.marker_of(event)
            if marker is not None and marker in arrivals.sent_at and marker not in seen:
                seen.add(marker)
                arrivals.delays.append(now - arrivals.sent_at[marker])
                arrivals.last_arrival = now
        since = response.next_batch
        arrivals.check_done()


async def send_marked(client: HomeserverClient, account: Account, room_id: str, marker: str,
                      arrivals: Arrivals) -> None:
    started = time.monotonic()
    if arrivals.first_send is None:
        arrivals.first_send = started
    arrivals.sent_at[marker] = started
    try:
        await api.send_message(client, account, room_id, api.bench_content(marker))
    except Exception as exc:  # noqa: BLE001 (counted; the run goes on)
        arrivals.send_failures += 1
        log.debug("send failed: %s", exc)
        return
    arrivals.send_latencies.append(time.monotonic() - started)


async def send_flat_out(client: HomeserverClient, senders: list[Account], room_id: str, duration_s: float,
                        run_tag: str, arrivals: Arrivals) -> None:
    deadline = time.monotonic() + duration_s

    async def one_sender(index: int, account: Account) -> None:
        n = 0
        while time.monotonic() < deadline:
            await send_marked(client, account, room_id, f"{run_tag}.{index}.{n}", arrivals)
            n += 1

    await asyncio.gather(*(one_sender(i, a) for i, a in enumerate(senders)))


async def send_at_rate(client: HomeserverClient, senders: list[Account], room_id: str, rate_per_s: float,
                       duration_s: float, run_tag: str, arrivals: Arrivals) -> None:
    """Open loop: message i is due at start + i/rate, whether or not earlier ones returned."""
    start = time.monotonic()
    tasks: list[asyncio.Task[None]] = []
    for i in range(int(rate_per_s * duration_s)):
        delay = start + i / rate_per_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # the schedule itself, not a wait for a condition
        tasks.append(asyncio.create_task(
            send_marked(client, senders[i % len(senders)], room_id, f"{run_tag}.{i}", arrivals),
            name=f"bench-federation-send-{i}"))
    await asyncio.gather(*tasks)


async def wait_for_marker(client: HomeserverClient, account: Account, filter_param: str, since: str,
                          marker: str, within_s: float) -> str:
    """Long-poll /sync until an event with ``marker`` arrives; returns the next since token."""
    async with asyncio.timeout(within_s):
        while True:
            reply = await api.sync(client, account, since=since, timeout_ms=30000, filter_param=filter_param)
            since = reply.next_batch
            if any(api.marker_of(e) == marker for _, e in reply.timeline_events()):
                return since


async def warm_up(on_a: HomeserverClient, on_b: HomeserverClient, sender: Account, receiver: Account,
                  room_id: str, filter_param: str, since: str) -> str:
    """One message A -> B before the clock starts: keys fetched, connections open."""
    marker = f"{api.new_run_id()}.warm-up"
    await api.send_message(on_a, sender, room_id, api.bench_content(marker))
    return await wait_for_marker(on_b, receiver, filter_param, since, marker, 60.0)


async def count_markers(client: HomeserverClient, account: Account, room_id: str, run_tag: str,
                        at_most: int) -> int:
    """Markers of this run in the room's history on a server, walking /messages back."""
    found: set[str] = set()
    token: str | None = None
    walked = 0
    while walked < at_most + 200:
        page = await api.room_messages(client, account, room_id, from_token=token, limit=500)
        chunk = page.get("chunk", [])
        walked += len(chunk)
        found |= {m for m in (api.marker_of(e) for e in chunk) if m and m.startswith(run_tag + ".")}
        token = page.get("end")
        if not chunk or token is None:
            break
    return len(found)


async def run_send(args: argparse.Namespace, target: Target) -> ScenarioResult:
    result = ScenarioResult("federation-send", params={
        "senders": args.senders, "rate": args.rate or "flat-out", "duration_s": args.duration,
        "timeline_limit": args.timeline_limit})
    async with two_servers(args.data_root) as (a, b), scenario_client(
            server_target(a, target)) as on_a, scenario_client(server_target(b, target)) as on_b:
        senders = await register_users(on_a, server_target(a, target), max(args.senders, 1), "fsa")
        (receiver,) = await register_users(on_b, server_target(b, target), 1, "fsb")
        room_id = await api.create_room(on_a, senders[0], "bench federation send")
        await join_all(on_a, server_target(a, target), [(s, room_id) for s in senders[1:]])
        await join_via(on_b, receiver, room_id, a.server_name)
        filter_param = await api.upload_filter(on_b, receiver, api.sync_filter(args.timeline_limit))
        since = (await api.sync(on_b, receiver, filter_param=filter_param)).next_batch

        arrivals = Arrivals()
        receiving: asyncio.Task[None] | None = None
        try:
            since = await warm_up(on_a, on_b, senders[0], receiver, room_id, filter_param, since)
            receiving = asyncio.create_task(receive_loop(on_b, receiver, filter_param, since, arrivals),
                                            name="bench-federation-receive")
            cpu = CpuMeter(a, b)
            run_tag = api.new_run_id()
            send_started = time.monotonic()
            if args.rate > 0:
                await send_at_rate(on_a, senders, room_id, args.rate, args.duration, run_tag, arrivals)
            else:
                await send_flat_out(on_a, senders, room_id, args.duration, run_tag, arrivals)
            send_elapsed = time.monotonic() - send_started
            arrivals.sending_done = True
            arrivals.check_done()
            try:
                await asyncio.wait_for(arrivals.all_arrived.wait(), args.drain)
            except TimeoutError:
                result.note(f"not every message reached B's /sync within --drain {args.drain}s")
            cpu.record(result, "send")
        finally:
            if receiving is not None:
                receiving.cancel()
                await asyncio.gather(receiving, return_exceptions=True)

        sent = len(arrivals.send_latencies)
        arrived = len(arrivals.delays)
        span = (arrivals.last_arrival or send_started) - (arrivals.first_send or send_started)
        result.add("messages_sent_on_a", sent)
        result.add("send_rate_on_a", rate(sent, send_elapsed), "msg/s")
        result.add("send_failures", arrivals.send_failures)
        result.add("arrived_in_b_sync", arrived)
        result.add("in_b_history", await count_markers(on_b, receiver, room_id, run_tag, sent))
        result.add("carried_rate", rate(arrived, span), "events/s", headline=True)
        # Server CPU per carried event: the machine is shared, so this is the number to compare.
        for server in ("a", "b"):
            cpu_s = result.metrics.get(f"send_cpu_{server}_s")
            if isinstance(cpu_s, (int, float)) and arrived:
                result.add(f"cpu_{server}_per_event_ms", round(cpu_s * 1000 / arrived, 2), "ms",
                           headline=server == "b")
        delays = latency_summary_ms(arrivals.delays)
        for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
            result.add(f"delay_{key[:-3]}", delays[key], "ms", headline=key in ("p50_ms", "p99_ms"))
        puts = latency_summary_ms(arrivals.send_latencies)
        result.add("put_on_a_p50", puts["p50_ms"], "ms")  # part of the delay spent on A's send path
        result.add("put_on_a_p99", puts["p99_ms"], "ms")
        result.add("b_limited_timelines", arrivals.limited)
        result.add("rss_a_mb", rss_mb(a.pid), "MB")
        result.add("rss_b_mb", rss_mb(b.pid), "MB")
        absorb_clients(result, on_a, on_b)
    return result


# --- federation-join -------------------------------------------------------------------------
async def count_room_events(client: HomeserverClient, account: Account, room_id: str) -> int:
    page = await api.room_messages(client, account, room_id, from_token=None, limit=100)
    return len(page.get("chunk", []))


async def run_join(args: argparse.Namespace, target: Target) -> ScenarioResult:
    members = max(args.members, 1)
    result = ScenarioResult("federation-join", params={"members": members, "events": args.events})
    async with two_servers(args.data_root) as (a, b), scenario_client(
            server_target(a, target), request_timeout_s=600.0) as on_a, scenario_client(
            server_target(b, target), request_timeout_s=600.0) as on_b:
        a_target = server_target(a, target)
        setup_started = time.monotonic()
        accounts = await register_users(on_a, a_target, members, "fja")
        owner = accounts[0]
        registered = time.monotonic()
        room_id = await api.create_room(on_a, owner, "bench federation join")
        initial = await count_room_events(on_a, owner, room_id)
        # Messages first, members after: A evaluates push rules for every local member of
        # every message, so filling a room of 1,000 members costs ~1,000x more per message.
        # The joining server sees the same state and auth chain either way.
        messages = max(args.events - initial - (members - 1), 0)
        await fill_room(on_a, owner, room_id, messages, max(args.fill_concurrency, 1))
        filled = time.monotonic()
        await join_all(on_a, a_target, [(m, room_id) for m in accounts[1:]])
        joined = time.monotonic()
        result.add("setup_register_s", round(registered - setup_started, 2), "s")
        result.add("setup_fill_s", round(filled - registered, 2), "s")
        result.add("setup_fill_rate", rate(messages, filled - registered), "msg/s")
        result.add("setup_join_s", round(joined - filled, 2), "s")
        result.add("setup_join_rate", rate(members - 1, joined - filled), "joins/s")
        result.add("setup_total_s", round(joined - setup_started, 2), "s")
        result.add("room_events", initial + (members - 1) + messages)

        (joiner,) = await register_users(on_b, server_target(b, target), 1, "fjb")
        cpu = CpuMeter(a, b)
        started = time.monotonic()
        await join_via(on_b, joiner, room_id, a.server_name)
        join_s = time.monotonic() - started
        cpu.record(result, "join")
        result.add("remote_join_s", round(join_s, 3), "s", headline=True)

        first_sync_started = time.monotonic()
        filter_param = await api.upload_filter(on_b, joiner, api.sync_filter(10))
        response = await api.sync(on_b, joiner, filter_param=filter_param, slack_s=600.0)
        result.add("first_sync_after_join_s", round(time.monotonic() - first_sync_started, 3), "s")
        if room_id not in response.body.get("rooms", {}).get("join", {}):
            result.note("the joined room is missing from B's first /sync")
        joined_on_b = await on_b.request(
            "GET", f"{CS}/rooms/{path_segment(room_id)}/joined_members", access_token=joiner.access_token)
        result.add("joined_members_on_b", len(joined_on_b.get("joined", {})))

        # The room is live on B: A's next message arrives through /send.
        marker = f"{api.new_run_id()}.after-join"
        sent_at = time.monotonic()
        await api.send_message(on_a, owner, room_id, api.bench_content(marker))
        try:
            await wait_for_marker(on_b, joiner, filter_param, response.next_batch, marker, 60.0)
            result.add("first_message_after_join_ms", round((time.monotonic() - sent_at) * 1000, 1), "ms")
        except TimeoutError:
            result.note("A's message after the join did not reach B within 60 s")
        result.add("rss_a_mb", rss_mb(a.pid), "MB")
        result.add("rss_b_mb", rss_mb(b.pid), "MB")
        absorb_clients(result, on_a, on_b)
    return result


async def run(args: argparse.Namespace, target: Target) -> ScenarioResult:
    if args.scenario == "federation-join":
        return await run_join(args, target)
    return await run_send(args, target)


__all__ = ["add_arguments", "run", "ParleydProcess", "two_servers"]
