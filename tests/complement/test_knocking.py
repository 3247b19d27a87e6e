"""Knocking, from Complement's checklist (tests/knocking_test.go, tests/knock_restricted_test.go).

Every test runs for the ``knock`` join rule and for ``knock_restricted`` (MSC3787, room v10+),
with a knocker on the same server. spec: client-server-api/_index.md "Knocking on rooms";
rooms/v10.md (knock_restricted).
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


@pytest.fixture(params=["knock", "knock_restricted"])
def join_rule(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def knock_join_rules(join_rule: str) -> dict[str, Any]:
    if join_rule == "knock_restricted":
        return {"join_rule": "knock_restricted", "allow": []}
    return {"join_rule": join_rule}


async def knock(client: MatrixHttp, room: str, body: dict[str, Any] | None = None, expect: int = 200) -> Any:
    return await client.request("POST", f"{V3}/knock/{q(room)}", {} if body is None else body, expect=expect)


async def member_event(client: MatrixHttp, room_id: str, user_id: str) -> dict[str, Any]:
    return await client.get_state(room_id, "m.room.member", user_id)  # type: ignore[no-any-return]


async def knock_room(homeserver, join_rule: str) -> tuple[MatrixHttp, MatrixHttp, str]:  # type: ignore[no-untyped-def]
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="private_chat", room_version="10")
    await alice.send_state(room_id, "m.room.join_rules", knock_join_rules(join_rule))
    return alice, bob, room_id


# Complement: TestKnocking / Knocking on a room with a join rule other than 'knock' should fail
async def test_knock_on_invite_only_room_fails(homeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="private_chat")
    assert (await knock(bob, room_id, expect=403))["errcode"] == "M_FORBIDDEN"


# Complement: TestKnocking / Change the join rule of a room from 'invite' to 'knock'
# + Attempting to join a room with join rule 'knock' without an invite should fail
async def test_join_of_knock_room_without_invite_fails(homeserver, join_rule: str) -> None:
    alice, bob, room_id = await knock_room(homeserver, join_rule)
    assert (await alice.get_state(room_id, "m.room.join_rules"))["join_rule"] == join_rule
    status, body = await bob.status_of("POST", f"{V3}/join/{q(room_id)}", body={})
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"


# Complement: TestKnocking / Knocking on a room with join rule 'knock' should succeed
# + Users in the room see a user's membership update when they knock
async def test_knock_succeeds_and_members_see_it(homeserver, join_rule: str) -> None:
    alice, bob, room_id = await knock_room(homeserver, join_rule)
    _, since = await sync_until(alice, None, lambda r: True)
    answer = await knock(bob, room_id, {"reason": "let me in"})
    assert answer["room_id"] == room_id
    await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("knock", {}))

    def sees_knock(r: dict[str, Any]) -> bool:
        events = r.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {}).get("events", [])
        return any(e["type"] == "m.room.member" and e["state_key"] == bob.user_id
                   and e["content"].get("membership") == "knock"
                   and e["content"].get("reason") == "let me in" for e in events)

    await sync_until(alice, since, sees_knock)


# Complement: TestKnocking / A user that has already knocked is allowed to knock again on the same room
async def test_knocking_twice_is_allowed(homeserver, join_rule: str) -> None:
    _, bob, room_id = await knock_room(homeserver, join_rule)
    await knock(bob, room_id, {"reason": "first"})
    await knock(bob, room_id, {"reason": "second"})


# Complement: TestKnocking / A user that has knocked on a local room can rescind their knock and then knock again
async def test_knock_can_be_rescinded_and_repeated(homeserver, join_rule: str) -> None:
    alice, bob, room_id = await knock_room(homeserver, join_rule)
    await knock(bob, room_id)
    _, since = await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("knock", {}))
    await bob.leave(room_id)
    await sync_until(bob, since, lambda r: room_id in r.get("rooms", {}).get("leave", {}))
    assert (await member_event(alice, room_id, bob.user_id or ""))["membership"] == "leave"
    await knock(bob, room_id)
    assert (await member_event(alice, room_id, bob.user_id or ""))["membership"] == "knock"


# Complement: TestKnocking / A user in the room can reject a knock
async def test_rejected_knocker_can_knock_again(homeserver, join_rule: str) -> None:
    alice, bob, room_id = await knock_room(homeserver, join_rule)
    await knock(bob, room_id)
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/kick", {"user_id": bob.user_id, "reason": "no"})
    assert (await member_event(alice, room_id, bob.user_id or ""))["membership"] == "leave"
    await knock(bob, room_id)


# Complement: TestKnocking / A user can knock on a room without a reason
async def test_knock_without_reason(homeserver, join_rule: str) -> None:
    alice, bob, room_id = await knock_room(homeserver, join_rule)
    await bob.request("POST", f"{V3}/knock/{q(room_id)}", None)
    member = await member_event(alice, room_id, bob.user_id or "")
    assert member["membership"] == "knock" and "reason" not in member


# Complement: TestKnocking / A user in the room can accept a knock
async def test_inviting_a_knocker_accepts_the_knock(homeserver, join_rule: str) -> None:
    alice, bob, room_id = await knock_room(homeserver, join_rule)
    await knock(bob, room_id)
    await alice.invite(room_id, bob.user_id or "")
    assert (await member_event(alice, room_id, bob.user_id or ""))["membership"] == "invite"
    await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}))


# Complement: TestKnocking / A user cannot knock on a room they are already invited to
async def test_invited_user_cannot_knock(homeserver, join_rule: str) -> None:
    alice, bob, room_id = await knock_room(homeserver, join_rule)
    await alice.invite(room_id, bob.user_id or "")
    assert (await knock(bob, room_id, expect=403))["errcode"] == "M_FORBIDDEN"


# Complement: TestKnocking / A user cannot knock on a room they are already in
async def test_joined_user_cannot_knock(homeserver, join_rule: str) -> None:
    alice, bob, room_id = await knock_room(homeserver, join_rule)
    await alice.invite(room_id, bob.user_id or "")
    await bob.join(room_id)
    assert (await knock(bob, room_id, expect=403))["errcode"] == "M_FORBIDDEN"


# Complement: TestKnocking / A user that is banned from a room cannot knock on it
async def test_banned_user_cannot_knock(homeserver, join_rule: str) -> None:
    alice, bob, room_id = await knock_room(homeserver, join_rule)
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/ban", {"user_id": bob.user_id})
    assert (await knock(bob, room_id, expect=403))["errcode"] == "M_FORBIDDEN"


# Complement: TestKnockRoomsInPublicRoomsDirectory (+ InMSC3787Room)
async def test_published_knock_room_shows_its_join_rule(homeserver, join_rule: str) -> None:
    alice, _, room_id = await knock_room(homeserver, join_rule)
    public_id = await alice.create_room(preset="public_chat", visibility="public")
    await alice.request("PUT", f"{V3}/directory/list/room/{q(room_id)}", {"visibility": "public"})
    chunk = (await alice.request("GET", f"{V3}/publicRooms"))["chunk"]
    rules = {c["room_id"]: c.get("join_rule") for c in chunk}
    assert rules[room_id] == join_rule
    assert rules[public_id] == "public"


# Complement: TestKnocking (and TestKnockingInMSC3787Room), the remote-knocker runs: knock, members see it,
# knock again, rejected by kick then knock again, accepted by invite, and refused once invited, in, or banned.
async def test_knocking_from_another_server(tmp_path: Path, join_rule: str) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat", room_version="10")
        await alice.send_state(room_id, "m.room.join_rules", knock_join_rules(join_rule))
        via = {"via": hs1.server_name}

        async def remote_knock(body: dict[str, Any] | None = None, expect: int = 200) -> Any:
            return await bob.request("POST", f"{V3}/knock/{q(room_id)}", {} if body is None else body,
                                     params=via, expect=expect)

        status, _ = await bob.status_of("POST", f"{V3}/join/{q(room_id)}", body={}, params=via)
        assert status == 403
        await remote_knock({"reason": "from afar"})
        await wait_for_membership(alice, room_id, bob.user_id or "", "knock")
        assert (await member_event(alice, room_id, bob.user_id or ""))["reason"] == "from afar"
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("knock", {}), within=15.0)
        await remote_knock({"reason": "again"})

        await alice.request("POST", f"{V3}/rooms/{q(room_id)}/kick", {"user_id": bob.user_id})
        await remote_knock()
        await wait_for_membership(alice, room_id, bob.user_id or "", "knock")

        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
        assert (await remote_knock(expect=403))["errcode"] == "M_FORBIDDEN"
        await bob.request("POST", f"{V3}/join/{q(room_id)}", {}, params=via)
        await wait_for_membership(alice, room_id, bob.user_id or "", "join")
        assert (await remote_knock(expect=403))["errcode"] == "M_FORBIDDEN"

        await alice.request("POST", f"{V3}/rooms/{q(room_id)}/ban", {"user_id": bob.user_id})
        await wait_for_membership(alice, room_id, bob.user_id or "", "ban")
        assert (await remote_knock(expect=403))["errcode"] == "M_FORBIDDEN"
