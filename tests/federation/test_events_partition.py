"""Two servers keep sending while partitioned, then converge to the same room state.

spec: server-server-api.md, "Room State Resolution"; rooms/v12.md (state resolution
v2.1). The partition is made by making each server's federation client unable to
reach the other; healing lets the queued transactions through.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from federation.transport.errors import FederationUnreachable
from tests.federation.harness import FederatedHomeserver, federated_homeservers
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until, timeline_of


def partition(a: FederatedHomeserver, b: FederatedHomeserver) -> None:
    for server, peer in ((a, b), (b, a)):
        client = server.hs.federation_client
        real = client._request

        async def blocked(method: str, destination: str, *args: Any, _real: Any = real,
                          _peer: str = peer.server_name, **kwargs: Any) -> Any:
            if destination == _peer:
                raise FederationUnreachable(destination, "partitioned by the test")
            return await _real(method, destination, *args, **kwargs)

        client._request = blocked


def heal(a: FederatedHomeserver, b: FederatedHomeserver) -> None:
    for server, peer in ((a, b), (b, a)):
        del server.hs.federation_client._request  # back to the class's method
        server.hs.federation_sender.wake_destination(peer.server_name)


async def room_state(client: MatrixHttp, room_id: str) -> dict[tuple[str, str], str]:
    events = await client.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state")
    return {(e["type"], e["state_key"]): e["event_id"] for e in events}


async def wait_for_body(client: MatrixHttp, room_id: str, body: str) -> None:
    await wait_for_event(client, room_id, "m.room.message", "body", body)


async def wait_for_event(client: MatrixHttp, room_id: str, event_type: str, key: str, value: str) -> None:
    await sync_until(
        client, None,
        lambda r: any(e["type"] == event_type and e["content"].get(key) == value
                      for e in timeline_of(r, room_id)),
        within=30.0,
    )


async def test_partitioned_servers_converge_to_the_same_state(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
        await bob.join(room_id)
        levels = await alice.get_state(room_id, "m.room.power_levels")
        levels.setdefault("users", {})[bob.user_id] = 50
        await alice.send_state(room_id, "m.room.power_levels", levels)
        await alice.send(room_id, "before the split")
        await wait_for_body(bob, room_id, "before the split")

        partition(hs1, hs2)
        for i in range(3):
            await alice.send(room_id, f"alice alone {i}")
            await bob.send(room_id, f"bob alone {i}")
        await alice.send_state(room_id, "m.room.topic", {"topic": "alice's topic"})
        await bob.send_state(room_id, "m.room.topic", {"topic": "bob's topic"})
        await bob.send_state(room_id, "m.room.name", {"name": "bob's name"})
        assert await room_state(alice, room_id) != await room_state(bob, room_id)

        heal(hs1, hs2)
        # Each side's last event arrives last (queues deliver in order).
        await wait_for_event(alice, room_id, "m.room.name", "name", "bob's name")
        await wait_for_event(bob, room_id, "m.room.topic", "topic", "alice's topic")

        state = await room_state(alice, room_id)
        assert state == await room_state(bob, room_id)
        assert ("m.room.name", "") in state
        topic_alice = await alice.get_state(room_id, "m.room.topic")
        topic_bob = await bob.get_state(room_id, "m.room.topic")
        assert topic_alice == topic_bob
        assert topic_alice["topic"] in ("alice's topic", "bob's topic")

        # The next event on either side merges the fork.
        merge_id = await alice.send(room_id, "merged")
        merge = await hs1.hs.event_store.get_event(merge_id)
        assert merge is not None and len(merge.prev_event_ids) == 2
        await wait_for_body(bob, room_id, "merged")
        assert hs2.hs.events.cached_room(room_id).extremities == [merge_id]


async def test_resolved_state_survives_a_restart(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
        await bob.join(room_id)
        levels = await alice.get_state(room_id, "m.room.power_levels")
        levels.setdefault("users", {})[bob.user_id] = 50
        await alice.send_state(room_id, "m.room.power_levels", levels)
        await wait_for_event(bob, room_id, "m.room.power_levels", "users", levels["users"])
        partition(hs1, hs2)
        await alice.send_state(room_id, "m.room.topic", {"topic": "from alice"})
        await bob.send_state(room_id, "m.room.name", {"name": "from bob"})
        heal(hs1, hs2)
        await wait_for_event(bob, room_id, "m.room.topic", "topic", "from alice")
        before = await room_state(bob, room_id)
        assert len(hs2.hs.events.cached_room(room_id).extremities) == 2  # a real fork
        await hs2.restart()
        assert await room_state(bob, room_id) == before
        # A local send after the restart builds on the resolved state.
        await bob.send_state(room_id, "m.room.topic", {"topic": "after restart"})
        await wait_for_event(alice, room_id, "m.room.topic", "topic", "after restart")
        assert await room_state(alice, room_id) == await room_state(bob, room_id)


async def test_lost_transactions_are_recovered_with_get_missing_events(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
        await bob.join(room_id)
        handler = hs2.hs.federation_events
        real = handler.on_receive_pdus
        dropped: list[str] = []
        all_lost = asyncio.Event()

        async def lose(origin: str, pdus: list[Any]) -> dict[str, str | None]:
            # SYNAPSE.md §8 "Lost transactions": answered 200, never processed.
            dropped.extend(p["content"].get("body", "") for p in pdus)
            if len(dropped) >= 3:
                all_lost.set()
            return {}

        handler.on_receive_pdus = lose
        for i in range(3):
            await alice.send(room_id, f"lost {i}")
        await asyncio.wait_for(all_lost.wait(), 15.0)
        handler.on_receive_pdus = real
        await alice.send(room_id, "arrives")
        await sync_until(
            bob, None, lambda r: any(e["content"].get("body") == "arrives" for e in timeline_of(r, room_id)),
            within=15.0,
        )
        page = await bob.messages(room_id, dir="b", limit=10)
        bodies = [e["content"].get("body") for e in page["chunk"] if e["type"] == "m.room.message"]
        assert bodies == ["arrives", "lost 2", "lost 1", "lost 0"]
