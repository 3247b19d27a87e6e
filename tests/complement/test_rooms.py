"""Rooms & membership, from Complement's checklist (lines not already covered in tests/integration).

spec: client-server-api/_index.md "Rooms", "Room aliases", "Room membership";
data/api/client-server/{create_room,directory,joining,leaving,inviting,room_state,rooms}.yaml.
"""

from __future__ import annotations

from typing import Any

from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until

V3 = "/_matrix/client/v3"


def timeline(response: dict[str, Any], room_id: str, section: str = "join") -> list[dict[str, Any]]:
    room = response.get("rooms", {}).get(section, {}).get(room_id, {})
    return room.get("timeline", {}).get("events", [])  # type: ignore[no-any-return]


async def put_alias(client: MatrixHttp, alias: str, room_id: str, expect: int = 200) -> Any:
    return await client.request("PUT", f"{V3}/directory/room/{q(alias)}", {"room_id": room_id}, expect=expect)


async def delete_alias(client: MatrixHttp, alias: str, expect: int = 200) -> Any:
    return await client.request("DELETE", f"{V3}/directory/room/{q(alias)}", expect=expect)


# --- TestRoomCreate ------------------------------------------------------------------------------
# Complement: TestRoomCreate / POST /createRoom makes a room with a topic and writes rich topic representation
async def test_create_room_topic_has_rich_plain_text_form(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(topic="Test Room")
    topic = await alice.get_state(room_id, "m.room.topic")
    assert topic["topic"] == "Test Room"
    (text,) = topic["m.topic"]["m.text"]
    assert text["body"] == "Test Room" and text.get("mimetype", "text/plain") == "text/plain"


# Complement: TestRoomCreate / POST /createRoom makes a room with a topic via initial_state
async def test_create_room_topic_from_initial_state_is_kept_as_sent(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(initial_state=[{"type": "m.room.topic", "content": {"topic": "Initial"}}])
    assert await alice.get_state(room_id, "m.room.topic") == {"topic": "Initial"}


# Complement: TestRoomCreate / POST /createRoom makes a room with a topic via initial_state overwritten by topic
async def test_create_room_topic_param_overrides_initial_state_with_rich_form(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(topic="Param",
                                      initial_state=[{"type": "m.room.topic", "content": {"topic": "Initial"}}])
    topic = await alice.get_state(room_id, "m.room.topic")
    assert topic["topic"] == "Param" and topic["m.topic"]["m.text"][0]["body"] == "Param"


# Complement: TestRoomCreate / Rooms can be created with an initial invite list (SYN-205)
async def test_initial_invitee_sees_the_invite_in_sync(homeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(invite=[bob.user_id])
    await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}))


# Complement: TestRoomCreate / Can /sync newly created room
async def test_new_room_and_its_message_come_down_sync(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    event_id = await alice.send(room_id, "hello")
    await sync_until(alice, None, lambda r: any(e["event_id"] == event_id for e in timeline(r, room_id)))


# Complement: TestRoomCreate / POST /createRoom ignores attempts to set the room version via creation_content
async def test_creation_content_room_version_is_ignored_but_custom_keys_kept(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(creation_content={"room_version": "test", "test": "azerty"})
    response, _ = await sync_until(alice, None, lambda r: bool(timeline(r, room_id)))
    create = timeline(response, room_id)[0]
    assert create["type"] == "m.room.create"
    assert create["content"]["room_version"] != "test"
    assert create["content"]["test"] == "azerty"


# --- TestRoomDeleteAlias ---------------------------------------------------------------------------
async def room_with_member(homeserver) -> tuple[MatrixHttp, MatrixHttp, str]:  # type: ignore[no-untyped-def]
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    return alice, bob, room_id


# Complement: TestRoomDeleteAlias / Alias creators can delete canonical alias with no ops
async def test_alias_creator_without_power_can_delete_canonical_alias(homeserver) -> None:
    alice, bob, room_id = await room_with_member(homeserver)
    alias = "#bobs:localhost"
    await put_alias(bob, alias, room_id)
    await alice.send_state(room_id, "m.room.canonical_alias", {"alias": alias})
    await delete_alias(bob, alias)
    status, _ = await alice.status_of("GET", f"{V3}/directory/room/{q(alias)}")
    assert status == 404


# Complement: TestRoomDeleteAlias / Can delete canonical alias
async def test_deleting_the_canonical_alias_removes_it_from_the_room(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(room_alias_name="canon")
    assert (await alice.get_state(room_id, "m.room.canonical_alias"))["alias"] == "#canon:localhost"
    _, since = await sync_until(alice, None, lambda r: True)
    await delete_alias(alice, "#canon:localhost")

    def cleared(r: dict[str, Any]) -> bool:
        return any(e["type"] == "m.room.canonical_alias" and e["content"] == {} for e in timeline(r, room_id))

    await sync_until(alice, since, cleared)


# Complement: TestRoomDeleteAlias / Regular users can add and delete aliases in the default room configuration
# + Regular users can add and delete aliases when m.room.aliases is restricted
async def test_regular_members_can_add_and_delete_aliases(homeserver) -> None:
    alice, bob, room_id = await room_with_member(homeserver)
    await put_alias(bob, "#regular:localhost", room_id)
    await delete_alias(bob, "#regular:localhost")
    pl = await alice.get_state(room_id, "m.room.power_levels")
    pl["events"]["m.room.aliases"] = 50
    await alice.send_state(room_id, "m.room.power_levels", pl)
    await put_alias(bob, "#restricted:localhost", room_id)
    await delete_alias(bob, "#restricted:localhost")


# Complement: TestRoomDeleteAlias / Users with sufficient power-level can delete other's aliases
async def test_user_with_power_can_delete_others_aliases(homeserver) -> None:
    alice, bob, room_id = await room_with_member(homeserver)
    await put_alias(bob, "#bobs:localhost", room_id)
    await delete_alias(alice, "#bobs:localhost")


# --- TestRoomCanonicalAlias ------------------------------------------------------------------------
async def set_canonical(client: MatrixHttp, room_id: str, content: dict[str, Any], expect: int) -> Any:
    return await client.send_state(room_id, "m.room.canonical_alias", content, expect=expect)


# Complement: TestRoomCanonicalAlias (9 subtests)
async def test_canonical_alias_validation(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    other = await alice.create_room()
    await put_alias(alice, "#here:localhost", room_id)
    await put_alias(alice, "#there:localhost", other)
    await put_alias(alice, "#gone:localhost", room_id)
    await delete_alias(alice, "#gone:localhost")
    await set_canonical(alice, room_id, {"alias": "#here:localhost"}, 200)
    for content, errcode in [
        ({"alias": "#missing:localhost"}, "M_BAD_ALIAS"),
        ({"alias": "%invalid"}, "M_INVALID_PARAM"),
        ({"alias": "#gone:localhost"}, "M_BAD_ALIAS"),
        ({"alias": "#there:localhost"}, "M_BAD_ALIAS"),
        ({"alias": "#here:localhost", "alt_aliases": ["#missing:localhost"]}, "M_BAD_ALIAS"),
        ({"alias": "#here:localhost", "alt_aliases": ["%invalid"]}, "M_INVALID_PARAM"),
        ({"alias": "#here:localhost", "alt_aliases": ["#there:localhost"]}, "M_BAD_ALIAS"),
    ]:
        error = await set_canonical(alice, room_id, content, 400)
        assert error["errcode"] == errcode, content
    await put_alias(alice, "#alt:localhost", room_id)
    await set_canonical(alice, room_id, {"alias": "#here:localhost", "alt_aliases": ["#alt:localhost"]}, 200)


# --- TestRoomMembers --------------------------------------------------------------------------------
# Complement: TestRoomMembers / POST /join/:room_id can join a room with custom content (+ via alias)
async def test_join_body_keys_land_in_the_member_event(homeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat", room_alias_name="custom")
    for target in (room_id, "#custom:localhost"):
        await bob.request("POST", f"{V3}/join/{q(target)}", {"foo": "bar"})
        member = await alice.get_state(room_id, "m.room.member", bob.user_id or "")
        assert member["membership"] == "join" and member["foo"] == "bar"
        await bob.leave(room_id)


# --- TestRoomsInvite ---------------------------------------------------------------------------------
# Complement: TestRoomsInvite / Invited user can reject invite for empty room
async def test_invite_to_an_emptied_room_can_be_rejected(homeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room()
    await alice.invite(room_id, bob.user_id or "")
    await alice.leave(room_id)
    _, since = await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}))
    await bob.leave(room_id)
    await sync_until(bob, since, lambda r: room_id in r.get("rooms", {}).get("leave", {}))
    response = await bob.sync()
    assert room_id not in response.get("rooms", {}).get("invite", {})


# Complement: TestRoomsInvite / Invited user can see room metadata
async def test_invite_state_carries_join_rules_and_name(homeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(name="Invitation", preset="private_chat")
    await alice.invite(room_id, bob.user_id or "")
    response, _ = await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}))
    stripped = {e["type"]: e for e in response["rooms"]["invite"][room_id]["invite_state"]["events"]}
    assert stripped["m.room.name"]["content"] == await alice.get_state(room_id, "m.room.name")
    assert stripped["m.room.join_rules"]["content"] == await alice.get_state(room_id, "m.room.join_rules")


# --- TestMembersLocal ---------------------------------------------------------------------------------
# Complement: TestMembersLocal / Existing members see new members' join events
async def test_members_see_new_join_in_incremental_sync(homeserver) -> None:
    alice, _, room_id = await room_with_member(homeserver)
    carol = await homeserver.register("carol")
    _, since = await sync_until(alice, None, lambda r: True)
    await carol.join(room_id)
    await sync_until(alice, since, lambda r: any(
        e["type"] == "m.room.member" and e["state_key"] == carol.user_id for e in timeline(r, room_id)))


# --- TestRoomForget -----------------------------------------------------------------------------------
# Complement: TestRoomForget / Leave for forgotten room shows up in v2 incremental /sync
async def test_leave_of_forgotten_room_still_in_incremental_sync(homeserver) -> None:
    alice, bob, room_id = await room_with_member(homeserver)
    _, since = await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("join", {}))
    await bob.leave(room_id)
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/forget", {})
    response = await bob.sync(since=since)
    assert room_id in response.get("rooms", {}).get("leave", {})


# Complement: TestRoomForget / Can forget room you've been kicked from
async def test_kicked_user_can_forget_the_room(homeserver) -> None:
    alice, bob, room_id = await room_with_member(homeserver)
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/kick", {"user_id": bob.user_id})
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/forget", {})
    rooms = (await bob.sync(filter='{"room":{"include_leave":true}}')).get("rooms", {})
    assert all(room_id not in rooms.get(s, {}) for s in ("join", "invite", "leave"))


# --- TestLeftRoomFixture -------------------------------------------------------------------------------
async def departed_room(homeserver) -> tuple[MatrixHttp, MatrixHttp, str, str]:  # type: ignore[no-untyped-def]
    """Bob leaves after 'before' messages; later the name changes and Carol joins."""
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat", name="Old name",
                                      initial_state=[{"type": "m.room.history_visibility",
                                                      "content": {"history_visibility": "joined"}}])
    await bob.join(room_id)
    await alice.send(room_id, "before leave")
    _, since = await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("join", {}))
    await bob.leave(room_id)
    response, _ = await sync_until(bob, since, lambda r: room_id in r.get("rooms", {}).get("leave", {}))
    leave_token = response["rooms"]["leave"][room_id]["timeline"].get("prev_batch") or response["next_batch"]
    await alice.send_state(room_id, "m.room.name", {"name": "New name"})
    await alice.send(room_id, "after leave")
    carol = await homeserver.register("carol")
    await carol.join(room_id)
    return alice, bob, room_id, leave_token


