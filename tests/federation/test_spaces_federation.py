"""Space hierarchies across servers (spec: server-server-api.md "Spaces", GET /hierarchy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixError, q


async def test_hierarchy_fills_in_remote_children_over_federation(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        space = await alice.create_room(preset="public_chat", name="Space", creation_content={"type": "m.space"})
        child = await alice.create_room(preset="public_chat", name="Child on hs1")
        private = await alice.create_room(preset="private_chat", name="Private on hs1")
        for room in (child, private):
            await alice.send_state(space, "m.space.child", {"via": [hs1.server_name]}, state_key=room)
        await bob.request("POST", f"/_matrix/client/v3/join/{q(space)}", {},
                          params={"server_name": hs1.server_name})
        result: dict[str, Any] = await bob.request("GET", f"/_matrix/client/v1/rooms/{q(space)}/hierarchy")
        rooms = {r["room_id"]: r for r in result["rooms"]}
        # The child is unknown to hs2: its summary came from hs1; the private one is not visible.
        assert list(rooms) == [space, child]
        assert rooms[child]["name"] == "Child on hs1"
        assert rooms[child]["num_joined_members"] == 1


async def test_federation_hierarchy_needs_a_signed_request(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        alice = await hs1.register("alice")
        space = await alice.create_room(preset="public_chat", creation_content={"type": "m.space"})
        anonymous = hs1.api()
        try:
            await anonymous.request("GET", f"/_matrix/federation/v1/hierarchy/{q(space)}")
        except MatrixError as e:
            assert e.status == 401 and e.body["errcode"] == "M_UNAUTHORIZED"
        else:
            raise AssertionError("unsigned federation request was served")


async def test_federation_hierarchy_lists_accessible_and_inaccessible_children(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        space = await alice.create_room(preset="public_chat", creation_content={"type": "m.space"})
        public = await alice.create_room(preset="public_chat")
        private = await alice.create_room(preset="private_chat")
        for room in (public, private):
            await alice.send_state(space, "m.space.child", {"via": [hs1.server_name]}, state_key=room)
        answer = await hs2.hs.federation_client.get_json(
            hs1.server_name, f"/_matrix/federation/v1/hierarchy/{q(space)}"
        )
        assert answer["room"]["room_id"] == space
        assert {c["state_key"] for c in answer["room"]["children_state"]} == {public, private}
        assert [c["room_id"] for c in answer["children"]] == [public]
        assert answer["inaccessible_children"] == [private]
