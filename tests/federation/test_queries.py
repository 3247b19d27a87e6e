"""Federation queries: /query/directory, /query/profile and /publicRooms, inbound and proxied.

spec: server-server-api.md, "Querying for information", "Public Room Directory";
client-server: GET /directory/room/{alias}, GET /profile/{userId}, /publicRooms?server=.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.transport.errors import FederationHttpError
from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixError, q


async def test_remote_profile_is_fetched_over_federation(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        await bob.request("PUT", f"/_matrix/client/v3/profile/{q(bob.user_id or '')}/displayname",
                          {"displayname": "Bob B"})
        profile = await alice.request("GET", f"/_matrix/client/v3/profile/{q(bob.user_id or '')}")
        assert profile["displayname"] == "Bob B"
        field = await alice.request("GET", f"/_matrix/client/v3/profile/{q(bob.user_id or '')}/displayname")
        assert field == {"displayname": "Bob B"}


async def test_unknown_remote_profile_is_not_found(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        with pytest.raises(MatrixError) as caught:
            await alice.request("GET", f"/_matrix/client/v3/profile/{q('@nobody:' + hs2.server_name)}")
        assert caught.value.status == 404
        assert caught.value.errcode == "M_NOT_FOUND"


async def test_query_profile_with_one_field(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        await alice.request("PUT", f"/_matrix/client/v3/profile/{q(alice.user_id or '')}/displayname",
                            {"displayname": "Alice A"})
        answer = await hs2.hs.federation_client.get_json(
            hs1.server_name, "/_matrix/federation/v1/query/profile",
            {"user_id": alice.user_id or "", "field": "displayname"},
        )
        assert answer == {"displayname": "Alice A"}


@pytest.mark.parametrize(
    ("query", "status", "errcode"),
    [
        ({}, 400, "M_MISSING_PARAM"),
        ({"user_id": "@alice:HS", "field": "email"}, 400, "M_INVALID_PARAM"),
        ({"user_id": "@ghost:HS"}, 404, "M_NOT_FOUND"),
    ],
)
async def test_query_profile_errors(tmp_path: Path, query: dict[str, str], status: int, errcode: str) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        await hs1.register("alice")
        query = {k: v.replace("HS", hs1.server_name) for k, v in query.items()}
        with pytest.raises(FederationHttpError) as caught:
            await hs2.hs.federation_client.get_json(hs1.server_name, "/_matrix/federation/v1/query/profile", query)
        assert (caught.value.status, caught.value.errcode) == (status, errcode)


async def test_remote_alias_resolves_through_the_alias_server(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat", room_alias_name="town")
        alias = f"#town:{hs1.server_name}"
        answer = await bob.request("GET", f"/_matrix/client/v3/directory/room/{q(alias)}")
        assert answer == {"room_id": room_id, "servers": [hs1.server_name]}


async def test_unknown_remote_alias_is_not_found(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        await hs1.register("alice")
        bob = await hs2.register("bob")
        with pytest.raises(MatrixError) as caught:
            await bob.request("GET", f"/_matrix/client/v3/directory/room/{q('#nowhere:' + hs1.server_name)}")
        assert caught.value.status == 404
        assert caught.value.errcode == "M_NOT_FOUND"


async def test_query_directory_needs_room_alias(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        with pytest.raises(FederationHttpError) as caught:
            await hs2.hs.federation_client.get_json(hs1.server_name, "/_matrix/federation/v1/query/directory")
        assert (caught.value.status, caught.value.errcode) == (400, "M_MISSING_PARAM")


async def test_public_rooms_of_a_remote_server(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(visibility="public", preset="public_chat", name="Town square",
                                          topic="all welcome")
        await alice.create_room(preset="private_chat", name="Hidden")
        listing = await bob.request("GET", "/_matrix/client/v3/publicRooms", params={"server": hs1.server_name})
        assert [c["room_id"] for c in listing["chunk"]] == [room_id]
        assert listing["chunk"][0]["name"] == "Town square"
        assert listing["chunk"][0]["num_joined_members"] == 1

        found = await bob.request("POST", "/_matrix/client/v3/publicRooms",
                                  {"filter": {"generic_search_term": "square"}},
                                  params={"server": hs1.server_name})
        assert [c["room_id"] for c in found["chunk"]] == [room_id]
        missed = await bob.request("POST", "/_matrix/client/v3/publicRooms",
                                   {"filter": {"generic_search_term": "nothing-like-it"}},
                                   params={"server": hs1.server_name})
        assert missed["chunk"] == []


async def test_public_rooms_pages_with_since_over_federation(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        ids = {await alice.create_room(visibility="public", preset="public_chat", name=f"r{i}") for i in range(3)}
        client = hs2.hs.federation_client
        first = await client.get_json(hs1.server_name, "/_matrix/federation/v1/publicRooms", {"limit": 2})
        assert len(first["chunk"]) == 2 and "next_batch" in first
        second = await client.get_json(hs1.server_name, "/_matrix/federation/v1/publicRooms",
                                       {"limit": 2, "since": first["next_batch"]})
        assert {c["room_id"] for c in first["chunk"] + second["chunk"]} == ids


async def test_federation_queries_need_a_signed_request(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        api = hs1.api()
        for path in ("/_matrix/federation/v1/publicRooms", "/_matrix/federation/v1/query/profile?user_id=%40a%3Ab"):
            with pytest.raises(MatrixError) as caught:
                await api.request("GET", path)
            assert caught.value.status == 401
