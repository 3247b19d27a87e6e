"""Restricted joins, from Complement's checklist (tests/restricted_rooms_test.go, knock_restricted_test.go).

The five subtests run for ``restricted`` and ``knock_restricted``, with the joiner on the
same server (LocalJoin) and on a second server (RemoteJoin).
spec: client-server-api/_index.md "Restricted rooms"; server-server-api.md "Restricted rooms";
rooms/v8.md auth rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.federation.harness import federated_homeservers
from tests.federation.test_membership import wait_for_membership
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until

V3 = "/_matrix/client/v3"


@pytest.fixture(params=["restricted", "knock_restricted"])
def join_rule(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def join(client: MatrixHttp, room: str, via: str | None = None, expect: int = 200) -> Any:
    params = {"via": via} if via else None
    return await client.request("POST", f"{V3}/join/{q(room)}", {}, params=params, expect=expect)


async def restricted_room(alice: MatrixHttp, join_rule: str, version: str = "10") -> tuple[str, str]:
    """A public 'allowed' room and a room restricted to its members."""
    allowed = await alice.create_room(preset="public_chat", room_version=version)
    room = await alice.create_room(preset="private_chat", room_version=version, initial_state=[{
        "type": "m.room.join_rules",
        "content": {"join_rule": join_rule, "allow": [{"type": "m.room_membership", "room_id": allowed}]},
    }])
    return allowed, room


async def run_restricted_subtests(alice: MatrixHttp, bob: MatrixHttp, join_rule: str, via: str | None) -> None:
    allowed, room = await restricted_room(alice, join_rule)
    # Join should fail initially
    assert (await join(bob, room, via, expect=403))["errcode"] == "M_FORBIDDEN"

    # Join should succeed when joined to allowed room
    await join(bob, allowed, via)
    await join(bob, room, via)
    await wait_for_membership(alice, room, bob.user_id or "", "join")
    member = await alice.get_state(room, "m.room.member", bob.user_id or "")
    assert member["join_authorised_via_users_server"] == alice.user_id
    # A join -> join update carrying a bogus authoriser is accepted (the check is for new joins).
    await bob.send_state(room, "m.room.member", {
        "membership": "join", "join_authorised_via_users_server": "@unknown:nowhere.invalid",
    }, state_key=bob.user_id or "")

    # Join should fail when left allowed room
    await bob.leave(room)
    await bob.leave(allowed)
    await wait_for_membership(alice, room, bob.user_id or "", "leave")
    await wait_for_membership(alice, allowed, bob.user_id or "", "leave")
    assert (await join(bob, room, via, expect=403))["errcode"] == "M_FORBIDDEN"

    # Join should succeed when invited
    await alice.invite(room, bob.user_id or "")
    if via:
        await wait_for_invite(bob, room)
    await join(bob, room, via)
    await wait_for_membership(alice, room, bob.user_id or "", "join")
    await bob.leave(room)
    await wait_for_membership(alice, room, bob.user_id or "", "leave")

    # Join should fail with mangled join rules
    for mangled in ({"join_rule": join_rule, "allow": ["invalid"]},
                    {"join_rule": join_rule, "allow": "invalid"}):
        await alice.send_state(room, "m.room.join_rules", mangled)
        await join(bob, allowed, via)
        await wait_for_membership(alice, allowed, bob.user_id or "", "join")
        assert (await join(bob, room, via, expect=403))["errcode"] == "M_FORBIDDEN"


async def wait_for_invite(client: MatrixHttp, room_id: str) -> None:
    await sync_until(client, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)


# Complement: TestRestrictedRoomsLocalJoin, TestRestrictedRoomsLocalJoinInMSC3787Room (5 subtests each)
async def test_restricted_join_rules_for_a_local_joiner(homeserver, join_rule: str) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    await run_restricted_subtests(alice, bob, join_rule, None)


# Complement: TestRestrictedRoomsRemoteJoin, TestRestrictedRoomsRemoteJoinInMSC3787Room (5 subtests each)
async def test_restricted_join_rules_for_a_remote_joiner(tmp_path: Path, join_rule: str) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        await run_restricted_subtests(alice, bob, join_rule, hs1.server_name)


# Complement: TestRestrictedRoomsLocalJoinNoCreatorsUsesPowerLevelsV11/V12 (+ knock_restricted variants)
@pytest.mark.parametrize("version", ["11", "12"])
async def test_server_without_local_creator_authorises_with_a_local_inviter(
    tmp_path: Path, join_rule: str, version: str
) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        charlie = await hs2.register("charlie")
        allowed, room = await restricted_room(alice, join_rule, version)
        # Bob (hs2) gets into the restricted room by invite and can invite (PL invite 0).
        await alice.invite(room, bob.user_id or "")
        await wait_for_invite(bob, room)
        await join(bob, room, hs1.server_name)
        await wait_for_membership(alice, room, bob.user_id or "", "join")
        # Only moderators may invite; Bob is one (Alice, a v12 creator, may not be listed).
        users = {bob.user_id: 50} if version == "12" else {alice.user_id: 100, bob.user_id: 50}
        await alice.send_state(room, "m.room.power_levels", {"invite": 50, "users": users})
        await sync_until(bob, None, lambda r: any(
            e["type"] == "m.room.power_levels" and e["content"].get("invite") == 50
            for e in r.get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {}).get("events", [])
        ), within=15.0)
        await join(charlie, allowed, hs1.server_name)
        # hs2 is in the room with no creator of its own: it authorises Charlie's join locally via Bob.
        await join(charlie, room)
        await wait_for_membership(alice, room, charlie.user_id or "", "join")
        member = await alice.get_state(room, "m.room.member", charlie.user_id or "")
        assert member["join_authorised_via_users_server"] == bob.user_id


# Complement: TestRestrictedRoomsRemoteJoinLocalUser (+ InMSC3787Room)
async def test_server_in_room_without_inviter_joins_its_user_through_a_resident(
    tmp_path: Path, join_rule: str
) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        charlie = await hs2.register("charlie")
        alice = await hs1.register("alice")
        bob = await hs1.register("bob")
        allowed = await charlie.create_room(preset="public_chat", room_version="10")
        room = await charlie.create_room(
            preset="private_chat", room_version="10", power_level_content_override={"invite": 50},
            initial_state=[{"type": "m.room.join_rules", "content": {
                "join_rule": join_rule, "allow": [{"type": "m.room_membership", "room_id": allowed}]}}],
        )
        for user in (bob, alice):
            await join(user, allowed, hs2.server_name)
        await join(bob, room, hs2.server_name)
        await wait_for_membership(charlie, room, bob.user_id or "", "join")
        # hs1 is in the room now, but Bob may not invite: hs1 must ask hs2 to authorise Alice.
        await join(alice, room, hs2.server_name)
        await wait_for_membership(charlie, room, alice.user_id or "", "join")
        member = await charlie.get_state(room, "m.room.member", alice.user_id or "")
        assert member["join_authorised_via_users_server"] == charlie.user_id
        # The room stays live on hs1: both local members are joined, a message from Bob reaches Charlie.
        joined_here = await bob.request("GET", f"{V3}/rooms/{q(room)}/joined_members")
        assert {alice.user_id, bob.user_id, charlie.user_id} <= set(joined_here["joined"])
        event_id = await bob.send(room, "still here")
        await sync_until(charlie, None, lambda r: any(
            e["event_id"] == event_id
            for e in r.get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {}).get("events", [])
        ), within=15.0)

        # Charlie lets anyone invite and leaves: hs2 is gone, but Bob can leave and rejoin via hs1.
        await charlie.send_state(room, "m.room.power_levels", {"invite": 0, "users": {charlie.user_id: 100}})
        await charlie.leave(room)
        await wait_for_membership(alice, room, charlie.user_id or "", "leave")
        await bob.leave(room)
        await join(bob, room, hs1.server_name)
        member = await alice.get_state(room, "m.room.member", bob.user_id or "")
        assert member["membership"] == "join"


# Complement: TestRestrictedRoomsRemoteJoinFailOver (+ InMSC3787Room)
async def test_restricted_join_fails_over_to_a_server_that_can_authorise(tmp_path: Path, join_rule: str) -> None:
    async with federated_homeservers(tmp_path, 3) as (hs1, hs2, hs3):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        charlie = await hs3.register("charlie")
        allowed = await alice.create_room(preset="public_chat", room_version="12")
        room = await alice.create_room(
            preset="private_chat", room_version="12", power_level_content_override={"invite": 50},
            initial_state=[{"type": "m.room.join_rules", "content": {
                "join_rule": join_rule, "allow": [{"type": "m.room_membership", "room_id": allowed}]}}],
        )
        await join(bob, allowed, hs1.server_name)
        await join(bob, room, hs1.server_name)
        await wait_for_membership(alice, room, bob.user_id or "", "join")
        await join(charlie, allowed, hs1.server_name)
        # hs2 is resident but has no user who may invite: it cannot authorise Charlie (a v12 room ID
        # names no server, so nothing else is tried).
        status, _ = await charlie.status_of("POST", f"{V3}/join/{q(room)}", body={},
                                            params={"via": hs2.server_name})
        assert status in (400, 403)
        params = [("via", hs2.server_name), ("via", hs1.server_name)]
        await charlie.request("POST", f"{V3}/join/{q(room)}", {}, params=params)  # type: ignore[arg-type]
        await wait_for_membership(alice, room, charlie.user_id or "", "join")
        member = await alice.get_state(room, "m.room.member", charlie.user_id or "")
        assert member["join_authorised_via_users_server"] == alice.user_id

        # Bob may invite now, but hs2 leaves the allowed room: it cannot tell whether Charlie is in it.
        await alice.send_state(room, "m.room.power_levels", {"invite": 50, "users": {bob.user_id: 100}})
        await charlie.leave(room)
        await wait_for_membership(alice, room, charlie.user_id or "", "leave")
        await wait_for_membership(bob, room, charlie.user_id or "", "leave")
        await bob.leave(allowed)
        await wait_for_membership(alice, allowed, bob.user_id or "", "leave")
        # (hs3 knows the room's servers from Charlie's first stay, so even "via hs2" alone would
        # fail over; the authoriser shows which server vouched.)
        await charlie.request("POST", f"{V3}/join/{q(room)}", {}, params=params)  # type: ignore[arg-type]
        await wait_for_membership(alice, room, charlie.user_id or "", "join")
        member = await alice.get_state(room, "m.room.member", charlie.user_id or "")
        assert member["join_authorised_via_users_server"] == alice.user_id  # not Bob: hs2 could not vouch
