"""State, from Complement's checklist (tests/csapi/apidoc_room_state_test.go, rooms_state_test.go);
lines not already covered in tests/integration/test_rooms.py.

spec: data/api/client-server/{room_state,directory}.yaml.
"""

from __future__ import annotations

from typing import Any

from tests.http_client import q
from tests.integration.sync_waiting import sync_until

V3 = "/_matrix/client/v3"


def timeline(response: dict[str, Any], room_id: str) -> list[dict[str, Any]]:
    return response.get("rooms", {}).get("join", {}).get(room_id, {}).get(  # type: ignore[no-any-return]
        "timeline", {}).get("events", [])


# Complement: TestRoomState / GET /directory/room/:room_alias yields room ID
async def test_alias_lookup_gives_room_id_and_servers(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(room_alias_name="lookup")
    found = await alice.request("GET", f"{V3}/directory/room/{q('#lookup:localhost')}")
    assert found["room_id"] == room_id
    assert found["servers"] == ["localhost"]


# Complement: TestRoomState / GET /rooms/:room_id/state/m.room.member/:user_id fetches my membership
# + ?format=event fetches my membership event
async def test_own_member_state_and_its_full_event(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    assert (await alice.get_state(room_id, "m.room.member", alice.user_id or ""))["membership"] == "join"
    event = await alice.request(
        "GET", f"{V3}/rooms/{q(room_id)}/state/m.room.member/{q(alice.user_id or '')}", params={"format": "event"}
    )
    assert event["sender"] == alice.user_id and event["room_id"] == room_id
    assert event["content"]["membership"] == "join"


# Complement: TestRoomCreationReportsEventsToMyself / Setting room topic reports m.room.topic to myself
async def test_topic_change_reaches_the_senders_sync(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    _, since = await sync_until(alice, None, lambda r: bool(timeline(r, room_id)))
    await alice.send_state(room_id, "m.room.topic", {"topic": "Testing topic for the new room"})

    def has_topic(r: dict[str, Any]) -> bool:
        return any(e["type"] == "m.room.topic" and e["sender"] == alice.user_id
                   and e["content"] == {"topic": "Testing topic for the new room"} for e in timeline(r, room_id))

    await sync_until(alice, since, has_topic)


# Complement: TestRoomCreationReportsEventsToMyself / Joining room twice is idempotent
async def test_joining_twice_keeps_the_same_member_event(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    before = await alice.request(
        "GET", f"{V3}/rooms/{q(room_id)}/state/m.room.member/{q(alice.user_id or '')}", params={"format": "event"}
    )
    await alice.join(room_id)
    state = await alice.request("GET", f"{V3}/rooms/{q(room_id)}/state")
    member = next(e for e in state if e["type"] == "m.room.member" and e["state_key"] == alice.user_id)
    assert member["event_id"] == before["event_id"]


# Complement: TestRoomState / PUT /createRoom with creation content
async def test_creation_content_m_federate_is_in_create_event(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(creation_content={"m.federate": False})
    assert (await alice.get_state(room_id, "m.room.create"))["m.federate"] is False


# Complement: TestRoomState / GET /rooms/:room_id/joined_members is forbidden after leaving room (r0 path)
async def test_joined_members_forbidden_after_leaving_on_r0(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    await alice.leave(room_id)
    status, body = await alice.status_of("GET", f"/_matrix/client/r0/rooms/{q(room_id)}/joined_members")
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"
