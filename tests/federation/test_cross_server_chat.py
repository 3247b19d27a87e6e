"""Chatting across servers after a federated join: messages flow both ways, and a third
server joining through the second one is announced to the first.

spec: server-server-api.md, "Joining Rooms" ("The resident server must also send the
event to other servers participating in the room") and "Transactions".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until, timeline_of

Response = dict[str, Any]


def has_message(room_id: str, body: str) -> Any:
    def found(response: Response) -> bool:
        return any(e["type"] == "m.room.message" and e["content"].get("body") == body
                   for e in timeline_of(response, room_id))
    return found


def has_member(room_id: str, user_id: str, membership: str) -> Any:
    def found(response: Response) -> bool:
        room = response.get("rooms", {}).get("join", {}).get(room_id, {})
        events = room.get("timeline", {}).get("events", []) + room.get("state", {}).get("events", [])
        return any(e["type"] == "m.room.member" and e.get("state_key") == user_id
                   and e["content"].get("membership") == membership for e in events)
    return found


async def joined_members(client: MatrixHttp, room_id: str) -> set[str]:
    body = await client.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/joined_members")
    return set(body["joined"])


async def test_invited_remote_user_joins_and_both_sides_chat(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat", name="Two servers")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
        await bob.join(room_id)
        _, alice_token = await sync_until(alice, None, has_member(room_id, bob.user_id or "", "join"), within=15.0)
        _, bob_token = await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("join", {}),
                                        within=15.0)

        await alice.send(room_id, "hello from one")
        await sync_until(bob, bob_token, has_message(room_id, "hello from one"), within=15.0)
        await bob.send(room_id, "hello from two")
        await sync_until(alice, alice_token, has_message(room_id, "hello from two"), within=15.0)

        expected = {alice.user_id, bob.user_id}
        assert await joined_members(alice, room_id) == expected
        assert await joined_members(bob, room_id) == expected
        history = await bob.messages(room_id, dir="b", limit=50)
        bodies = [e["content"].get("body") for e in history["chunk"] if e["type"] == "m.room.message"]
        assert bodies[:2] == ["hello from two", "hello from one"]


async def test_third_server_joining_through_a_resident_is_announced_to_the_others(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as (hs1, hs2, hs3):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        carol = await hs3.register("carol")
        room_id = await alice.create_room(preset="public_chat")
        await bob.request("POST", f"/_matrix/client/v3/join/{q(room_id)}", {}, params={"via": hs1.server_name})
        _, alice_token = await sync_until(alice, None, has_member(room_id, bob.user_id or "", "join"), within=15.0)

        # carol's server only knows hs2: hs2 is the resident that countersigns and broadcasts.
        await carol.request("POST", f"/_matrix/client/v3/join/{q(room_id)}", {}, params={"via": hs2.server_name})
        await sync_until(alice, alice_token, has_member(room_id, carol.user_id or "", "join"), within=15.0)
        _, carol_token = await sync_until(carol, None, lambda r: room_id in r.get("rooms", {}).get("join", {}),
                                          within=15.0)
        await alice.send(room_id, "welcome carol")
        await sync_until(carol, carol_token, has_message(room_id, "welcome carol"), within=15.0)


async def test_create_room_inviting_a_remote_user_directly(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="trusted_private_chat", is_direct=True, invite=[bob.user_id])
        response, _ = await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}),
                                       within=15.0)
        own = [e for e in response["rooms"]["invite"][room_id]["invite_state"]["events"]
               if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
        assert own[0]["content"].get("is_direct") is True


async def test_deactivated_user_rejects_their_remote_invites(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
        _, alice_token = await sync_until(alice, None, has_member(room_id, bob.user_id or "", "invite"),
                                          within=15.0)

        await bob.request("POST", "/_matrix/client/v3/account/deactivate",
                          {"auth": {"type": "m.login.password", "password": "correct horse",
                                    "identifier": {"type": "m.id.user", "user": bob.user_id}}})
        await sync_until(alice, alice_token, has_member(room_id, bob.user_id or "", "leave"), within=15.0)


async def _join_and_chat(alice: MatrixHttp, bob: MatrixHttp, resident: str) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await bob.request("POST", f"/_matrix/client/v3/join/{q(room_id)}", {}, params={"via": resident})
    _, alice_token = await sync_until(alice, None, has_member(room_id, bob.user_id or "", "join"), within=20.0)
    await bob.send(room_id, "over the wire")
    await sync_until(alice, alice_token, has_message(room_id, "over the wire"), within=20.0)


async def test_join_and_chat_over_tls(tmp_path: Path) -> None:
    from tests.federation.certificates import make_test_ca

    ca = make_test_ca(tmp_path / "ca")
    async with federated_homeservers(tmp_path, 2, tls=ca) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        await _join_and_chat(alice, bob, hs1.server_name)


async def test_join_and_chat_with_a_parleyd_process(tmp_path: Path) -> None:
    from aiohttp import ClientSession

    from tests.federation.harness import FederatedParleyd

    parleyd = FederatedParleyd(tmp_path / "p1")
    await parleyd.init()
    await parleyd.start()
    try:
        async with federated_homeservers(tmp_path, 1) as (hs1,), ClientSession() as session:
            alice = await hs1.register("alice")
            bob = MatrixHttp(session, parleyd.base_url)
            await bob.register("bob")
            await _join_and_chat(alice, bob, hs1.server_name)
    finally:
        assert await parleyd.stop() == 0