# Complement: TestLeftRoomFixture / Can get rooms/{roomId}/members for a departed room
# + Can get 'm.room.name' state for a departed room
async def test_departed_member_reads_members_and_name_as_of_leaving(homeserver) -> None:
    alice, bob, room_id, _ = await departed_room(homeserver)
    members = await bob.request("GET", f"{V3}/rooms/{q(room_id)}/members")
    by_user = {e["state_key"]: e["content"]["membership"] for e in members["chunk"]}
    assert by_user == {alice.user_id: "join", bob.user_id: "leave"}
    assert (await bob.get_state(room_id, "m.room.name"))["name"] == "Old name"
    assert (await alice.get_state(room_id, "m.room.name"))["name"] == "New name"


# Complement: TestLeftRoomFixture / Can get rooms/{roomId}/messages for a departed room
# + Getting messages going forward is limited for a departed room
async def test_departed_member_paginates_up_to_their_leave(homeserver) -> None:
    _, bob, room_id, _ = await departed_room(homeserver)
    backwards = await bob.messages(room_id, dir="b", limit=50)
    bodies = [e["content"].get("body") for e in backwards["chunk"] if e["type"] == "m.room.message"]
    assert bodies == ["before leave"]
    assert backwards["chunk"][0]["type"] == "m.room.member"
    assert backwards["chunk"][0]["content"]["membership"] == "leave"
    end = backwards["chunk"][0]
    assert end["state_key"] == bob.user_id
    # Forwards from the newest point bob can see: nothing after his leave.
    first = await bob.messages(room_id, dir="b", limit=1)
    forward = await bob.messages(room_id, dir="f", **{"from": first["start"]})
    assert [e for e in forward["chunk"] if e["type"] == "m.room.message"] == []


