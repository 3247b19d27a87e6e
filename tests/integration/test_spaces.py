"""Spaces: GET /hierarchy and the restricted join rule, over real HTTP.

spec: client-server-api/modules/spaces.md, data/api/client-server/space_hierarchy.yaml,
"Restricted rooms".
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixError, MatrixHttp, q


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("alice")


@pytest.fixture
async def bob(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("bob")


async def create_space(api: MatrixHttp, name: str, **extra: Any) -> str:
    return await api.create_room(name=name, creation_content={"type": "m.space"}, **extra)


async def add_child(api: MatrixHttp, space: str, child: str, server: str, **content: Any) -> None:
    await api.send_state(space, "m.space.child", {"via": [server], **content}, state_key=child)


async def hierarchy(api: MatrixHttp, room_id: str, **params: Any) -> dict[str, Any]:
    return await api.request(
        "GET", f"/_matrix/client/v1/rooms/{q(room_id)}/hierarchy",
        params={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()},
    )


def ids(result: dict[str, Any]) -> list[str]:
    return [r["room_id"] for r in result["rooms"]]


async def test_hierarchy_walks_children_depth_first_in_spec_order(
    homeserver: RunningHomeserver, alice: MatrixHttp
) -> None:
    hs = homeserver.server_name
    space = await create_space(alice, "Space", preset="public_chat")
    sub = await create_space(alice, "Sub", preset="public_chat")
    first = await alice.create_room(name="first", preset="public_chat")
    later = await alice.create_room(name="later", preset="public_chat")
    nested = await alice.create_room(name="nested", preset="public_chat")
    await add_child(alice, space, later, hs)
    await add_child(alice, space, sub, hs, order="b")
    await add_child(alice, space, first, hs, order="a")
    await add_child(alice, sub, nested, hs)
    result = await hierarchy(alice, space)
    # ordered children ("a" < "b") first, then the unordered one; depth first into Sub.
    assert ids(result) == [space, first, sub, nested, later]
    root = result["rooms"][0]
    assert root["room_type"] == "m.space" and root["name"] == "Space"
    assert root["num_joined_members"] == 1 and root["join_rule"] == "public"
    assert sorted(c["state_key"] for c in root["children_state"]) == sorted([first, sub, later])
    assert all("origin_server_ts" in c for c in root["children_state"])
    assert result["rooms"][1]["children_state"] == []
    assert "next_batch" not in result


async def test_child_without_via_is_not_a_child(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    space = await create_space(alice, "Space")
    room = await alice.create_room()
    await alice.send_state(space, "m.space.child", {}, state_key=room)
    assert ids(await hierarchy(alice, space)) == [space]


async def test_suggested_only_and_max_depth(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    hs = homeserver.server_name
    space = await create_space(alice, "Space")
    suggested = await alice.create_room()
    other = await alice.create_room()
    await add_child(alice, space, suggested, hs, suggested=True)
    await add_child(alice, space, other, hs)
    assert ids(await hierarchy(alice, space, suggested_only=True)) == [space, suggested]
    assert ids(await hierarchy(alice, space, max_depth=0)) == [space]


async def test_pagination_with_next_batch(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    space = await create_space(alice, "Space")
    children = [await alice.create_room() for _ in range(5)]
    for i, child in enumerate(children):
        await add_child(alice, space, child, homeserver.server_name, order=f"{i}")
    page = await hierarchy(alice, space, limit=2)
    seen = ids(page)
    while "next_batch" in page:
        page = await hierarchy(alice, space, limit=2, **{"from": page["next_batch"]})
        seen += ids(page)
    assert seen == [space, *children]


async def test_changing_suggested_only_while_paginating_is_invalid(
    homeserver: RunningHomeserver, alice: MatrixHttp
) -> None:
    space = await create_space(alice, "Space")
    for _ in range(3):
        await add_child(alice, space, await alice.create_room(), homeserver.server_name)
    page = await hierarchy(alice, space, limit=1)
    with pytest.raises(MatrixError) as err:
        await hierarchy(alice, space, limit=1, suggested_only=True, **{"from": page["next_batch"]})
    assert err.value.status == 400 and err.value.body["errcode"] == "M_INVALID_PARAM"


async def test_unknown_from_token_is_invalid(alice: MatrixHttp) -> None:
    space = await create_space(alice, "Space")
    with pytest.raises(MatrixError) as err:
        await hierarchy(alice, space, **{"from": "nonsense"})
    assert err.value.body["errcode"] == "M_INVALID_PARAM"


async def test_loops_are_walked_once(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    hs = homeserver.server_name
    a = await create_space(alice, "A")
    b = await create_space(alice, "B")
    await add_child(alice, a, b, hs)
    await add_child(alice, b, a, hs)
    assert ids(await hierarchy(alice, a)) == [a, b]


async def test_private_children_are_hidden_from_outsiders(
    homeserver: RunningHomeserver, alice: MatrixHttp, bob: MatrixHttp
) -> None:
    hs = homeserver.server_name
    space = await create_space(alice, "Space", preset="public_chat")
    public = await alice.create_room(preset="public_chat")
    private = await alice.create_room(preset="private_chat")
    await add_child(alice, space, public, hs)
    await add_child(alice, space, private, hs)
    assert ids(await hierarchy(bob, space)) == [space, public]
    assert ids(await hierarchy(alice, space)) == [space, public, private]


async def test_hierarchy_of_private_space_is_forbidden_to_outsiders(alice: MatrixHttp, bob: MatrixHttp) -> None:
    space = await create_space(alice, "Secret", preset="private_chat")
    with pytest.raises(MatrixError) as err:
        await hierarchy(bob, space)
    assert err.value.status == 403 and err.value.body["errcode"] == "M_FORBIDDEN"


async def restricted_room(alice: MatrixHttp, space: str) -> str:
    return await alice.create_room(initial_state=[{
        "type": "m.room.join_rules",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]},
    }])


async def test_space_member_may_join_restricted_room(
    homeserver: RunningHomeserver, alice: MatrixHttp, bob: MatrixHttp
) -> None:
    space = await create_space(alice, "Space", preset="public_chat")
    room = await restricted_room(alice, space)
    await bob.join(space)
    await bob.join(room)
    member = await bob.get_state(room, "m.room.member", bob.user_id)  # type: ignore[arg-type]
    assert member["membership"] == "join"
    assert member["join_authorised_via_users_server"] == alice.user_id


async def test_outsider_may_not_join_restricted_room(alice: MatrixHttp, bob: MatrixHttp) -> None:
    space = await create_space(alice, "Space", preset="public_chat")
    room = await restricted_room(alice, space)
    with pytest.raises(MatrixError) as err:
        await bob.join(room)
    assert err.value.status == 403


async def test_restricted_room_shows_in_hierarchy_to_space_members(
    homeserver: RunningHomeserver, alice: MatrixHttp, bob: MatrixHttp
) -> None:
    space = await create_space(alice, "Space", preset="public_chat")
    room = await restricted_room(alice, space)
    await add_child(alice, space, room, homeserver.server_name)
    assert ids(await hierarchy(bob, space)) == [space]
    await bob.join(space)
    result = await hierarchy(bob, space)
    assert ids(result) == [space, room]
    assert result["rooms"][1]["allowed_room_ids"] == [space]
