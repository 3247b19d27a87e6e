"""Simplified Sliding Sync (MSC4186) over real HTTP: lists, rooms, long-polls, pos.

Shapes follow Synapse's SlidingSyncRestServlet, which Element X is built against.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.conftest import RunningHomeserver, start_homeserver
from tests.http_client import MatrixHttp
from tests.integration.sliding_sync_helpers import (
    all_rooms,
    bodies,
    list_room_ids,
    sliding_sync,
)

LAZY_STATE = [["m.room.member", "$LAZY"], ["m.room.member", "$ME"], ["m.room.name", ""]]


async def rooms_with_messages(client: MatrixHttp, count: int) -> list[str]:
    """``count`` rooms, the last created being the most recently active."""
    rooms = []
    for i in range(count):
        room_id = await client.create_room(name=f"Room {i}")
        await client.send(room_id, f"hello {i}")
        rooms.append(room_id)
    return rooms


def state_keys(room: dict[str, Any], event_type: str = "m.room.member") -> set[str]:
    return {e["state_key"] for e in room.get("required_state", []) if e["type"] == event_type}


async def test_versions_advertise_simplified_sliding_sync(homeserver: RunningHomeserver) -> None:
    versions = await homeserver.api().request("GET", "/_matrix/client/versions")
    assert versions["unstable_features"]["org.matrix.simplified_msc3575"] is True


async def test_initial_list_range_and_timeline_limit(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    rooms = await rooms_with_messages(alice, 3)
    await alice.send(rooms[0], "second in room 0")
    response = await sliding_sync(alice, all_rooms(ranges=[[0, 1]], timeline_limit=2))
    assert response["lists"]["all"]["count"] == 3
    # Room 0 had the latest message: it comes first, then room 2; room 1 is out of range.
    assert list_room_ids(response) == [rooms[0], rooms[2]]
    assert set(response["rooms"]) == {rooms[0], rooms[2]}
    room = response["rooms"][rooms[0]]
    assert room["initial"] is True
    assert room["name"] == "Room 0"
    assert bodies(room) == ["hello 0", "second in room 0"]
    assert room["limited"] is True and room["num_live"] == 0
    assert room["joined_count"] == 1 and room["invited_count"] == 0
    assert room["bump_stamp"] > response["rooms"][rooms[2]]["bump_stamp"]
    assert "room_id" not in room["timeline"][0]
    # prev_batch continues backwards with /messages.
    earlier = await alice.messages(rooms[0], dir="b", limit=1, **{"from": room["prev_batch"]})
    assert earlier["chunk"] and earlier["chunk"][0]["event_id"] not in {e["event_id"] for e in room["timeline"]}
    assert earlier["chunk"][0]["origin_server_ts"] <= room["timeline"][0]["origin_server_ts"]
    assert isinstance(response["pos"], str)


async def test_required_state_with_lazy_members(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    carol = await homeserver.register("carol")
    room_id = await alice.create_room(preset="public_chat", name="Lazy")
    await bob.join(room_id)
    await carol.join(room_id)
    await bob.send(room_id, "from bob")
    body = all_rooms(timeline_limit=1, required_state=LAZY_STATE)
    first = await sliding_sync(alice, body)
    room = first["rooms"][room_id]
    # Bob sent the only timeline event; alice is $ME; carol is not needed.
    assert state_keys(room) == {bob.user_id, alice.user_id}
    assert state_keys(room, "m.room.name") == {""}
    assert not state_keys(room, "m.room.create")

    await carol.send(room_id, "from carol")
    second = await sliding_sync(alice, body, pos=first["pos"], timeout=5000)
    room = second["rooms"][room_id]
    assert "initial" not in room
    assert bodies(room) == ["from carol"]
    # Only the member newly needed; bob's was already sent, the name did not change.
    assert state_keys(room) == {carol.user_id}
    assert not state_keys(room, "m.room.name")


async def test_wildcard_required_state_sends_all_state(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(name="All")
    response = await sliding_sync(alice, all_rooms(timeline_limit=0, required_state=[["*", "*"]]))
    types = {e["type"] for e in response["rooms"][room_id]["required_state"]}
    assert {"m.room.create", "m.room.member", "m.room.power_levels", "m.room.name"} <= types
    assert "timeline" not in response["rooms"][room_id]


async def test_new_message_wakes_long_poll_with_only_that_room(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    quiet = await alice.create_room(preset="public_chat")
    busy = await alice.create_room(preset="public_chat")
    await bob.join(quiet)
    await bob.join(busy)
    body = all_rooms(timeline_limit=5)
    first = await sliding_sync(alice, body)
    assert set(first["rooms"]) == {quiet, busy}

    started = time.monotonic()
    poll = asyncio.create_task(sliding_sync(alice, body, pos=first["pos"], timeout=20_000))
    done, _ = await asyncio.wait({poll}, timeout=0.2)
    assert not done, "the long-poll answered before anything happened"
    await bob.send(busy, "wake up")
    second = await asyncio.wait_for(poll, timeout=10)
    assert time.monotonic() - started < 5
    assert set(second["rooms"]) == {busy}
    room = second["rooms"][busy]
    assert bodies(room) == ["wake up"]
    assert "initial" not in room and room["num_live"] == 1 and room["limited"] is False
    assert second["pos"] != first["pos"]


async def test_long_poll_without_news_times_out_with_the_same_pos(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    await alice.create_room()
    first = await sliding_sync(alice, all_rooms())
    started = time.monotonic()
    second = await sliding_sync(alice, all_rooms(), pos=first["pos"], timeout=300)
    assert 0.25 <= time.monotonic() - started < 5
    assert second["rooms"] == {} and second["pos"] == first["pos"]


async def test_rooms_are_resorted_by_activity(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    rooms = await rooms_with_messages(alice, 3)
    body = all_rooms(ranges=[[0, 1]], timeline_limit=1)
    first = await sliding_sync(alice, body)
    assert list_room_ids(first) == [rooms[2], rooms[1]]
    # A state change (a topic) is not activity; a message is.
    await alice.send_state(rooms[1], "m.room.topic", {"topic": "not a bump"})
    await alice.send(rooms[0], "back on top")
    second = await sliding_sync(alice, body, pos=first["pos"])
    assert list_room_ids(second) == [rooms[0], rooms[2]]
    # Room 0 enters the window for the first time on this connection: sent in full.
    assert second["rooms"][rooms[0]]["initial"] is True
    assert bodies(second["rooms"][rooms[0]]) == ["back on top"]
    assert rooms[1] not in second["rooms"]


async def test_room_subscriptions(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    rooms = await rooms_with_messages(alice, 3)
    strangers = await bob.create_room()
    body = all_rooms(ranges=[[0, 0]], timeline_limit=1)
    body["room_subscriptions"] = {
        rooms[0]: {"timeline_limit": 5, "required_state": [["m.room.create", ""]]},
        strangers: {"timeline_limit": 5, "required_state": []},
        "!nowhere:localhost": {"timeline_limit": 5, "required_state": []},
    }
    response = await sliding_sync(alice, body)
    assert list_room_ids(response) == [rooms[2]]
    assert set(response["rooms"]) == {rooms[2], rooms[0]}
    subscribed = response["rooms"][rooms[0]]
    assert "hello 0" in bodies(subscribed) and len(subscribed["timeline"]) == 5
    assert state_keys(subscribed, "m.room.create") == {""}

    await alice.send(rooms[0], "news in the subscribed room")
    again = await sliding_sync(alice, body, pos=response["pos"])
    # Room 0 is now the most recent, so it is in the window as well: one entry, merged.
    assert bodies(again["rooms"][rooms[0]]) == ["news in the subscribed room"]


async def test_invite_carries_invite_state(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(name="Invitation", invite=[bob.user_id], is_direct=True)
    first = await sliding_sync(bob, all_rooms(timeline_limit=5))
    room = first["rooms"][room_id]
    assert room["initial"] is True and room["name"] == "Invitation"
    assert "timeline" not in room
    types = {(e["type"], e["state_key"]) for e in room["invite_state"]}
    assert ("m.room.member", bob.user_id) in types and ("m.room.name", "") in types
    assert room["is_dm"] is True
    invites = await sliding_sync(bob, {"conn_id": "invites", "lists": {"invites": {
        "ranges": [[0, 9]], "timeline_limit": 1, "required_state": [], "filters": {"is_invite": True},
    }}})
    assert invites["lists"]["invites"]["count"] == 1

    await bob.join(room_id)
    joined = await sliding_sync(bob, all_rooms(timeline_limit=5), pos=first["pos"])
    # The membership changed: the room is sent again in full, now with its timeline.
    room = joined["rooms"][room_id]
    assert room["initial"] is True and "invite_state" not in room and room["timeline"]


async def test_list_filters(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    plain = await alice.create_room()
    encrypted = await alice.create_room(initial_state=[
        {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
    ])
    space = await alice.create_room(creation_content={"type": "m.space"})
    await alice.send_state(space, "m.space.child", {"via": ["localhost"]}, state_key=plain)

    def named(name: str, filters: dict[str, Any]) -> dict[str, Any]:
        return {"ranges": [[0, 9]], "timeline_limit": 0, "required_state": [], "filters": filters}

    response = await sliding_sync(alice, {"lists": {
        "encrypted": named("encrypted", {"is_encrypted": True}),
        "spaces": named("spaces", {"room_types": ["m.space"]}),
        "no_spaces": named("no_spaces", {"not_room_types": ["m.space"]}),
        "in_space": named("in_space", {"spaces": [space]}),
    }})
    assert list_room_ids(response, "encrypted") == [encrypted]
    assert list_room_ids(response, "spaces") == [space]
    assert set(list_room_ids(response, "no_spaces")) == {plain, encrypted}
    assert list_room_ids(response, "in_space") == [plain]


async def test_left_room_shows_once_then_leaves_the_list(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    stay = await alice.create_room()
    go = await alice.create_room()
    first = await sliding_sync(alice, all_rooms(timeline_limit=1))
    assert first["lists"]["all"]["count"] == 2
    await alice.leave(go)
    second = await sliding_sync(alice, all_rooms(timeline_limit=1), pos=first["pos"])
    assert go in second["rooms"]
    assert second["rooms"][go]["timeline"][-1]["content"]["membership"] == "leave"
    third = await sliding_sync(alice, all_rooms(timeline_limit=1), pos=second["pos"])
    assert list_room_ids(third) == [stay]


async def test_unknown_pos_is_m_unknown_pos(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    for pos in ("nonsense", "abc.1.1", "s72_0_0"):
        error = await sliding_sync(alice, all_rooms(), pos=pos, expect=400)
        assert error["errcode"] == "M_UNKNOWN_POS"
    first = await sliding_sync(alice, {"conn_id": "a"})
    # A pos belongs to its connection.
    error = await sliding_sync(alice, {"conn_id": "b"}, pos=first["pos"], expect=400)
    assert error["errcode"] == "M_UNKNOWN_POS"
    # Starting over without pos makes the old positions unknown.
    await sliding_sync(alice, {"conn_id": "a"})
    error = await sliding_sync(alice, {"conn_id": "a"}, pos=first["pos"], expect=400)
    assert error["errcode"] == "M_UNKNOWN_POS"


async def test_pos_from_before_a_restart_is_m_unknown_pos(config_factory: Any) -> None:
    from aiohttp import ClientSession

    config = config_factory()
    hs, server = await start_homeserver(config)
    async with ClientSession() as session:
        alice = MatrixHttp(session, str(server.make_url("")).rstrip("/"))
        await alice.register("alice")
        await alice.create_room()
        first = await sliding_sync(alice, all_rooms())
        await server.close()
        hs, server = await start_homeserver(config)
        try:
            alice.base_url = str(server.make_url("")).rstrip("/")
            error = await sliding_sync(alice, all_rooms(), pos=first["pos"], expect=400)
            assert error["errcode"] == "M_UNKNOWN_POS"
            again = await sliding_sync(alice, all_rooms())
            assert again["lists"]["all"]["count"] == 1
        finally:
            await server.close()


async def test_malformed_requests_are_400(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    cases: list[tuple[Any, str]] = [
        ({"lists": {"all": {"ranges": [[3, 1]], "timeline_limit": 1, "required_state": []}}}, "M_BAD_JSON"),
        ({"lists": {"all": {"ranges": "0-10"}}}, "M_BAD_JSON"),
        ({"lists": {"all": {"timeline_limit": "ten"}}}, "M_BAD_JSON"),
        ({"lists": {"all": {"required_state": [["only a type"]]}}}, "M_BAD_JSON"),
        ({"room_subscriptions": ["!a:b"]}, "M_BAD_JSON"),
        ({"extensions": {"to_device": {"enabled": True, "since": "not a token"}}}, "M_INVALID_PARAM"),
        ([1, 2], "M_BAD_JSON"),
    ]
    for body, errcode in cases:
        error = await sliding_sync(alice, body, expect=400)
        assert error["errcode"] == errcode, body
    status, error = await alice.status_of(
        "POST", "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync", raw=b"{not json"
    )
    assert status == 400 and error["errcode"] == "M_NOT_JSON"
    error = await alice.request(
        "POST", "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync", {},
        params={"timeout": "soon"}, expect=400,
    )
    assert error["errcode"] == "M_INVALID_PARAM"
    # An empty body is a valid (empty) request.
    assert (await sliding_sync(alice, {}))["rooms"] == {}
    status, _ = await homeserver.api().status_of(
        "POST", "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync", body={}
    )
    assert status == 401
