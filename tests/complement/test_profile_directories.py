"""Profile & directories, from Complement's checklist (public_rooms_test.go,
user_directory_display_names_test.go); lines not already covered in tests/integration.

spec: data/api/client-server/{list_public_rooms,users}.yaml; definitions/public_rooms_chunk.yaml.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.conftest import RunningHomeserver, start_homeserver
from tests.http_client import MatrixHttp, q

V3 = "/_matrix/client/v3"


# Complement: TestPublicRooms / Name/topic keys are correct (+7 nested subtests)
@pytest.mark.parametrize(("name", "topic"), [
    (None, None), ("name", None), (None, "topic"), ("name", "topic"),
    ("nom de la salle ✨", None), (None, "sujet ✨"), ("名前", "話題"),
])
async def test_public_room_entry_has_name_and_topic_exactly_when_set(
    homeserver, name: str | None, topic: str | None
) -> None:
    alice = await homeserver.register("alice")
    body: dict[str, Any] = {"visibility": "public", "preset": "public_chat", "room_alias_name": "listed"}
    if name is not None:
        body["name"] = name
    if topic is not None:
        body["topic"] = topic
    room_id = await alice.create_room(**body)
    (entry,) = [c for c in (await alice.request("GET", f"{V3}/publicRooms"))["chunk"] if c["room_id"] == room_id]
    assert entry["world_readable"] is False and entry["guest_can_join"] is False
    assert entry["num_joined_members"] == 1
    assert entry["canonical_alias"] == "#listed:localhost"
    assert entry.get("name") == name and ("name" in entry) == (name is not None)
    assert entry.get("topic") == topic and ("topic" in entry) == (topic is not None)


async def search_users(client: MatrixHttp, term: str) -> list[dict[str, Any]]:
    found = await client.request("POST", f"{V3}/user_directory/search", {"search_term": term})
    return found["results"]  # type: ignore[no-any-return]


async def alice_with_room_name(homeserver, at_join: bool) -> tuple[MatrixHttp, MatrixHttp, MatrixHttp]:  # type: ignore[no-untyped-def]
    """Alice (global name) shares a private room with Bob, where she has a room-specific name."""
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    eve = await homeserver.register("eve")
    await alice.request("PUT", f"{V3}/profile/{q(alice.user_id or '')}/displayname", {"displayname": "Alice Cooper"})
    room_id = await alice.create_room(preset="private_chat")
    await alice.invite(room_id, bob.user_id or "")
    if at_join:
        await bob.join(room_id)
    await alice.send_state(room_id, "m.room.member", {"membership": "join", "displayname": "Freddy"},
                           state_key=alice.user_id or "")
    if not at_join:
        await bob.join(room_id)
    return alice, bob, eve


# Complement: TestRoomSpecificUsernameChange and TestRoomSpecificUsernameAtJoin: the Bob subtests and
# "Eve cannot find Alice by room-specific name". (Eve finding Alice at all needs Synapse's
# search_all_users; the spec only requires room-mates and users in public rooms.)
@pytest.mark.parametrize("at_join", [False, True])
async def test_user_directory_shows_global_names_not_room_names(homeserver, at_join: bool) -> None:
    alice, bob, eve = await alice_with_room_name(homeserver, at_join)
    for term in ("Alice Cooper", "alice"):
        results = await search_users(bob, term)
        assert [(r["user_id"], r.get("display_name")) for r in results] == [(alice.user_id, "Alice Cooper")]
    assert await search_users(eve, "Freddy") == []


@pytest.fixture
async def all_users_directory(config_factory) -> AsyncIterator[RunningHomeserver]:  # type: ignore[no-untyped-def]
    """A server whose user directory lists every local user (Complement runs Synapse so)."""
    hs, server = await start_homeserver(config_factory(user_directory={"search_all_users": True}))
    async with ClientSession() as session:
        yield RunningHomeserver(hs, server, session)
    await server.close()


# Complement: TestRoomSpecificUsernameChange / TestRoomSpecificUsernameAtJoin: "Eve can find Alice by
# profile display name", "Eve can find Alice by mxid", "Eve cannot find Alice by room-specific name"
@pytest.mark.parametrize("at_join", [False, True])
async def test_stranger_finds_global_name_but_not_room_name_when_all_users_are_listed(
    all_users_directory: RunningHomeserver, at_join: bool
) -> None:
    alice, _, eve = await alice_with_room_name(all_users_directory, at_join)
    for term in ("Alice Cooper", "alice"):
        results = await search_users(eve, term)
        assert [(r["user_id"], r.get("display_name")) for r in results] == [(alice.user_id, "Alice Cooper")]
    assert await search_users(eve, "Freddy") == []


async def test_stranger_in_no_shared_room_is_not_found_by_default(homeserver) -> None:
    alice, _, eve = await alice_with_room_name(homeserver, False)
    assert await search_users(eve, "Alice Cooper") == []
