"""Spaces and room summaries, after Complement's room_hierarchy_test.go and room_summary_test.go.

spec: client-server-api/modules/spaces.md, data/api/client-server/space_hierarchy.yaml,
room_summary.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import RunningHomeserver
from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixHttp, q


async def create_space(api: MatrixHttp, name: str, **extra: Any) -> str:
    return await api.create_room(name=name, creation_content={"type": "m.space"}, **extra)


async def add_child(api: MatrixHttp, space: str, child: str, server: str) -> None:
    await api.send_state(space, "m.space.child", {"via": [server]}, state_key=child)


async def hierarchy_ids(api: MatrixHttp, room_id: str) -> list[str]:
    result = await api.request("GET", f"/_matrix/client/v1/rooms/{q(room_id)}/hierarchy")
    return [r["room_id"] for r in result["rooms"]]


async def summary(api: MatrixHttp, room: str, **params: Any) -> tuple[int, Any]:
    return await api.status_of("GET", f"/_matrix/client/v1/room_summary/{q(room)}", params=params or None)


async def test_blanking_a_child_link_removes_its_subtree(homeserver: RunningHomeserver) -> None:
    # Complement: TestClientSpacesSummary / redact link
    hs = homeserver.server_name
    alice = await homeserver.register("alice")
    space = await create_space(alice, "Root", preset="public_chat")
    sub = await create_space(alice, "Sub", preset="public_chat")
    leaf = await alice.create_room(name="leaf", preset="public_chat")
    await add_child(alice, space, sub, hs)
    await add_child(alice, sub, leaf, hs)
    assert await hierarchy_ids(alice, space) == [space, sub, leaf]
    await alice.send_state(space, "m.space.child", {}, state_key=sub)
    assert await hierarchy_ids(alice, space) == [space]


async def test_invite_only_rooms_appear_in_the_hierarchy_once_invited(homeserver: RunningHomeserver) -> None:
    # Complement: TestClientSpacesSummaryJoinRules
    hs = homeserver.server_name
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    space = await create_space(alice, "Root", preset="public_chat")
    hidden_space = await create_space(alice, "Hidden", preset="private_chat")
    public_under_hidden = await alice.create_room(name="under", preset="public_chat")
    invite_only = await alice.create_room(name="private", preset="private_chat")
    await add_child(alice, space, hidden_space, hs)
    await add_child(alice, space, invite_only, hs)
    await add_child(alice, hidden_space, public_under_hidden, hs)
    assert await hierarchy_ids(bob, space) == [space]
    await alice.invite(invite_only, bob.user_id or "")
    assert await hierarchy_ids(bob, space) == [space, invite_only]
    await alice.invite(hidden_space, bob.user_id or "")
    assert set(await hierarchy_ids(bob, space)) == {space, hidden_space, public_under_hidden, invite_only}


async def test_room_summary_of_a_restricted_room_lists_allowed_room_ids(homeserver: RunningHomeserver) -> None:
    # Complement: TestRoomSummaryAllowedRoomIDs / restricted room includes allowed_room_ids
    alice = await homeserver.register("alice")
    space = await create_space(alice, "Space", preset="public_chat")
    room = await alice.create_room(name="members only", initial_state=[{
        "type": "m.room.join_rules",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]},
    }])
    status, body = await summary(alice, room)
    assert status == 200
    assert body["room_id"] == room and body["join_rule"] == "restricted"
    assert body["allowed_room_ids"] == [space]
    assert body["name"] == "members only" and body["membership"] == "join"
    assert body["num_joined_members"] == 1 and isinstance(body["room_version"], str)


async def test_room_summary_of_an_invite_only_room_omits_allowed_room_ids(homeserver: RunningHomeserver) -> None:
    # Complement: TestRoomSummaryAllowedRoomIDs / non-restricted room omits allowed_room_ids
    alice = await homeserver.register("alice")
    room = await alice.create_room(preset="private_chat")
    status, body = await summary(alice, room)
    assert status == 200 and body["join_rule"] == "invite"
    assert "allowed_room_ids" not in body


async def test_room_summary_by_alias_and_for_strangers(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    space = await create_space(alice, "Space", preset="public_chat", room_alias_name="space")
    status, body = await summary(bob, f"#space:{homeserver.server_name}")
    assert status == 200 and body["room_id"] == space
    assert body["room_type"] == "m.space" and "membership" not in body

    private = await alice.create_room(preset="private_chat")
    status, body = await summary(bob, private)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    await alice.invite(private, bob.user_id or "")
    status, body = await summary(bob, private)
    assert status == 200 and body["membership"] == "invite"


async def test_room_summary_without_a_token_shows_only_open_rooms(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    public = await alice.create_room(preset="public_chat")
    private = await alice.create_room(preset="private_chat")
    anonymous = MatrixHttp(alice.session, alice.base_url)
    status, body = await summary(anonymous, public)
    assert status == 200 and body["join_rule"] == "public" and "membership" not in body
    status, body = await summary(anonymous, private)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await summary(anonymous, f"!unknown:{homeserver.server_name}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await summary(anonymous, "not-a-room")
    assert status == 400


async def test_remote_restricted_child_shows_once_its_server_sees_the_requesters_in_the_space(
    tmp_path: Path,
) -> None:
    # Complement: TestRestrictedRoomsSpacesSummaryFederation
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        charlie = await hs1.register("charlie")
        bob = await hs2.register("bob")
        space = await create_space(alice, "Space", preset="public_chat")
        restricted = await bob.create_room(name="members of the space", initial_state=[{
            "type": "m.room.join_rules",
            "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]},
        }])
        await add_child(alice, space, restricted, hs2.server_name)
        # hs2 is not in the space: it cannot tell hs1 has members there, so nobody sees the child.
        assert await hierarchy_ids(alice, space) == [space]

        await bob.request("POST", f"/_matrix/client/v3/join/{q(space)}", {},
                          params={"server_name": hs1.server_name})
        assert await hierarchy_ids(alice, space) == [space, restricted]
        assert await hierarchy_ids(charlie, space) == [space]  # not a member of the space
        await charlie.join(space)
        assert await hierarchy_ids(charlie, space) == [space, restricted]
