"""Outbound queues across real servers: a destination that is down, a sender that restarts.

spec: server-server-api.md, "Transactions" — the sender retries until it gets a
200; nothing queued is lost and the destination receives it in order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from federation.sender import BackoffPolicy
from tests.federation.harness import FederatedHomeserver, federated_homeservers
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until, timeline_of

QUICK_RETRIES = BackoffPolicy(initial_s=0.05, maximum_s=0.5)
WAIT_S = 20.0


async def shared_room(hs1: FederatedHomeserver, hs2: FederatedHomeserver) -> tuple[MatrixHttp, MatrixHttp, str, str]:
    """alice@hs1 creates a public room, bob@hs2 joins it; returns bob's sync token after the join."""
    alice = await hs1.register("alice")
    bob = await hs2.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.request("POST", f"/_matrix/client/v3/join/{q(room_id)}", {}, params={"via": hs1.server_name})
    _, token = await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("join", {}), within=WAIT_S)
    await sync_until(alice, None, lambda r: _joined(r, room_id, bob.user_id or ""), within=WAIT_S)
    return alice, bob, room_id, token


def _joined(response: dict[str, Any], room_id: str, user_id: str) -> bool:
    room = response.get("rooms", {}).get("join", {}).get(room_id, {})
    events = room.get("timeline", {}).get("events", []) + room.get("state", {}).get("events", [])
    return any(e["type"] == "m.room.member" and e.get("state_key") == user_id
               and e["content"].get("membership") == "join" for e in events)


async def messages_seen(client: MatrixHttp, since: str, room_id: str, count: int) -> list[str]:
    """Bodies of the next ``count`` messages in the room, in the order /sync gives them."""
    bodies: list[str] = []

    def collect(response: dict[str, Any]) -> bool:
        bodies.extend(
            e["content"]["body"] for e in timeline_of(response, room_id) if e["type"] == "m.room.message"
        )
        return len(bodies) >= count

    await sync_until(client, since, collect, within=WAIT_S)
    return bodies


async def test_destination_that_was_down_gets_every_queued_pdu_in_order(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice, bob, room_id, bob_token = await shared_room(hs1, hs2)
        sender = hs1.hs.federation_sender
        sender.backoff = QUICK_RETRIES
        delivered = record_delivered_bodies(hs1, hs2.server_name)
        await hs2.stop()
        sent = [f"while down {i}" for i in range(7)]
        for body in sent:
            await alice.send(room_id, body)
        # hs1 keeps failing and keeps every row until hs2 answers
        queue = hs1.hs.federation_queue_store
        assert await queue.pending_count(hs2.server_name) >= 1
        await hs2.start()
        assert await messages_seen(bob, bob_token, room_id, len(sent)) == sent
        assert await _drained(hs1, hs2.server_name)
        # each of them went out in a transaction (not fetched later by hs2), in order
        assert [b for b in delivered if b.startswith("while down")] == sent


async def test_queue_survives_the_senders_restart(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice, bob, room_id, bob_token = await shared_room(hs1, hs2)
        hs1.hs.federation_sender.backoff = QUICK_RETRIES
        await hs2.stop()
        sent = [f"queued before restart {i}" for i in range(3)]
        event_ids = [await alice.send(room_id, body) for body in sent]
        await hs1.stop()  # the sender goes down with undelivered rows
        assert queued_pdus(hs1, hs2.server_name, event_ids) == event_ids
        await hs2.start()
        await hs1.start()  # on start it wakes every destination with pending rows
        assert await messages_seen(bob, bob_token, room_id, len(sent)) == sent
        assert await _drained(hs1, hs2.server_name)


def queued_pdus(server: FederatedHomeserver, destination: str, wanted: list[str]) -> list[str]:
    """Which of ``wanted`` a stopped server has queued for the destination, in queue order."""
    with closing(sqlite3.connect(server.config.resolve(server.config.database_path))) as db:
        rows = db.execute(
            "SELECT event_id FROM federation_outbound_queue WHERE destination = ? ORDER BY queue_id",
            (destination,),
        ).fetchall()
    return [r[0] for r in rows if r[0] in wanted]


def record_delivered_bodies(server: FederatedHomeserver, destination: str) -> list[str]:
    """Message bodies of the PDUs the server's sender got a 200 for, in delivery order."""
    bodies: list[str] = []

    def on_delivered(dest: str, txn: dict[str, Any]) -> None:
        if dest == destination:
            bodies.extend(p["content"]["body"] for p in txn["pdus"]
                          if p["type"] == "m.room.message" and "body" in p.get("content", {}))

    server.hs.federation_sender.on_delivered.append(on_delivered)
    return bodies


async def _drained(server: FederatedHomeserver, destination: str) -> bool:
    """Wait (bounded) until the sender acknowledged everything for the destination."""
    sender = server.hs.federation_sender
    delivered = asyncio.Event()
    sender.on_delivered.append(lambda _dest, _body: delivered.set())
    queue = server.hs.federation_queue_store
    async with asyncio.timeout(WAIT_S):
        while True:
            delivered.clear()  # before counting: a delivery after the count still wakes us
            if not await queue.pending_count(destination):
                return True
            await delivered.wait()
