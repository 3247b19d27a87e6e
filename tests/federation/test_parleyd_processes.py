"""Three real ``parleyd`` processes: outages and restarts across process boundaries.

spec: server-server-api.md, "Transactions" — a server keeps retrying what it owes
another server. Here the queues are the durable ones in SQLite: the server that
holds undelivered events is itself stopped with SIGTERM and started again, and
must still deliver them once the destination is back.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import ClientSession

from tests.federation.harness import FederatedParleyd
from tests.federation.test_outage_convergence import converse
from tests.federation.test_three_servers import (
    WAIT_S,
    has_body,
    has_membership,
    is_joined,
    join_via,
    message_history,
    wait_until_converged,
)
from tests.http_client import MatrixHttp
from tests.integration.sync_waiting import sync_until

pytestmark = pytest.mark.slow

CONVERGE_S = 25.0


@asynccontextmanager
async def parleyd_processes(tmp_path: Path, count: int) -> AsyncIterator[list[FederatedParleyd]]:
    processes = [FederatedParleyd(tmp_path / f"p{i + 1}") for i in range(count)]
    try:
        await asyncio.gather(*(p.init() for p in processes))
        await asyncio.gather(*(p.start() for p in processes))
        yield processes
    finally:
        codes = [await p.stop() for p in processes if p.process is not None]
        assert codes == [0] * len(codes), "a parleyd did not exit cleanly on SIGTERM"


async def user_on(session: ClientSession, process: FederatedParleyd, name: str) -> MatrixHttp:
    client = MatrixHttp(session, process.base_url)
    await client.register(name)
    return client


async def room_on_three(session: ClientSession, processes: list[FederatedParleyd]
                        ) -> tuple[list[MatrixHttp], str]:
    p1, p2, _p3 = processes
    clients = [await user_on(session, p, name) for p, name in zip(processes, ("alice", "bob", "carol"),
                                                                    strict=True)]
    alice, bob, carol = clients
    room_id = await alice.create_room(preset="public_chat", name="Processes")
    await join_via(bob, room_id, p1.server_name)
    await sync_until(bob, None, is_joined(room_id), within=WAIT_S)
    await join_via(carol, room_id, p2.server_name)
    for client in clients:
        await sync_until(client, None, has_membership(room_id, carol.user_id or "", "join"), within=WAIT_S)
    return clients, room_id


async def test_queued_events_survive_a_sigterm_of_the_sending_server(tmp_path: Path) -> None:
    async with parleyd_processes(tmp_path, 3) as processes, ClientSession() as session:
        p1, _p2, p3 = processes
        (alice, bob, carol), room_id = await room_on_three(session, processes)

        assert await p3.stop() == 0
        missed = await converse(alice, bob, room_id, 4, "queued")
        # alice's last line is in no one else's graph: only p1's queue can deliver it
        # to p3, and p1 goes down with it queued.
        await alice.send(room_id, "only p1 has this")
        await sync_until(bob, None, has_body(room_id, "only p1 has this"), within=WAIT_S)
        assert await p1.stop() == 0
        await p3.start()
        # p2 delivers bob's lines (and fills alice's earlier ones in as their prev events).
        response, carol_token = await sync_until(carol, None, has_body(room_id, missed[-1]), within=CONVERGE_S)
        assert not has_body(room_id, "only p1 has this")(response)
        await p1.start()

        await sync_until(carol, carol_token, has_body(room_id, "only p1 has this"), within=CONVERGE_S)
        history, state = await wait_until_converged([alice, bob, carol], room_id, within=CONVERGE_S)
        assert [body for _, body in history] == [*missed, "only p1 has this"]
        assert {key for kind, key, _ in state if kind == "m.room.member"} == {
            alice.user_id, bob.user_id, carol.user_id}


async def test_restarted_process_takes_part_in_the_room_again(tmp_path: Path) -> None:
    async with parleyd_processes(tmp_path, 3) as processes, ClientSession() as session:
        _p1, p2, _p3 = processes
        (alice, bob, carol), room_id = await room_on_three(session, processes)

        assert await p2.stop() == 0
        await alice.send(room_id, "while p2 restarts")
        await p2.start()
        # bob's access token and the room survive the restart; his line reaches both others.
        await sync_until(bob, None, has_body(room_id, "while p2 restarts"), within=CONVERGE_S)
        await bob.send(room_id, "p2 is back")
        await sync_until(alice, None, has_body(room_id, "p2 is back"), within=WAIT_S)
        await sync_until(carol, None, has_body(room_id, "p2 is back"), within=WAIT_S)
        await wait_until_converged([alice, bob, carol], room_id, within=CONVERGE_S)


async def sigkill_and_restart(process: FederatedParleyd) -> None:
    assert process.process is not None
    process.process.send_signal(signal.SIGKILL)  # by PID: only the child we started
    await process.process.wait()
    await process.start()


async def two_servers_chatting(session: ClientSession, processes: list[FederatedParleyd]
                               ) -> tuple[MatrixHttp, MatrixHttp, str, str]:
    p1, p2 = processes
    alice = await user_on(session, p1, "alice")
    bob = await user_on(session, p2, "bob")
    room_id = await alice.create_room(preset="public_chat", name="Crash")
    await join_via(bob, room_id, p1.server_name)
    _, bob_token = await sync_until(bob, None, is_joined(room_id), within=WAIT_S)
    return alice, bob, room_id, bob_token


# The event commits before its queue rows; the sender re-queues local events past its
# watermark at start-up (federation/sender.py, catch_up).
async def test_event_committed_just_before_a_crash_still_reaches_the_other_server(tmp_path: Path) -> None:
    async with parleyd_processes(tmp_path, 2) as processes, ClientSession() as session:
        alice, bob, room_id, bob_token = await two_servers_chatting(session, processes)
        await alice.send(room_id, "sent just before the crash")
        await sigkill_and_restart(processes[0])
        await sync_until(bob, bob_token, has_body(room_id, "sent just before the crash"), within=8.0)


async def test_next_event_after_a_crash_brings_the_missed_one_along(tmp_path: Path) -> None:
    async with parleyd_processes(tmp_path, 2) as processes, ClientSession() as session:
        alice, bob, room_id, _ = await two_servers_chatting(session, processes)
        await alice.send(room_id, "sent just before the crash")
        await sigkill_and_restart(processes[0])
        await alice.send(room_id, "sent after the restart")
        # spec: "Backfilling and retrieving missing events" — bob's server fetches the
        # prev event it lacks with /get_missing_events.
        await wait_until_converged([alice, bob], room_id, within=CONVERGE_S)
        history = [body for _, body in await message_history(bob, room_id)]
        assert history == ["sent just before the crash", "sent after the restart"]
