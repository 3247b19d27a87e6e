"""Membership across servers: joins by room ID and alias, invites, leaves, kicks, bans, knocks.

spec: server-server-api.md, "Joining Rooms", "Inviting to a room", "Leaving Rooms
(Rejecting Invites)", "Knocking upon a room". Two in-process Parley servers on loopback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.federation.harness import FederatedHomeserver, federated_homeservers
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until

Response = dict[str, Any]


def joined(response: Response, room_id: str) -> bool:
    return room_id in response.get("rooms", {}).get("join", {})


def invited(response: Response, room_id: str) -> bool:
    return room_id in response.get("rooms", {}).get("invite", {})


def left(response: Response, room_id: str) -> bool:
    return room_id in response.get("rooms", {}).get("leave", {})


async def member_state(client: MatrixHttp, room_id: str, user_id: str) -> str | None:
    status, body = await client.status_of(
        "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.member/{q(user_id)}"
    )
    return body.get("membership") if status == 200 else None


async def wait_for_membership(client: MatrixHttp, room_id: str, user_id: str, membership: str,
                              since: str | None = None) -> str:
    """Long-poll ``client``'s sync until ``user_id``'s membership in the room is ``membership``."""

    def found(response: Response) -> bool:
        for section in ("join", "leave"):
            room = response.get("rooms", {}).get(section, {}).get(room_id, {})
            for ev in room.get("timeline", {}).get("events", []) + room.get("state", {}).get("events", []):
                if ev.get("type") == "m.room.member" and ev.get("state_key") == user_id \
                        and ev["content"].get("membership") == membership:
                    return True
        return False

    _, token = await sync_until(client, since, found, within=15.0)
    return token


async def join_via(client: MatrixHttp, room: str, server: str, expect: int = 200) -> Any:
    return await client.request(
        "POST", f"/_matrix/client/v3/join/{q(room)}", {}, params={"via": server}, expect=expect
    )


async def public_room(hs1: FederatedHomeserver, alice: MatrixHttp, **extra: Any) -> str:
    return await alice.create_room(preset="public_chat", name="Federated", **extra)


async def test_user_joins_a_remote_room_by_id(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await public_room(hs1, alice)

        answer = await join_via(bob, room_id, hs1.server_name)
        assert answer["room_id"] == room_id

        response, _ = await sync_until(bob, None, lambda r: joined(r, room_id), within=15.0)
        state = response["rooms"]["join"][room_id]
        names = [e for e in state["state"]["events"] + state["timeline"]["events"] if e["type"] == "m.room.name"]
        assert names and names[0]["content"]["name"] == "Federated"
        await wait_for_membership(alice, room_id, bob.user_id or "", "join")
        assert await member_state(alice, room_id, bob.user_id or "") == "join"


async def test_user_joins_a_remote_room_by_alias(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await public_room(hs1, alice, room_alias_name="lobby")
        alias = f"#lobby:{hs1.server_name}"

        answer = await bob.request("POST", f"/_matrix/client/v3/join/{q(alias)}", {})
        assert answer["room_id"] == room_id
        await sync_until(bob, None, lambda r: joined(r, room_id), within=15.0)
        assert await member_state(bob, room_id, bob.user_id or "") == "join"


async def test_joining_an_unknown_remote_room_is_not_found(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        bob = await hs2.register("bob")
        await hs1.register("alice")
        body = await join_via(bob, "!doesnotexist", hs1.server_name, expect=404)
        assert body["errcode"] == "M_NOT_FOUND"


async def test_invite_across_servers_shows_in_sync_then_join(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat", name="Secret")
        await alice.invite(room_id, bob.user_id or "")

        response, _ = await sync_until(bob, None, lambda r: invited(r, room_id), within=15.0)
        invite_state = response["rooms"]["invite"][room_id]["invite_state"]["events"]
        types = {e["type"] for e in invite_state}
        assert {"m.room.create", "m.room.name", "m.room.member"} <= types
        own = [e for e in invite_state if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
        assert own and own[0]["content"]["membership"] == "invite"
        assert own[0]["sender"] == alice.user_id
        assert await member_state(alice, room_id, bob.user_id or "") == "invite"

        # Joining an invite-only room through the inviter's server (no via needed).
        await bob.join(room_id)
        await sync_until(bob, None, lambda r: joined(r, room_id), within=15.0)
        await wait_for_membership(alice, room_id, bob.user_id or "", "join")


async def test_rejecting_a_remote_invite_uses_make_leave(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat")
        await alice.invite(room_id, bob.user_id or "")
        _, token = await sync_until(bob, None, lambda r: invited(r, room_id), within=15.0)

        await bob.leave(room_id)
        await sync_until(bob, token, lambda r: left(r, room_id), within=15.0)
        await wait_for_membership(alice, room_id, bob.user_id or "", "leave")
        response = await bob.sync()
        assert not invited(response, room_id)


async def test_remote_user_leaves(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await public_room(hs1, alice)
        await join_via(bob, room_id, hs1.server_name)
        token = await wait_for_membership(alice, room_id, bob.user_id or "", "join")

        await bob.leave(room_id)
        await wait_for_membership(alice, room_id, bob.user_id or "", "leave", since=token)


async def test_kick_of_a_remote_user_reaches_their_server(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await public_room(hs1, alice)
        await join_via(bob, room_id, hs1.server_name)
        _, token = await sync_until(bob, None, lambda r: joined(r, room_id), within=15.0)
        await wait_for_membership(alice, room_id, bob.user_id or "", "join")

        await alice.request("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/kick",
                            {"user_id": bob.user_id, "reason": "out"})
        await wait_for_membership(bob, room_id, bob.user_id or "", "leave", since=token)


async def test_banned_remote_user_cannot_rejoin(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await public_room(hs1, alice)
        await join_via(bob, room_id, hs1.server_name)
        _, token = await sync_until(bob, None, lambda r: joined(r, room_id), within=15.0)
        await wait_for_membership(alice, room_id, bob.user_id or "", "join")

        await alice.request("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/ban", {"user_id": bob.user_id})
        await wait_for_membership(bob, room_id, bob.user_id or "", "ban", since=token)
        body = await join_via(bob, room_id, hs1.server_name, expect=403)
        assert body["errcode"] == "M_FORBIDDEN"
        assert await member_state(alice, room_id, bob.user_id or "") == "ban"


async def test_knock_then_invite_accepts_the_knock(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat", name="Knockable")
        await alice.send_state(room_id, "m.room.join_rules", {"join_rule": "knock"})

        await bob.request("POST", f"/_matrix/client/v3/knock/{q(room_id)}", {"reason": "let me in"},
                          params={"via": hs1.server_name})
        response, token = await sync_until(
            bob, None, lambda r: room_id in r.get("rooms", {}).get("knock", {}), within=15.0
        )
        knock_state = response["rooms"]["knock"][room_id]["knock_state"]["events"]
        assert any(e["type"] == "m.room.name" and e["content"]["name"] == "Knockable" for e in knock_state)
        await wait_for_membership(alice, room_id, bob.user_id or "", "knock")

        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, token, lambda r: invited(r, room_id), within=15.0)
        await bob.join(room_id)
        await wait_for_membership(alice, room_id, bob.user_id or "", "join")



async def test_remote_user_can_leave_and_rejoin(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await public_room(hs1, alice)
        await join_via(bob, room_id, hs1.server_name)
        token = await wait_for_membership(alice, room_id, bob.user_id or "", "join")
        await bob.leave(room_id)
        token = await wait_for_membership(alice, room_id, bob.user_id or "", "leave", since=token)

        # hs2 holds a stale copy of the room now: the rejoin must go through hs1 again.
        await join_via(bob, room_id, hs1.server_name)
        await wait_for_membership(alice, room_id, bob.user_id or "", "join", since=token)
        assert await member_state(bob, room_id, bob.user_id or "") == "join"


async def test_invite_to_a_server_already_in_the_room(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        dave = await hs2.register("dave")
        room_id = await alice.create_room(preset="private_chat")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: invited(r, room_id), within=15.0)
        await bob.join(room_id)
        await wait_for_membership(alice, room_id, bob.user_id or "", "join")

        await alice.invite(room_id, dave.user_id or "")
        response, _ = await sync_until(dave, None, lambda r: invited(r, room_id), within=15.0)
        assert any(e["type"] == "m.room.member" and e["state_key"] == dave.user_id
                   for e in response["rooms"]["invite"][room_id]["invite_state"]["events"])
        await dave.join(room_id)
        await wait_for_membership(alice, room_id, dave.user_id or "", "join")


async def test_restricted_room_join_is_authorised_by_a_resident_user(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        space_id = await public_room(hs1, alice)
        room_id = await alice.create_room(
            preset="private_chat",
            initial_state=[{"type": "m.room.join_rules", "content": {
                "join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space_id}],
            }}],
        )
        body = await join_via(bob, room_id, hs1.server_name, expect=403)
        assert body["errcode"] == "M_FORBIDDEN"

        await join_via(bob, space_id, hs1.server_name)
        await wait_for_membership(alice, space_id, bob.user_id or "", "join")
        await join_via(bob, room_id, hs1.server_name)
        await wait_for_membership(alice, room_id, bob.user_id or "", "join")
        member = await alice.request(
            "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.member/{q(bob.user_id or '')}"
        )
        assert member["join_authorised_via_users_server"] == alice.user_id



async def test_server_denied_by_the_room_acl_cannot_join(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await public_room(hs1, alice)
        # Both test servers are 127.0.0.1: ACLs match the host without the port.
        await alice.send_state(room_id, "m.room.server_acl", {"allow": ["*"], "deny": ["127.0.0.1"]})
        body = await join_via(bob, room_id, hs1.server_name, expect=403)
        assert body["errcode"] == "M_FORBIDDEN"
        assert await member_state(alice, room_id, bob.user_id or "") is None


async def test_invite_from_an_ignored_remote_user_is_not_synced(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        await bob.request(
            "PUT", f"/_matrix/client/v3/user/{q(bob.user_id or '')}/account_data/m.ignored_user_list",
            {"ignored_users": {alice.user_id: {}}},
        )
        room_id = await alice.create_room(preset="private_chat")
        await alice.invite(room_id, bob.user_id or "")  # returns once hs2 has recorded the invite
        assert await member_state(alice, room_id, bob.user_id or "") == "invite"
        assert not invited(await bob.sync(), room_id)


async def test_revoked_remote_invite_ends_the_out_of_band_invite(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat")
        await alice.invite(room_id, bob.user_id or "")
        _, token = await sync_until(bob, None, lambda r: invited(r, room_id), within=15.0)
        await alice.request("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/kick", {"user_id": bob.user_id})

        from homeserver.services.federation.resident_membership import federation_pdu

        room = await hs1.hs.events.get_room(room_id)
        assert room is not None
        revoke = federation_pdu(room.state[("m.room.member", bob.user_id or "")])
        # A well-signed leave that does not build on the invite is not taken.
        from federation.rooms.builder import build_event

        unrelated = build_event(
            room_version=room.version, room_id=room_id, sender=alice.user_id or "", event_type="m.room.member",
            content={"membership": "leave"}, state_key=bob.user_id, prev_event_ids=[], auth_event_ids=[],
            depth=99, origin_server_ts=revoke["origin_server_ts"], server_name=hs1.server_name,
            signing_key=hs1.hs.signing_key,
        )
        assert not await hs2.hs.out_of_band.on_pdu_for_unknown_room(hs1.server_name, federation_pdu(unrelated))
        # The revocation itself (a /send to the invitee's server hands it over the same way).
        await hs2.hs.out_of_band.on_pdu_for_unknown_room(hs1.server_name, revoke)
        response, _ = await sync_until(bob, token, lambda r: left(r, room_id), within=15.0)
        assert response["rooms"]["leave"][room_id]["timeline"]["events"][0]["sender"] == alice.user_id
        assert not invited(await bob.sync(), room_id)


async def test_kicking_an_invited_remote_user_ends_their_invite_over_send(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat")
        await alice.invite(room_id, bob.user_id or "")
        _, token = await sync_until(bob, None, lambda r: invited(r, room_id), within=15.0)
        # hs2 holds no state of the room: the kick arrives over /send for an unknown room.
        await alice.request("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/kick", {"user_id": bob.user_id})
        await sync_until(bob, token, lambda r: left(r, room_id), within=15.0)
        assert not invited(await bob.sync(), room_id)


async def test_remote_invite_survives_a_restart_and_can_be_accepted(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat")
        await alice.invite(room_id, bob.user_id or "")
        await hs2.restart()

        response, _ = await sync_until(bob, None, lambda r: invited(r, room_id), within=15.0)
        assert any(e["state_key"] == bob.user_id for e in response["rooms"]["invite"][room_id]["invite_state"]["events"])
        await bob.join(room_id)  # through the inviter's server, remembered with the invite
        await wait_for_membership(alice, room_id, bob.user_id or "", "join")


async def test_rejected_remote_invite_can_be_forgotten(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat")
        await alice.invite(room_id, bob.user_id or "")
        forget = f"/_matrix/client/v3/rooms/{q(room_id)}/forget"
        status, body = await bob.status_of("POST", forget, body={})
        assert (status, body["errcode"]) == (400, "M_UNKNOWN")  # still invited
        await bob.leave(room_id)
        await bob.request("POST", forget, {})
        response = await bob.sync(filter='{"room":{"include_leave":true}}')
        assert room_id not in response.get("rooms", {}).get("leave", {})
        assert not invited(response, room_id)
