"""Room upgrades (POST /rooms/{roomId}/upgrade), from Complement's checklist.

spec: client-server-api/modules/room_upgrades.md; data/api/client-server/room_upgrades.yaml;
rooms/v12.md (additional creators, room ID = create event hash).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixHttp, q

V3 = "/_matrix/client/v3"


async def upgrade(client: MatrixHttp, room_id: str, body: dict[str, Any], expect: int = 200) -> Any:
    return await client.request("POST", f"{V3}/rooms/{q(room_id)}/upgrade", body, expect=expect)


async def state_event(client: MatrixHttp, room_id: str, event_type: str, state_key: str = "") -> Any:
    return await client.request(
        "GET", f"{V3}/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}", params={"format": "event"}
    )


async def test_upgrade_creates_replacement_with_tombstone_and_copied_state(homeserver) -> None:
    alice = await homeserver.register("alice")
    old = await alice.create_room(room_version="11", name="The room", topic="talk", preset="public_chat",
                                  room_alias_name="upgraded")
    new = (await upgrade(alice, old, {"new_version": "12"}))["replacement_room"]
    assert new != old

    tombstone = await alice.get_state(old, "m.room.tombstone")
    assert tombstone["replacement_room"] == new
    create = await alice.get_state(new, "m.room.create")
    assert create["room_version"] == "12"
    assert create["predecessor"]["room_id"] == old
    # spec: "When upgrading to room version 12 or later, the event_id ... MAY be omitted."
    assert "event_id" not in create["predecessor"]
    assert (await alice.get_state(new, "m.room.name"))["name"] == "The room"
    assert (await alice.get_state(new, "m.room.topic"))["topic"] == "talk"
    assert (await alice.get_state(new, "m.room.join_rules"))["join_rule"] == "public"
    # Aliases move to the new room.
    resolved = await alice.request("GET", f"{V3}/directory/room/{q('#upgraded:localhost')}")
    assert resolved["room_id"] == new
    assert (await alice.get_state(new, "m.room.canonical_alias"))["alias"] == "#upgraded:localhost"


async def test_upgrade_to_v11_records_predecessor_event_id(homeserver) -> None:
    alice = await homeserver.register("alice")
    old = await alice.create_room(room_version="10")
    new = (await upgrade(alice, old, {"new_version": "11"}))["replacement_room"]
    create = await alice.get_state(new, "m.room.create")
    assert create["room_version"] == "11"
    assert create["predecessor"]["room_id"] == old
    assert create["predecessor"]["event_id"].startswith("$")
    assert new.endswith(":localhost")


async def test_upgraded_room_old_room_is_locked_down(homeserver) -> None:
    alice = await homeserver.register("alice")
    old = await alice.create_room(room_version="11", preset="public_chat")
    await upgrade(alice, old, {"new_version": "11"})
    pl = await alice.get_state(old, "m.room.power_levels")
    assert pl["events_default"] >= 50 and pl["invite"] >= 50


async def test_upgrade_requires_tombstone_power(homeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    error = await upgrade(bob, room, {"new_version": "12"}, expect=403)
    assert error["errcode"] == "M_FORBIDDEN"


async def test_upgrade_to_unknown_version_is_rejected(homeserver) -> None:
    alice = await homeserver.register("alice")
    room = await alice.create_room()
    error = await upgrade(alice, room, {"new_version": "999"}, expect=400)
    assert error["errcode"] == "M_UNSUPPORTED_ROOM_VERSION"
    error = await upgrade(alice, room, {"new_version": 12}, expect=400)
    assert error["errcode"] == "M_BAD_JSON"


async def test_non_member_cannot_upgrade(homeserver) -> None:
    alice = await homeserver.register("alice")
    eve = await homeserver.register("eve")
    room = await alice.create_room(preset="public_chat")
    error = await upgrade(eve, room, {"new_version": "12"}, expect=403)
    assert error["errcode"] == "M_FORBIDDEN"


# Complement: TestPushRuleRoomUpgrade / upgrading a room carries over existing push rules for local users
async def test_upgrade_copies_room_push_rules_of_local_members(homeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    old = await alice.create_room(room_version="10", preset="public_chat")
    await bob.join(old)
    for client in (alice, bob):
        await client.request("PUT", f"{V3}/pushrules/global/room/{q(old)}", {"actions": ["dont_notify"]})
    new = (await upgrade(alice, old, {"new_version": "11"}))["replacement_room"]
    for client in (alice, bob):
        rule = await client.request("GET", f"{V3}/pushrules/global/room/{q(new)}")
        assert rule["rule_id"] == new
        assert rule["actions"] == ["dont_notify"]


# Complement: TestMSC4291RoomIDAsHashOfCreateEvent_UpgradedRooms
@pytest.mark.parametrize("old_version", ["10", "11", "12"])
async def test_upgrade_to_v12_gives_hash_room_id(homeserver, old_version: str) -> None:
    alice = await homeserver.register("alice")
    old = await alice.create_room(room_version=old_version)
    new = (await upgrade(alice, old, {"new_version": "12"}))["replacement_room"]
    create = await state_event(alice, new, "m.room.create")
    assert new == "!" + create["event_id"][1:]
    assert ":" not in new
    assert (await alice.get_state(old, "m.room.tombstone"))["replacement_room"] == new
    assert "event_id" not in create["content"]["predecessor"]


# Complement: TestMSC4289PrivilegedRoomCreators_Upgrades
@pytest.mark.parametrize("old_version", ["11", "12"])
@pytest.mark.parametrize("by_creator", [True, False])
@pytest.mark.parametrize("with_additional", [True, False])
async def test_upgrade_to_v12_sets_creators_and_strips_them_from_power_levels(
    homeserver, old_version: str, by_creator: bool, with_additional: bool
) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    charlie = await homeserver.register("charlie")
    old = await alice.create_room(room_version=old_version, preset="public_chat")
    for user in (bob, charlie):
        await user.join(old)
    pl = await alice.get_state(old, "m.room.power_levels")
    pl["users"][bob.user_id] = 150 if old_version == "12" else 100
    pl["users"][charlie.user_id] = 50
    await alice.send_state(old, "m.room.power_levels", pl)
    upgrader = alice if by_creator else bob
    body: dict[str, Any] = {"new_version": "12"}
    if with_additional:
        body["additional_creators"] = [charlie.user_id]
    new = (await upgrade(upgrader, old, body))["replacement_room"]
    create = await state_event(upgrader, new, "m.room.create")
    assert create["sender"] == upgrader.user_id
    if with_additional:
        assert create["content"]["additional_creators"] == [charlie.user_id]
    else:
        assert "additional_creators" not in create["content"]
    new_pl = await upgrader.get_state(new, "m.room.power_levels")
    creators = {upgrader.user_id} | ({charlie.user_id} if with_additional else set())
    assert not creators & set(new_pl["users"])
    others = {alice.user_id, bob.user_id, charlie.user_id} - creators
    for user_id in others:
        if user_id in pl["users"]:
            assert new_pl["users"][user_id] == pl["users"][user_id]


async def set_room_rule(client: MatrixHttp, room_id: str) -> None:
    await client.request("PUT", f"{V3}/pushrules/global/room/{q(room_id)}", {"actions": ["dont_notify"]})


async def has_room_rule(client: MatrixHttp, room_id: str) -> bool:
    status, _ = await client.status_of("GET", f"{V3}/pushrules/global/room/{q(room_id)}")
    return status == 200


async def manual_upgrade(client: MatrixHttp, old: str) -> str:
    """A client-side upgrade: a new room naming its predecessor, then a tombstone in the old one."""
    new = await client.create_room(room_version="11", preset="public_chat",
                                   creation_content={"predecessor": {"room_id": old}})
    await client.send_state(old, "m.room.tombstone", {"body": "moved", "replacement_room": new})
    return new


# Complement: TestPushRuleRoomUpgrade / manually upgrading a room carries over existing push rules for local users
async def test_manual_upgrade_carries_push_rules_on_create_and_join(homeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    old = await alice.create_room(room_version="10", preset="public_chat")
    await bob.join(old)
    for client in (alice, bob):
        await set_room_rule(client, old)
    new = await manual_upgrade(alice, old)
    assert await has_room_rule(alice, new)
    assert not await has_room_rule(bob, new)
    await bob.join(new)
    assert await has_room_rule(bob, new)


# Complement: TestPushRuleRoomUpgrade / joining a remote upgraded room carries over existing push rules
# + joining a remote manually upgraded room carries over existing push rules
@pytest.mark.parametrize("manual", [False, True])
async def test_joining_a_remotely_upgraded_room_carries_push_rules(tmp_path: Path, manual: bool) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        old = await alice.create_room(room_version="10", preset="public_chat")
        await bob.request("POST", f"{V3}/join/{q(old)}", {}, params={"via": hs1.server_name})
        await set_room_rule(bob, old)
        if manual:
            new = await manual_upgrade(alice, old)
        else:
            new = (await upgrade(alice, old, {"new_version": "11"}))["replacement_room"]
        assert not await has_room_rule(bob, new)
        await bob.request("POST", f"{V3}/join/{q(new)}", {}, params={"via": hs1.server_name})
        assert await has_room_rule(bob, new)


# spec: modules/room_upgrades.md — "When a user joins the new room, the server should automatically
# transfer/replicate some of the user's personalized settings such as notifications, tags, etc."
async def test_joining_the_replacement_room_carries_tags_and_direct_over(homeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    old = await alice.create_room(room_version="11", preset="public_chat")
    await bob.join(old)
    await bob.request("PUT", f"{V3}/user/{q(bob.user_id or '')}/rooms/{q(old)}/tags/u.work", {"order": 0.5})
    await bob.request("PUT", f"{V3}/user/{q(bob.user_id or '')}/account_data/m.direct", {alice.user_id: [old]})
    new = (await upgrade(alice, old, {"new_version": "12"}))["replacement_room"]
    await bob.join(new)
    tags = await bob.request("GET", f"{V3}/user/{q(bob.user_id or '')}/rooms/{q(new)}/tags")
    assert tags["tags"] == {"u.work": {"order": 0.5}}
    direct = await bob.request("GET", f"{V3}/user/{q(bob.user_id or '')}/account_data/m.direct")
    assert direct == {alice.user_id: [old, new]}


async def test_upgrader_keeps_tags_in_the_replacement_room(homeserver) -> None:
    alice = await homeserver.register("alice")
    old = await alice.create_room(room_version="11")
    await alice.request("PUT", f"{V3}/user/{q(alice.user_id or '')}/rooms/{q(old)}/tags/m.favourite", {})
    new = (await upgrade(alice, old, {"new_version": "12"}))["replacement_room"]
    tags = await alice.request("GET", f"{V3}/user/{q(alice.user_id or '')}/rooms/{q(new)}/tags")
    assert tags["tags"] == {"m.favourite": {}}
