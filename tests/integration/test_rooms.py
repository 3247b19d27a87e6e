"""Rooms over real HTTP: creation, membership, power, state, members, aliases, directory.

spec: client-server-api/_index.md "Rooms", "Room membership", "Room aliases",
"Listing rooms"; data/api/client-server/{create_room,joining,leaving,inviting,kicking,
banning,knocking,directory,list_public_rooms,room_state,rooms}.yaml. Cases mirror
Complement's apidoc_room_*, rooms_invite, room_kick/ban, room_members and knocking tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixError, MatrixHttp, q

V3 = "/_matrix/client/v3"


async def state_of(api: MatrixHttp, room_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    events = await api.request("GET", f"{V3}/rooms/{q(room_id)}/state")
    return {(e["type"], e["state_key"]): e for e in events}


async def membership_of(api: MatrixHttp, room_id: str, user_id: str) -> str:
    content = await api.get_state(room_id, "m.room.member", user_id)
    return content["membership"]


async def expect_error(call: Any, status: int, errcode: str) -> MatrixError:
    with pytest.raises(MatrixError) as info:
        await call
    assert info.value.status == status, info.value.body
    assert info.value.errcode == errcode, info.value.body
    return info.value


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("alice")


@pytest.fixture
async def bob(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("bob")


@pytest.fixture
async def carol(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("carol")


# --- createRoom ---------------------------------------------------------------------
# spec: createRoom "preset" table.
@pytest.mark.parametrize(
    ("preset", "join_rule", "history", "guest"),
    [
        ("private_chat", "invite", "shared", "can_join"),
        ("trusted_private_chat", "invite", "shared", "can_join"),
        ("public_chat", "public", "shared", "forbidden"),
    ],
)
async def test_create_room_preset_sets_join_rules_history_and_guest_access(
    alice: MatrixHttp, preset: str, join_rule: str, history: str, guest: str
) -> None:
    room_id = await alice.create_room(preset=preset)
    assert (await alice.get_state(room_id, "m.room.join_rules"))["join_rule"] == join_rule
    assert (await alice.get_state(room_id, "m.room.history_visibility"))["history_visibility"] == history
    assert (await alice.get_state(room_id, "m.room.guest_access"))["guest_access"] == guest


async def test_public_visibility_without_preset_defaults_to_public_chat(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(visibility="public")
    assert (await alice.get_state(room_id, "m.room.join_rules"))["join_rule"] == "public"


async def test_private_visibility_without_preset_defaults_to_private_chat(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    assert (await alice.get_state(room_id, "m.room.join_rules"))["join_rule"] == "invite"


async def test_trusted_private_chat_gives_invitees_creator_power(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="trusted_private_chat", invite=[bob.user_id])
    await bob.join(room_id)
    # Bob may do what needs power 100, e.g. change history visibility.
    await bob.send_state(room_id, "m.room.history_visibility", {"history_visibility": "joined"})


async def test_create_room_with_name_and_topic(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(name="Tea room", topic="Oolong only")
    assert (await alice.get_state(room_id, "m.room.name"))["name"] == "Tea room"
    assert (await alice.get_state(room_id, "m.room.topic"))["topic"] == "Oolong only"


async def test_create_room_puts_creation_content_in_create_event(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(creation_content={"m.federate": False, "room_version": "1"})
    create = await alice.get_state(room_id, "m.room.create")
    assert create["m.federate"] is False
    # The room_version in creation_content is ignored; the real one wins.
    assert create["room_version"] == "12"


async def test_create_room_alias_resolves_to_the_room(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    room_id = await alice.create_room(room_alias_name="tea")
    alias = f"#tea:{homeserver.server_name}"
    found = await alice.request("GET", f"{V3}/directory/room/{q(alias)}")
    assert found["room_id"] == room_id
    assert found["servers"] == [homeserver.server_name]
    assert (await alice.get_state(room_id, "m.room.canonical_alias"))["alias"] == alias


async def test_create_room_with_taken_alias_is_room_in_use(alice: MatrixHttp) -> None:
    await alice.create_room(room_alias_name="tea")
    await expect_error(alice.create_room(room_alias_name="tea"), 400, "M_ROOM_IN_USE")


async def test_create_room_with_invalid_alias_name_is_rejected(alice: MatrixHttp) -> None:
    await expect_error(alice.create_room(room_alias_name="a:b"), 400, "M_INVALID_PARAM")


async def test_create_room_invite_list_invites_each_user(alice: MatrixHttp, bob: MatrixHttp, carol: MatrixHttp) -> None:
    room_id = await alice.create_room(invite=[bob.user_id, carol.user_id])
    assert await membership_of(alice, room_id, bob.user_id) == "invite"
    assert await membership_of(alice, room_id, carol.user_id) == "invite"


async def test_is_direct_marks_the_invite_member_event(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(invite=[bob.user_id], is_direct=True)
    member = await alice.get_state(room_id, "m.room.member", bob.user_id)
    assert member["is_direct"] is True
    sync = await bob.sync()
    invite_state = sync["rooms"]["invite"][room_id]["invite_state"]["events"]
    own = [e for e in invite_state if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
    assert own and own[0]["content"]["is_direct"] is True


async def test_invites_without_is_direct_are_not_marked_direct(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(invite=[bob.user_id])
    assert "is_direct" not in await alice.get_state(room_id, "m.room.member", bob.user_id)


async def test_initial_state_overrides_preset(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(
        preset="public_chat",
        initial_state=[
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}},
            {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}},
        ],
    )
    assert (await alice.get_state(room_id, "m.room.join_rules"))["join_rule"] == "invite"
    assert (await alice.get_state(room_id, "m.room.history_visibility"))["history_visibility"] == "joined"
    # Keys initial_state does not mention keep the preset's value.
    assert (await alice.get_state(room_id, "m.room.guest_access"))["guest_access"] == "forbidden"


async def test_initial_state_custom_event_is_in_room_state(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(
        initial_state=[{"type": "org.example.custom", "state_key": "k", "content": {"v": 1}}]
    )
    assert await alice.get_state(room_id, "org.example.custom", "k") == {"v": 1}


async def test_topic_param_wins_over_initial_state_topic(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(
        topic="from param",
        initial_state=[{"type": "m.room.topic", "content": {"topic": "from state"}}],
    )
    assert (await alice.get_state(room_id, "m.room.topic"))["topic"] == "from param"


async def test_power_level_content_override_is_applied(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(
        preset="public_chat",
        power_level_content_override={"events_default": 20, "users": {bob.user_id: 30}},
    )
    power = await alice.get_state(room_id, "m.room.power_levels")
    assert power["events_default"] == 20
    assert power["users"][bob.user_id] == 30
    # Keys not overridden keep their defaults.
    assert power["kick"] == 50


@pytest.mark.parametrize("version", ["10", "11", "12"])
async def test_create_room_with_supported_version(alice: MatrixHttp, version: str) -> None:
    room_id = await alice.create_room(room_version=version)
    assert (await alice.get_state(room_id, "m.room.create"))["room_version"] == version
    await alice.send(room_id, "hello")


@pytest.mark.parametrize("version", ["10", "11"])
async def test_pre_v12_room_id_has_server_part(homeserver: RunningHomeserver, alice: MatrixHttp, version: str) -> None:
    room_id = await alice.create_room(room_version=version)
    assert room_id.startswith("!") and room_id.endswith(":" + homeserver.server_name)


async def test_v12_room_id_is_create_event_hash_without_server(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(room_version="12")
    assert room_id.startswith("!") and ":" not in room_id
    create = await alice.request(
        "GET", f"{V3}/rooms/{q(room_id)}/state/m.room.create/", params={"format": "event"}
    )
    # spec (MSC4291): the room ID is the create event's reference hash with "!" for "$".
    assert create["event_id"] == "$" + room_id[1:]


async def test_unknown_room_version_is_unsupported(alice: MatrixHttp) -> None:
    await expect_error(alice.create_room(room_version="999"), 400, "M_UNSUPPORTED_ROOM_VERSION")


async def test_numeric_room_version_is_bad_json(alice: MatrixHttp) -> None:
    status, body = await alice.status_of("POST", f"{V3}/createRoom", body={"room_version": 11})
    assert status == 400 and body["errcode"] == "M_BAD_JSON"


async def test_creator_sees_create_and_own_join_in_sync(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    timeline = (await alice.sync(filter='{"room":{"timeline":{"limit":50}}}'))["rooms"]["join"][room_id]["timeline"]
    types = [(e["type"], e.get("state_key")) for e in timeline["events"]]
    assert types[0] == ("m.room.create", "")
    assert ("m.room.member", alice.user_id) in types


# --- joining and leaving ---------------------------------------------------------------
async def test_join_public_room_by_id(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    result = await bob.request("POST", f"{V3}/rooms/{q(room_id)}/join", {})
    assert result == {"room_id": room_id}
    assert await membership_of(alice, room_id, bob.user_id) == "join"


async def test_join_public_room_by_id_via_join_endpoint(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    assert await bob.join(room_id) == room_id
    assert room_id in (await bob.request("GET", f"{V3}/joined_rooms"))["joined_rooms"]


async def test_join_by_alias_returns_the_room_id(homeserver: RunningHomeserver, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat", room_alias_name="lobby")
    assert await bob.join(f"#lobby:{homeserver.server_name}") == room_id
    assert await membership_of(bob, room_id, bob.user_id) == "join"


async def test_join_unknown_alias_is_not_found(homeserver: RunningHomeserver, bob: MatrixHttp) -> None:
    await expect_error(bob.join(f"#nowhere:{homeserver.server_name}"), 404, "M_NOT_FOUND")


async def test_join_with_reason_puts_reason_in_member_event(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.request("POST", f"{V3}/join/{q(room_id)}", {"reason": "tea"})
    assert (await alice.get_state(room_id, "m.room.member", bob.user_id))["reason"] == "tea"


async def test_joining_twice_is_idempotent(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    before = await state_of(alice, room_id)
    await alice.join(room_id)
    after = await state_of(alice, room_id)
    key = ("m.room.member", alice.user_id)
    assert before[key]["event_id"] == after[key]["event_id"]


async def test_uninvited_user_cannot_join_invite_only_room(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="private_chat")
    await expect_error(bob.join(room_id), 403, "M_FORBIDDEN")


async def test_invited_user_can_join_invite_only_room(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="private_chat")
    await alice.invite(room_id, bob.user_id)
    assert await membership_of(alice, room_id, bob.user_id) == "invite"
    await bob.join(room_id)
    assert await membership_of(alice, room_id, bob.user_id) == "join"


async def test_invited_user_can_reject_invite(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room()
    await alice.invite(room_id, bob.user_id)
    await bob.leave(room_id)
    assert await membership_of(alice, room_id, bob.user_id) == "leave"


async def test_user_cannot_invite_themselves(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    await expect_error(alice.invite(room_id, alice.user_id), 403, "M_FORBIDDEN")


async def test_user_cannot_invite_someone_already_joined(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await expect_error(alice.invite(room_id, bob.user_id), 403, "M_FORBIDDEN")


async def test_non_member_cannot_invite(alice: MatrixHttp, bob: MatrixHttp, carol: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await expect_error(bob.invite(room_id, carol.user_id), 403, "M_FORBIDDEN")


async def test_invite_with_invalid_user_id_is_rejected(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    with pytest.raises(MatrixError) as info:
        await alice.invite(room_id, "not-a-user-id")
    assert info.value.status == 400


async def test_leave_makes_membership_leave(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await bob.leave(room_id)
    assert await membership_of(alice, room_id, bob.user_id) == "leave"
    assert room_id not in (await bob.request("GET", f"{V3}/joined_rooms"))["joined_rooms"]


async def test_leaving_a_room_never_joined_is_forbidden(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await expect_error(bob.leave(room_id), 403, "M_FORBIDDEN")


async def test_creator_can_be_reinvited_after_leaving(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="private_chat", room_version="11", invite=[bob.user_id])
    await bob.join(room_id)
    power = await alice.get_state(room_id, "m.room.power_levels")
    power["users"][bob.user_id] = 100
    await alice.send_state(room_id, "m.room.power_levels", power)
    await alice.leave(room_id)
    await bob.invite(room_id, alice.user_id)
    await alice.join(room_id)
    assert await membership_of(bob, room_id, alice.user_id) == "join"


# --- kick and ban ----------------------------------------------------------------------
async def test_kick_makes_the_target_leave_and_they_see_it(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    since = (await bob.sync())["next_batch"]
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/kick", {"user_id": bob.user_id, "reason": "tidy"})
    member = await alice.get_state(room_id, "m.room.member", bob.user_id)
    assert member["membership"] == "leave" and member["reason"] == "tidy"
    sync = await bob.sync(since=since, timeout=5000)
    left = sync["rooms"]["leave"][room_id]["timeline"]["events"]
    kick = [e for e in left if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
    assert kick and kick[-1]["content"]["membership"] == "leave" and kick[-1]["sender"] == alice.user_id


async def test_kick_needs_power(alice: MatrixHttp, bob: MatrixHttp, carol: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await carol.join(room_id)
    await expect_error(
        bob.request("POST", f"{V3}/rooms/{q(room_id)}/kick", {"user_id": carol.user_id}), 403, "M_FORBIDDEN"
    )
    assert await membership_of(alice, room_id, carol.user_id) == "join"


async def test_cannot_kick_user_who_never_joined(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await expect_error(
        alice.request("POST", f"{V3}/rooms/{q(room_id)}/kick", {"user_id": bob.user_id}), 403, "M_FORBIDDEN"
    )


async def test_cannot_kick_user_who_already_left(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await bob.leave(room_id)
    await expect_error(
        alice.request("POST", f"{V3}/rooms/{q(room_id)}/kick", {"user_id": bob.user_id}), 403, "M_FORBIDDEN"
    )


async def test_ban_sets_membership_ban_with_reason(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/ban", {"user_id": bob.user_id, "reason": "spam"})
    member = await alice.get_state(room_id, "m.room.member", bob.user_id)
    assert member == {"membership": "ban", "reason": "spam"}


async def test_banned_user_cannot_rejoin(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/ban", {"user_id": bob.user_id})
    await expect_error(bob.join(room_id), 403, "M_FORBIDDEN")
    assert await membership_of(alice, room_id, bob.user_id) == "ban"


async def test_banned_user_cannot_be_invited(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/ban", {"user_id": bob.user_id})
    await expect_error(alice.invite(room_id, bob.user_id), 403, "M_FORBIDDEN")


async def test_ban_needs_power(alice: MatrixHttp, bob: MatrixHttp, carol: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await carol.join(room_id)
    await expect_error(
        bob.request("POST", f"{V3}/rooms/{q(room_id)}/ban", {"user_id": carol.user_id}), 403, "M_FORBIDDEN"
    )


async def test_user_with_power_but_not_joined_cannot_ban(alice: MatrixHttp, bob: MatrixHttp, carol: MatrixHttp) -> None:
    room_id = await alice.create_room(
        preset="public_chat", power_level_content_override={"users": {bob.user_id: 100}}
    )
    await carol.join(room_id)
    await expect_error(
        bob.request("POST", f"{V3}/rooms/{q(room_id)}/ban", {"user_id": carol.user_id}), 403, "M_FORBIDDEN"
    )


async def test_unbanned_user_can_rejoin(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/ban", {"user_id": bob.user_id})
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/unban", {"user_id": bob.user_id})
    assert await membership_of(alice, room_id, bob.user_id) == "leave"
    await bob.join(room_id)
    assert await membership_of(alice, room_id, bob.user_id) == "join"


async def test_unban_of_user_not_banned_is_forbidden(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await expect_error(
        alice.request("POST", f"{V3}/rooms/{q(room_id)}/unban", {"user_id": bob.user_id}), 403, "M_FORBIDDEN"
    )


async def test_membership_action_without_user_id_is_bad_json(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    for action in ("invite", "kick", "ban", "unban"):
        status, body = await alice.status_of("POST", f"{V3}/rooms/{q(room_id)}/{action}", body={})
        assert (status, body["errcode"]) == (400, "M_BAD_JSON"), action


# --- knocking --------------------------------------------------------------------------
async def test_knock_then_invite_lets_the_knocker_join(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}]
    )
    result = await bob.request("POST", f"{V3}/knock/{q(room_id)}", {"reason": "let me in"})
    assert result == {"room_id": room_id}
    member = await alice.get_state(room_id, "m.room.member", bob.user_id)
    assert member["membership"] == "knock" and member["reason"] == "let me in"
    await alice.invite(room_id, bob.user_id)
    await bob.join(room_id)
    assert await membership_of(alice, room_id, bob.user_id) == "join"


async def test_knock_appears_in_knockers_sync(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(
        name="Knock knock",
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}],
    )
    await bob.request("POST", f"{V3}/knock/{q(room_id)}", {})
    knock_state = (await bob.sync())["rooms"]["knock"][room_id]["knock_state"]["events"]
    by_type = {e["type"]: e for e in knock_state}
    assert by_type["m.room.join_rules"]["content"]["join_rule"] == "knock"
    assert by_type["m.room.name"]["content"]["name"] == "Knock knock"


async def test_knock_on_invite_only_room_is_forbidden(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="private_chat")
    await expect_error(bob.request("POST", f"{V3}/knock/{q(room_id)}", {}), 403, "M_FORBIDDEN")


async def test_knock_can_be_denied_by_kick(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}]
    )
    await bob.request("POST", f"{V3}/knock/{q(room_id)}", {})
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/kick", {"user_id": bob.user_id})
    assert await membership_of(alice, room_id, bob.user_id) == "leave"


# --- forget ----------------------------------------------------------------------------
async def test_cannot_forget_room_still_joined(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    await expect_error(alice.request("POST", f"{V3}/rooms/{q(room_id)}/forget", {}), 400, "M_UNKNOWN")


async def test_forgotten_room_is_not_in_initial_sync_leave_section(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await bob.leave(room_id)
    include_leave = '{"room":{"include_leave":true}}'
    assert room_id in (await bob.sync(filter=include_leave))["rooms"]["leave"]
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/forget", {})
    rooms = (await bob.sync(filter=include_leave)).get("rooms", {})
    assert all(room_id not in rooms.get(section, {}) for section in ("join", "invite", "leave"))


async def test_forgotten_room_messages_cannot_be_paginated(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await alice.send(room_id, "before leave")
    await bob.leave(room_id)
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/forget", {})
    await expect_error(bob.messages(room_id, dir="b"), 403, "M_FORBIDDEN")


async def test_forgotten_room_state_cannot_be_read(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await bob.leave(room_id)
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/forget", {})
    await expect_error(bob.request("GET", f"{V3}/rooms/{q(room_id)}/state"), 403, "M_FORBIDDEN")
    await expect_error(bob.request("GET", f"{V3}/rooms/{q(room_id)}/members"), 403, "M_FORBIDDEN")


async def test_forgetting_room_never_joined_is_not_found(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await expect_error(bob.request("POST", f"{V3}/rooms/{q(room_id)}/forget", {}), 404, "M_NOT_FOUND")


async def test_can_forget_room_after_rejecting_invite(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(invite=[bob.user_id])
    await bob.leave(room_id)
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/forget", {})


async def test_rejoin_after_forget_needs_a_new_invite(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(invite=[bob.user_id])
    await bob.join(room_id)
    await alice.send(room_id, "old message")
    await bob.leave(room_id)
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/forget", {})
    await expect_error(bob.join(room_id), 403, "M_FORBIDDEN")
    await alice.invite(room_id, bob.user_id)
    await bob.join(room_id)
    bodies = [e["content"].get("body") for e in (await bob.messages(room_id, dir="b", limit=50))["chunk"]]
    assert "old message" in bodies


# --- power levels ----------------------------------------------------------------------
async def test_user_without_power_cannot_rename_room(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat", name="Original")
    await bob.join(room_id)
    await expect_error(bob.send_state(room_id, "m.room.name", {"name": "Hijacked"}), 403, "M_FORBIDDEN")
    assert (await alice.get_state(room_id, "m.room.name"))["name"] == "Original"


async def test_user_given_power_can_rename_room(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    power = await alice.get_state(room_id, "m.room.power_levels")
    power["users"][bob.user_id] = 50
    await alice.send_state(room_id, "m.room.power_levels", power)
    await bob.send_state(room_id, "m.room.name", {"name": "Renamed"})
    assert (await alice.get_state(room_id, "m.room.name"))["name"] == "Renamed"


async def test_power_levels_have_all_spec_keys_as_numbers(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(room_version="11")
    power = await alice.get_state(room_id, "m.room.power_levels")
    for key in ("ban", "kick", "redact", "invite", "state_default", "events_default", "users_default"):
        assert isinstance(power[key], int), key
    assert power["users"][alice.user_id] > power["users_default"]
    assert isinstance(power["events"], dict)


async def test_power_levels_round_trip_via_event(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(room_version="11")
    power = await alice.get_state(room_id, "m.room.power_levels")
    power["events"]["org.example.custom"] = 42
    event_id = (await alice.send_state(room_id, "m.room.power_levels", power))["event_id"]
    event = await alice.request("GET", f"{V3}/rooms/{q(room_id)}/event/{q(event_id)}")
    assert event["content"] == power


async def test_user_cannot_raise_own_power_above_theirs(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat", room_version="11")
    await bob.join(room_id)
    power = await alice.get_state(room_id, "m.room.power_levels")
    power["users"][bob.user_id] = 50
    await alice.send_state(room_id, "m.room.power_levels", power)
    power["users"][bob.user_id] = 100
    await expect_error(bob.send_state(room_id, "m.room.power_levels", power), 403, "M_FORBIDDEN")


async def test_admin_can_lower_users_default(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(
        room_version="11", power_level_content_override={"users_default": 100}
    )
    power = await alice.get_state(room_id, "m.room.power_levels")
    power["users_default"] = 40
    await alice.send_state(room_id, "m.room.power_levels", power)
    assert (await alice.get_state(room_id, "m.room.power_levels"))["users_default"] == 40


async def test_v12_creator_is_not_listed_in_power_levels_users(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(room_version="12")
    power = await alice.get_state(room_id, "m.room.power_levels")
    assert alice.user_id not in power.get("users", {})


# --- state -----------------------------------------------------------------------------
async def test_get_full_state_lists_the_initial_events(alice: MatrixHttp) -> None:
    room_id = await alice.create_room(name="N", topic="T")
    state = await state_of(alice, room_id)
    for key in [("m.room.create", ""), ("m.room.join_rules", ""), ("m.room.name", ""),
                ("m.room.power_levels", ""), ("m.room.topic", ""), ("m.room.member", alice.user_id)]:
        assert key in state, key
        assert state[key]["room_id"] == room_id


async def test_get_absent_state_event_is_not_found(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    await expect_error(alice.get_state(room_id, "m.room.name"), 404, "M_NOT_FOUND")
    await expect_error(alice.get_state(room_id, "org.example.nothing", "key"), 404, "M_NOT_FOUND")


async def test_state_event_format_event_returns_the_whole_event(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    event = await alice.request(
        "GET", f"{V3}/rooms/{q(room_id)}/state/m.room.member/{q(alice.user_id)}", params={"format": "event"}
    )
    assert event["sender"] == alice.user_id
    assert event["room_id"] == room_id
    assert event["content"]["membership"] == "join"


async def test_put_state_then_get_round_trips(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    await alice.send_state(room_id, "m.room.topic", {"topic": "new"})
    assert await alice.get_state(room_id, "m.room.topic") == {"topic": "new"}


async def test_state_key_with_slashes_round_trips(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    await alice.send_state(room_id, "org.example.path", {"v": 1}, state_key="a/b/c")
    assert await alice.get_state(room_id, "org.example.path", "a/b/c") == {"v": 1}


async def test_setting_identical_state_twice_returns_same_event_id(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    first = await alice.send_state(room_id, "m.room.topic", {"topic": "same"})
    second = await alice.send_state(room_id, "m.room.topic", {"topic": "same"})
    assert first["event_id"] == second["event_id"]


async def test_non_member_cannot_read_state(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await expect_error(bob.request("GET", f"{V3}/rooms/{q(room_id)}/state"), 403, "M_FORBIDDEN")
    await expect_error(bob.get_state(room_id, "m.room.create"), 403, "M_FORBIDDEN")


async def test_departed_member_sees_state_as_of_leaving(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat", name="Before")
    await bob.join(room_id)
    await bob.leave(room_id)
    await alice.send_state(room_id, "m.room.name", {"name": "After"})
    assert (await bob.get_state(room_id, "m.room.name"))["name"] == "Before"
    assert (await alice.get_state(room_id, "m.room.name"))["name"] == "After"


async def test_non_member_cannot_send_state(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await expect_error(bob.send_state(room_id, "org.example.x", {"a": 1}), 403, "M_FORBIDDEN")


# --- members ---------------------------------------------------------------------------
async def test_members_lists_member_events(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    chunk = (await alice.request("GET", f"{V3}/rooms/{q(room_id)}/members"))["chunk"]
    assert {e["state_key"] for e in chunk} == {alice.user_id, bob.user_id}
    assert all(e["room_id"] == room_id and e["type"] == "m.room.member" for e in chunk)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"membership": "join"}, {"alice"}),
        ({"membership": "leave"}, {"bob"}),
        ({"not_membership": "leave"}, {"alice", "carol"}),
        ({"membership": "invite"}, {"carol"}),
    ],
)
async def test_members_filters_by_membership(
    alice: MatrixHttp, bob: MatrixHttp, carol: MatrixHttp, params: dict[str, str], expected: set[str]
) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await bob.leave(room_id)
    await alice.invite(room_id, carol.user_id)
    chunk = (await alice.request("GET", f"{V3}/rooms/{q(room_id)}/members", params=params))["chunk"]
    assert {e["state_key"].split(":")[0][1:] for e in chunk} == expected


async def test_non_member_cannot_list_members(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await expect_error(bob.request("GET", f"{V3}/rooms/{q(room_id)}/members"), 403, "M_FORBIDDEN")


async def test_joined_members_maps_user_to_profile(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    joined = (await alice.request("GET", f"{V3}/rooms/{q(room_id)}/joined_members"))["joined"]
    assert set(joined) == {alice.user_id, bob.user_id}
    assert "display_name" in joined[alice.user_id] and "avatar_url" in joined[alice.user_id]


async def test_joined_members_is_forbidden_after_leaving(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await bob.leave(room_id)
    status, body = await bob.status_of("GET", f"/_matrix/client/r0/rooms/{q(room_id)}/joined_members")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_joined_rooms_lists_only_joined_rooms(alice: MatrixHttp, bob: MatrixHttp) -> None:
    joined = await alice.create_room(preset="public_chat")
    left = await alice.create_room(preset="public_chat")
    invited = await bob.create_room(invite=[alice.user_id])
    await alice.leave(left)
    rooms = (await alice.request("GET", f"{V3}/joined_rooms"))["joined_rooms"]
    assert joined in rooms and left not in rooms and invited not in rooms


# --- aliases ---------------------------------------------------------------------------
async def test_put_alias_then_resolve(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    alias = f"#cafe:{homeserver.server_name}"
    await alice.request("PUT", f"{V3}/directory/room/{q(alias)}", {"room_id": room_id})
    assert (await alice.request("GET", f"{V3}/directory/room/{q(alias)}"))["room_id"] == room_id


async def test_unicode_alias_round_trips(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    alias = f"#老虎£я🐯:{homeserver.server_name}"
    await alice.request("PUT", f"{V3}/directory/room/{q(alias)}", {"room_id": room_id})
    assert (await alice.request("GET", f"{V3}/directory/room/{q(alias)}"))["room_id"] == room_id


async def test_put_existing_alias_conflicts(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    alias = f"#dup:{homeserver.server_name}"
    await alice.request("PUT", f"{V3}/directory/room/{q(alias)}", {"room_id": room_id})
    status, _ = await alice.status_of("PUT", f"{V3}/directory/room/{q(alias)}", body={"room_id": room_id})
    assert status == 409


async def test_resolve_unknown_alias_is_not_found(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    await expect_error(
        alice.request("GET", f"{V3}/directory/room/{q('#none:' + homeserver.server_name)}"), 404, "M_NOT_FOUND"
    )


async def test_delete_alias_then_it_no_longer_resolves(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    alias = f"#gone:{homeserver.server_name}"
    await alice.request("PUT", f"{V3}/directory/room/{q(alias)}", {"room_id": room_id})
    await alice.request("DELETE", f"{V3}/directory/room/{q(alias)}")
    await expect_error(alice.request("GET", f"{V3}/directory/room/{q(alias)}"), 404, "M_NOT_FOUND")


async def test_deleting_unknown_alias_is_not_found(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    await expect_error(
        alice.request("DELETE", f"{V3}/directory/room/{q('#none:' + homeserver.server_name)}"), 404, "M_NOT_FOUND"
    )


async def test_users_cannot_delete_others_aliases(homeserver: RunningHomeserver, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    alias = f"#alices:{homeserver.server_name}"
    await alice.request("PUT", f"{V3}/directory/room/{q(alias)}", {"room_id": room_id})
    await expect_error(bob.request("DELETE", f"{V3}/directory/room/{q(alias)}"), 403, "M_FORBIDDEN")


async def test_alias_creator_without_power_can_delete_own_alias(homeserver: RunningHomeserver, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    alias = f"#bobs:{homeserver.server_name}"
    await bob.request("PUT", f"{V3}/directory/room/{q(alias)}", {"room_id": room_id})
    await bob.request("DELETE", f"{V3}/directory/room/{q(alias)}")


async def test_room_aliases_lists_local_aliases(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    path = f"{V3}/rooms/{q(room_id)}/aliases"
    assert (await alice.request("GET", path))["aliases"] == []
    alias = f"#listed:{homeserver.server_name}"
    await alice.request("PUT", f"{V3}/directory/room/{q(alias)}", {"room_id": room_id})
    assert (await alice.request("GET", path))["aliases"] == [alias]


async def test_only_members_can_list_room_aliases(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await expect_error(bob.request("GET", f"{V3}/rooms/{q(room_id)}/aliases"), 403, "M_FORBIDDEN")


async def test_canonical_alias_must_point_to_the_room(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    other = await alice.create_room(room_alias_name="other")
    assert other
    await expect_error(
        alice.send_state(room_id, "m.room.canonical_alias", {"alias": f"#other:{homeserver.server_name}"}),
        400, "M_BAD_ALIAS",
    )
    await expect_error(
        alice.send_state(room_id, "m.room.canonical_alias", {"alias": f"#missing:{homeserver.server_name}"}),
        400, "M_BAD_ALIAS",
    )
    await expect_error(
        alice.send_state(room_id, "m.room.canonical_alias", {"alias": "%bad"}), 400, "M_INVALID_PARAM"
    )


# --- public room directory ---------------------------------------------------------------
async def public_room_ids(api: MatrixHttp) -> list[str]:
    return [c["room_id"] for c in (await api.request("GET", f"{V3}/publicRooms"))["chunk"]]


async def test_public_room_created_with_public_visibility_is_listed(alice: MatrixHttp) -> None:
    public = await alice.create_room(visibility="public", name="Open")
    private = await alice.create_room(visibility="private")
    listed = await public_room_ids(alice)
    assert public in listed and private not in listed
    entry = [c for c in (await alice.request("GET", f"{V3}/publicRooms"))["chunk"] if c["room_id"] == public][0]
    assert entry["name"] == "Open" and entry["num_joined_members"] == 1
    assert entry["join_rule"] == "public"
    assert entry["world_readable"] is False and entry["guest_can_join"] is False


async def test_directory_visibility_can_be_set_and_read(alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    path = f"{V3}/directory/list/room/{q(room_id)}"
    assert (await alice.request("GET", path))["visibility"] == "private"
    await alice.request("PUT", path, {"visibility": "public"})
    assert (await alice.request("GET", path))["visibility"] == "public"
    assert room_id in await public_room_ids(alice)
    await alice.request("PUT", path, {"visibility": "private"})
    assert room_id not in await public_room_ids(alice)


async def test_directory_visibility_of_unknown_room_is_not_found(alice: MatrixHttp) -> None:
    await expect_error(
        alice.request("GET", f"{V3}/directory/list/room/{q('!nope:localhost')}"), 404, "M_NOT_FOUND"
    )


async def test_member_without_power_cannot_publish_room(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await expect_error(
        bob.request("PUT", f"{V3}/directory/list/room/{q(room_id)}", {"visibility": "public"}), 403, "M_FORBIDDEN"
    )


async def test_public_rooms_post_searches_name_and_topic(alice: MatrixHttp) -> None:
    tea = await alice.create_room(visibility="public", name="Tea lovers")
    coffee = await alice.create_room(visibility="public", name="Coffee", topic="no TEA here")
    other = await alice.create_room(visibility="public", name="Juice")
    result = await alice.request(
        "POST", f"{V3}/publicRooms", {"filter": {"generic_search_term": "tea"}}
    )
    found = {c["room_id"] for c in result["chunk"]}
    assert found == {tea, coffee} and other not in found


async def test_public_rooms_paginate_with_since_tokens(alice: MatrixHttp) -> None:
    rooms = {await alice.create_room(visibility="public") for _ in range(5)}
    seen: list[str] = []
    body: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        page = await alice.request("POST", f"{V3}/publicRooms", body)
        assert len(page["chunk"]) <= 2
        seen.extend(c["room_id"] for c in page["chunk"])
        pages += 1
        if "next_batch" not in page:
            break
        body = {"limit": 2, "since": page["next_batch"]}
    assert pages == 3
    assert len(seen) == 5 and set(seen) == rooms


async def test_public_rooms_get_paginates_with_limit(alice: MatrixHttp) -> None:
    for _ in range(3):
        await alice.create_room(visibility="public")
    first = await alice.request("GET", f"{V3}/publicRooms", params={"limit": "2"})
    assert len(first["chunk"]) == 2 and first["total_room_count_estimate"] == 3
    second = await alice.request(
        "GET", f"{V3}/publicRooms", params={"limit": "2", "since": first["next_batch"]}
    )
    assert len(second["chunk"]) == 1 and "next_batch" not in second
    assert "prev_batch" in second


async def test_public_rooms_orders_by_member_count(alice: MatrixHttp, bob: MatrixHttp) -> None:
    quiet = await alice.create_room(visibility="public")
    busy = await alice.create_room(visibility="public")
    await bob.join(busy)
    assert (await public_room_ids(alice))[:2] == [busy, quiet]
