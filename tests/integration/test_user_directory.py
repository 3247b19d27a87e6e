"""User directory search over real HTTP.

spec: data/api/client-server/users.yaml; cases follow Complement's
TestRoomSpecificUsernameChange / TestRoomSpecificUsernameAtJoin.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q

V3 = "/_matrix/client/v3"


async def search(client: MatrixHttp, term: str, limit: int | None = None, expect: int = 200) -> Any:
    body: dict[str, Any] = {"search_term": term}
    if limit is not None:
        body["limit"] = limit
    return await client.request("POST", f"{V3}/user_directory/search", body, expect=expect)


async def set_name(client: MatrixHttp, name: str) -> None:
    await client.request("PUT", f"{V3}/profile/{q(client.user_id or '')}/displayname", {"displayname": name})


def ids(result: dict[str, Any]) -> list[str]:
    return [r["user_id"] for r in result["results"]]


async def test_finds_room_mate_by_display_name_case_insensitively(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    await set_name(bob, "Robert Tables")
    room_id = await alice.create_room()
    await alice.invite(room_id, bob.user_id or "")
    await bob.join(room_id)
    result = await search(alice, "robert")
    assert result["results"] == [{"user_id": bob.user_id, "display_name": "Robert Tables"}]
    assert result["limited"] is False


async def test_finds_user_by_mxid(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bobbington")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    assert bob.user_id in ids(await search(alice, "@BOBBING"))


async def test_finds_users_in_public_rooms_without_shared_room(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    await set_name(bob, "Public Bob")
    await bob.create_room(preset="public_chat")
    assert ids(await search(alice, "public bob")) == [bob.user_id]


async def test_does_not_find_users_only_in_private_rooms(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    eve = await homeserver.register("eve")
    await set_name(eve, "Hidden Eve")
    await eve.create_room()  # private
    assert ids(await search(alice, "hidden")) == []


async def test_room_specific_name_not_searchable(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    eve = await homeserver.register("eve")
    await set_name(alice, "Alice Global")
    public = await alice.create_room(preset="public_chat")
    await eve.join(public)
    private = await alice.create_room()
    await alice.invite(private, bob.user_id or "")
    await bob.join(private)
    await alice.send_state(
        private, "m.room.member",
        {"membership": "join", "displayname": "Alice Secret Nick"}, alice.user_id or "",
    )
    assert ids(await search(eve, "secret nick")) == []
    result = await search(eve, "alice global")
    assert result["results"] == [{"user_id": alice.user_id, "display_name": "Alice Global"}]
    # Bob shares the private room but still sees the global name.
    result = await search(bob, "alice")
    assert result["results"] == [{"user_id": alice.user_id, "display_name": "Alice Global"}]
    assert ids(await search(bob, "secret")) == []


async def test_limit_sets_limited(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(preset="public_chat")
    for name in ("tester1", "tester2", "tester3"):
        user = await homeserver.register(name)
        await user.join(room_id)
    result = await search(alice, "tester", limit=2)
    assert len(result["results"]) == 2
    assert result["limited"] is True
    result = await search(alice, "tester", limit=10)
    assert len(result["results"]) == 3
    assert result["limited"] is False


async def test_like_wildcards_are_literal(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    await bob.create_room(preset="public_chat")
    assert ids(await search(alice, "%")) == []
    assert ids(await search(alice, "_")) == []


async def test_search_term_required(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    err = await alice.request("POST", f"{V3}/user_directory/search", {"limit": 3}, expect=400)
    assert err["errcode"] == "M_BAD_JSON"


async def test_search_requires_auth(homeserver: RunningHomeserver) -> None:
    anonymous = homeserver.api()
    err = await anonymous.request("POST", f"{V3}/user_directory/search", {"search_term": "a"}, expect=401)
    assert err["errcode"] == "M_MISSING_TOKEN"