# Complement: TestGetRoomMembersAtPoint
async def test_members_at_a_point_before_a_join(homeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await alice.send(room_id, "before bob")
    response, _ = await sync_until(alice, None, lambda r: bool(timeline(r, room_id)))
    at = response["next_batch"]
    await bob.join(room_id)
    members = await alice.request("GET", f"{V3}/rooms/{q(room_id)}/members", params={"at": at})
    assert [e["state_key"] for e in members["chunk"]] == [alice.user_id]
    now = await alice.request("GET", f"{V3}/rooms/{q(room_id)}/members")
    assert len(now["chunk"]) == 2


# --- TestPowerLevels -------------------------------------------------------------------------------------
# Complement: TestPowerLevels / PUT power_levels should not explode if the old power levels were empty
async def test_power_levels_without_events_or_users_keys_do_not_break_later_changes(homeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(room_version="11")
    await alice.send_state(room_id, "m.room.power_levels", {"users": {alice.user_id: 100}})  # no "events"
    await alice.send_state(room_id, "m.room.power_levels", {})  # no "users": alice is now at 0
    status, error = await alice.status_of(
        "PUT", f"{V3}/rooms/{q(room_id)}/state/m.room.power_levels/", body={"users": {}}
    )
    assert status == 403, error
    assert await alice.get_state(room_id, "m.room.power_levels") == {}
