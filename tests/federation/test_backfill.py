"""Backfill: /messages continues into history held only by other servers.

spec: server-server-api.md, "Backfilling and retrieving missing events";
client-server /messages. Backfilled events are history, never new in /sync.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from federation.crypto.signing import generate_signing_key
from tests.conftest import RunningHomeserver
from tests.federation.harness import federated_homeservers
from tests.federation.test_events_pipeline import (
    BOB,
    RemoteRoom,
    install_fake_remote,
    join_remote_room,
    timeline_bodies,
)
from tests.http_client import MatrixHttp
from tests.integration.sync_waiting import sync_until, timeline_of


async def page_back_all(client: MatrixHttp, room_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Every event /messages returns paging backwards from now, newest first."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"dir": "b", "limit": limit}
        if token is not None:
            params["from"] = token
        page = await client.messages(room_id, **params)
        events.extend(page["chunk"])
        token = page.get("end")
        if token is None:
            return events
    raise AssertionError("pagination did not end")


async def test_messages_backfills_200_remote_messages_in_order(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room = RemoteRoom(generate_signing_key())
    for i in range(200):
        room.message(BOB, f"old {i}")
    source = install_fake_remote(homeserver.hs, room)
    await join_remote_room(homeserver.hs, room, alice.user_id or "")
    first = await alice.sync()
    assert timeline_bodies(first, room.room_id) == []  # history is not part of the join

    events = await page_back_all(alice, room.room_id)
    bodies = [e["content"]["body"] for e in events if e["type"] == "m.room.message"]
    assert bodies == [f"old {i}" for i in reversed(range(200))]
    assert events[-1]["type"] == "m.room.create"
    assert "backfill" in source.calls
    # Backfilled history is not new: an incremental sync shows nothing of it.
    later = await alice.sync(since=first["next_batch"])
    assert timeline_bodies(later, room.room_id) == []
    # Paging forwards from the very beginning starts at the oldest backfilled event.
    forwards = await alice.messages(room.room_id, dir="f", limit=5)
    assert forwards["chunk"][0]["type"] == "m.room.create"


async def test_backfilled_event_with_bad_signature_is_left_out(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room = RemoteRoom(generate_signing_key())
    room.message(BOB, "genuine")
    room.message(BOB, "forged", key=generate_signing_key())
    room.message(BOB, "genuine too")
    install_fake_remote(homeserver.hs, room)
    await join_remote_room(homeserver.hs, room, alice.user_id or "")
    events = await page_back_all(alice, room.room_id)
    bodies = [e["content"]["body"] for e in events if e["type"] == "m.room.message"]
    assert "forged" not in bodies
    assert "genuine too" in bodies


async def test_joining_server_backfills_history_over_federation(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat")
        for i in range(200):
            await alice.send(room_id, f"history {i}")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
        await bob.join(room_id)
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("join", {}), within=15.0)
        events = await page_back_all(bob, room_id)
        bodies = [e["content"]["body"] for e in events if e["type"] == "m.room.message"]
        assert bodies == [f"history {i}" for i in reversed(range(200))]
        await alice.send(room_id, "new")
        synced, _ = await sync_until(
            bob, None,
            lambda r: any(e["content"].get("body") == "new" for e in timeline_of(r, room_id)),
            within=15.0,
        )
        assert "history 0" not in [e["content"].get("body") for e in timeline_of(synced, room_id)]


async def test_concurrent_paginations_both_see_all_history(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room = RemoteRoom(generate_signing_key())
    for i in range(120):
        room.message(BOB, f"old {i}")
    install_fake_remote(homeserver.hs, room)
    await join_remote_room(homeserver.hs, room, alice.user_id or "")
    first, second = await asyncio.gather(page_back_all(alice, room.room_id, 30),
                                         page_back_all(alice, room.room_id, 30))
    expected = [f"old {i}" for i in reversed(range(120))]
    for events in (first, second):
        assert [e["content"]["body"] for e in events if e["type"] == "m.room.message"] == expected
