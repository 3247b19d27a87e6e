"""Per-thread unread counts: threaded read receipts clear their own thread, and /sync
reports unread_thread_notifications when the filter asks for them.

spec: client-server-api, "Threaded read receipts" (modules/receipts.md); sync.yaml,
unread_notifications / unread_thread_notifications; room_event_filter.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from tests.conftest import RunningHomeserver, make_config, start_homeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import joined_room, sync_until

V3 = "/_matrix/client/v3"
THREADED = json.dumps({"room": {"timeline": {"unread_thread_notifications": True}}})
ONE = {"notification_count": 1, "highlight_count": 0}
NONE = {"notification_count": 0, "highlight_count": 0}


async def room_with_a_thread(homeserver: RunningHomeserver) -> tuple[MatrixHttp, MatrixHttp, str, str, str]:
    """bob posts a root and a reply in its thread; alice, bob and carol are members."""
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    carol = await homeserver.register("carol")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await carol.join(room_id)
    root = await bob.send(room_id, "root")
    reply = await bob.send(room_id, {
        "msgtype": "m.text", "body": "in thread", "m.relates_to": {"rel_type": "m.thread", "event_id": root},
    })
    return alice, bob, room_id, root, reply


async def receipt(client: MatrixHttp, room_id: str, event_id: str, thread_id: str | None) -> None:
    body: dict[str, Any] = {} if thread_id is None else {"thread_id": thread_id}
    await client.request("POST", f"{V3}/rooms/{q(room_id)}/receipt/m.read/{q(event_id)}", body)


async def threaded_counts(client: MatrixHttp, room_id: str) -> tuple[dict[str, int], dict[str, Any]]:
    room = joined_room(await client.sync(filter=THREADED), room_id)
    return room["unread_notifications"], room["unread_thread_notifications"]


async def test_threaded_receipt_clears_only_its_thread(homeserver: RunningHomeserver) -> None:
    alice, _, room_id, root, reply = await room_with_a_thread(homeserver)
    await receipt(alice, room_id, reply, root)
    assert await threaded_counts(alice, room_id) == (ONE, {})
    plain = joined_room(await alice.sync(), room_id)
    assert plain["unread_notifications"] == ONE  # the root is still unread


async def test_main_receipt_clears_the_main_timeline_only(homeserver: RunningHomeserver) -> None:
    alice, _, room_id, root, _ = await room_with_a_thread(homeserver)
    await receipt(alice, room_id, root, "main")
    assert await threaded_counts(alice, room_id) == (NONE, {root: ONE})


async def test_unthreaded_receipt_clears_every_thread(homeserver: RunningHomeserver) -> None:
    alice, _, room_id, root, reply = await room_with_a_thread(homeserver)
    await receipt(alice, room_id, reply, None)
    assert await threaded_counts(alice, room_id) == (NONE, {})


async def test_event_relating_to_a_thread_event_counts_in_that_thread(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id, root, reply = await room_with_a_thread(homeserver)
    await bob.send(room_id, {"msgtype": "m.text", "body": "about the reply",
                             "m.relates_to": {"rel_type": "m.reference", "event_id": reply}})
    await bob.send(room_id, {"msgtype": "m.text", "body": "about the root",
                             "m.relates_to": {"rel_type": "m.reference", "event_id": root}})
    two = {"notification_count": 2, "highlight_count": 0}
    assert await threaded_counts(alice, room_id) == (two, {root: two})


async def test_new_thread_reply_arrives_with_its_thread_count(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id, root, reply = await room_with_a_thread(homeserver)
    await receipt(alice, room_id, reply, root)
    since = (await alice.sync(filter=THREADED))["next_batch"]
    second = await bob.send(room_id, {
        "msgtype": "m.text", "body": "more", "m.relates_to": {"rel_type": "m.thread", "event_id": root},
    })
    response, _ = await sync_until(alice, since, lambda r: any(
        e["event_id"] == second for e in joined_room(r, room_id).get("timeline", {}).get("events", [])
    ), filter=THREADED)
    assert joined_room(response, room_id)["unread_thread_notifications"] == {root: ONE}
    assert joined_room(response, room_id)["unread_notifications"] == ONE


async def test_notifications_read_flag_follows_the_thread_receipt(homeserver: RunningHomeserver) -> None:
    alice, _, room_id, root, reply = await room_with_a_thread(homeserver)
    await receipt(alice, room_id, reply, root)
    listed = (await alice.request("GET", f"{V3}/notifications"))["notifications"]
    assert [(n["event"]["event_id"], n["read"]) for n in listed] == [(reply, True), (root, False)]


async def test_thread_counts_survive_a_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path / "hs")
    async with ClientSession() as session:
        hs, server = await start_homeserver(config)
        alice, _, room_id, root, _ = await room_with_a_thread(RunningHomeserver(hs, server, session))
        await receipt(alice, room_id, root, "main")
        await server.close()

        hs, server = await start_homeserver(config)
        try:
            alice = RunningHomeserver(hs, server, session).api()
            await alice.login("alice")
            assert await threaded_counts(alice, room_id) == (NONE, {root: ONE})
        finally:
            await server.close()


async def test_sync_skips_receipt_storage_when_receipts_moved_only_in_other_rooms(
    homeserver: RunningHomeserver,
) -> None:
    alice, bob, room_id, _, reply = await room_with_a_thread(homeserver)
    elsewhere = await bob.create_room(preset="public_chat")
    elsewhere_event = await bob.send(elsewhere, "not for alice")
    since = (await alice.sync())["next_batch"]
    store = homeserver.hs.receipt_store
    calls: list[str] = []
    for name in ("for_rooms", "rooms_changed_since", "user_changed_rooms"):
        original = getattr(store, name)

        async def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
            calls.append(_name)
            return await _original(*args)

        setattr(store, name, counted)
    await receipt(bob, elsewhere, elsewhere_event, None)
    response = await alice.sync(since=since)
    assert calls == []
    assert room_id not in response.get("rooms", {}).get("join", {})
    # A receipt in alice's room still reaches her.
    await receipt(bob, room_id, reply, None)
    response, _ = await sync_until(alice, since, lambda r: bool(
        joined_room(r, room_id).get("ephemeral", {}).get("events")
    ))
    assert calls == ["for_rooms"]
