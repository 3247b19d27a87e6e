"""Membership across servers: joins by room ID and alias, invites, leaves, kicks, bans, knocks.

spec: server-server-api.md, "Joining Rooms", "Inviting to a room", "Leaving Rooms
(Rejecting Invites)", "Knocking upon a room". Two in-process Parley servers on loopback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.federation.harness import FederatedHomeserver, federated_homeservers
from tests.http_client import MatrixError, MatrixHttp, q
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


@pytest.mark.parametrize("versions", [["1", "2"], []])
async def test_make_join_refuses_servers_without_the_room_version(tmp_path: Path, versions: list[str]) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        room_id = await public_room(hs1, alice)
        from federation.transport.errors import FederationHttpError

        path = f"/_matrix/federation/v1/make_join/{q(room_id)}/{q('@bob:' + hs2.server_name)}"
        with pytest.raises(FederationHttpError) as caught:
            await hs2.hs.federation_client.get_json(hs1.server_name, path, {"ver": versions} if versions else None)
        assert caught.value.status == 400
        assert caught.value.errcode == "M_INCOMPATIBLE_ROOM_VERSION"
        assert caught.value.body["room_version"] == "12"


async def test_make_join_template_has_no_hashes_or_signatures(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        room_id = await public_room(hs1, alice)
        user = "@bob:" + hs2.server_name
        answer = await hs2.hs.federation_client.get_json(
            hs1.server_name, f"/_matrix/federation/v1/make_join/{q(room_id)}/{q(user)}", {"ver": ["11", "12"]}
        )
        assert answer["room_version"] == "12"
        template = answer["event"]
        assert template["type"] == "m.room.member" and template["state_key"] == user
        assert template["content"]["membership"] == "join"
        assert template["prev_events"] and template["auth_events"] and template["depth"] > 1
        assert "hashes" not in template and "signatures" not in template


async def test_make_join_for_a_user_of_another_server_is_forbidden(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        room_id = await public_room(hs1, alice)
        from federation.transport.errors import FederationHttpError

        path = f"/_matrix/federation/v1/make_join/{q(room_id)}/{q('@mallory:evil.example')}"
        with pytest.raises(FederationHttpError) as caught:
            await hs2.hs.federation_client.get_json(hs1.server_name, path, {"ver": ["12"]})
        assert caught.value.status == 403


async def test_send_join_with_a_wrong_event_id_is_rejected(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        room_id = await public_room(hs1, alice)
        user = "@bob:" + hs2.server_name
        client = hs2.hs.federation_client
        answer = await client.get_json(
            hs1.server_name, f"/_matrix/federation/v1/make_join/{q(room_id)}/{q(user)}", {"ver": ["12"]}
        )
        from federation.rooms.builder import hash_and_sign_pdu
        from federation.rooms.versions import ROOM_VERSION_12
        from federation.transport.errors import FederationHttpError

        event = hash_and_sign_pdu(answer["event"], ROOM_VERSION_12, hs2.server_name, hs2.hs.signing_key)
        path = f"/_matrix/federation/v2/send_join/{q(room_id)}/{q('$not-this-event')}"
        with pytest.raises(FederationHttpError) as caught:
            await client.put_json(hs1.server_name, path, event.pdu)
        assert caught.value.status == 400
        assert caught.value.errcode == "M_INVALID_PARAM"
        assert await member_state(alice, room_id, user) is None


async def test_unsigned_make_join_is_unauthorized(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        api = hs1.api()
        with pytest.raises(MatrixError) as caught:
            await api.request("GET", "/_matrix/federation/v1/make_join/%21r/%40u%3Ax")
        assert caught.value.status == 401


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


def _remote_room_invite(server_name: str, signing_key: Any, invitee: str) -> tuple[Any, Any]:
    """A v12 create event and an invite for ``invitee``, built and signed by ``server_name``."""
    from federation.rooms.builder import build_event
    from federation.rooms.versions import ROOM_VERSION_12

    creator = f"@carol:{server_name}"
    create = build_event(
        room_version=ROOM_VERSION_12, room_id=None, sender=creator, event_type="m.room.create",
        content={"room_version": "12"}, state_key="", prev_event_ids=[], auth_event_ids=[], depth=1,
        origin_server_ts=1_700_000_000_000, server_name=server_name, signing_key=signing_key,
    )
    invite = build_event(
        room_version=ROOM_VERSION_12, room_id=create.room_id, sender=creator, event_type="m.room.member",
        content={"membership": "invite"}, state_key=invitee, prev_event_ids=[create.event_id],
        auth_event_ids=[], depth=2, origin_server_ts=1_700_000_000_001, server_name=server_name,
        signing_key=signing_key,
    )
    return create, invite


@pytest.mark.parametrize(
    ("case", "status", "errcode"),
    [
        ("no_create_in_room_state", 400, "M_MISSING_PARAM"),
        ("unknown_room_version", 400, "M_INCOMPATIBLE_ROOM_VERSION"),
        ("wrong_event_id", 400, "M_INVALID_PARAM"),
        ("user_of_another_server", 403, "M_FORBIDDEN"),
        ("not_an_invite", 400, "M_INVALID_PARAM"),
    ],
)
async def test_bad_invites_are_refused(tmp_path: Path, case: str, status: int, errcode: str) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        from federation.transport.errors import FederationHttpError

        invitee = alice.user_id if case != "user_of_another_server" else f"@zed:{hs2.server_name}"
        create, invite = _remote_room_invite(hs2.server_name, hs2.hs.signing_key, invitee or "")
        body: dict[str, Any] = {
            "event": invite.pdu, "room_version": "12",
            "invite_room_state": [] if case == "no_create_in_room_state" else [create.pdu],
        }
        event_id = invite.event_id
        if case == "unknown_room_version":
            body["room_version"] = "999"
        if case == "wrong_event_id":
            event_id = create.event_id
        if case == "not_an_invite":
            body["event"] = {**invite.pdu, "content": {"membership": "join"}}
        path = f"/_matrix/federation/v2/invite/{q(invite.room_id)}/{q(event_id)}"
        with pytest.raises(FederationHttpError) as caught:
            await hs2.hs.federation_client.put_json(hs1.server_name, path, body)
        assert (caught.value.status, caught.value.errcode) == (status, errcode)
        response = await alice.sync()
        assert not invited(response, invite.room_id)


async def test_invite_from_a_remote_room_is_countersigned_and_synced(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        create, invite = _remote_room_invite(hs2.server_name, hs2.hs.signing_key, alice.user_id or "")
        path = f"/_matrix/federation/v2/invite/{q(invite.room_id)}/{q(invite.event_id)}"
        answer = await hs2.hs.federation_client.put_json(
            hs1.server_name, path, {"event": invite.pdu, "room_version": "12", "invite_room_state": [create.pdu]}
        )
        assert set(answer["event"]["signatures"]) == {hs1.server_name, hs2.server_name}
        response, _ = await sync_until(alice, None, lambda r: invited(r, invite.room_id), within=15.0)
        state = response["rooms"]["invite"][invite.room_id]["invite_state"]["events"]
        assert {(e["type"], e["state_key"]) for e in state} == {
            ("m.room.create", ""), ("m.room.member", alice.user_id),
        }


@pytest.mark.parametrize(
    "mangle",
    [
        lambda pdu: {**pdu, "depth": "deep"},
        lambda pdu: {**pdu, "prev_events": 5},
        lambda pdu: {**pdu, "content": {"membership": "leave"}},
        lambda pdu: {**pdu, "hashes": {"sha256": "AAAA"}},
    ],
)
async def test_malformed_send_join_is_a_client_error(tmp_path: Path, mangle: Any) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        room_id = await public_room(hs1, alice)
        user = "@bob:" + hs2.server_name
        client = hs2.hs.federation_client
        answer = await client.get_json(
            hs1.server_name, f"/_matrix/federation/v1/make_join/{q(room_id)}/{q(user)}", {"ver": ["12"]}
        )
        from federation.crypto.hashes import compute_event_id
        from federation.rooms.builder import hash_and_sign_pdu
        from federation.rooms.versions import ROOM_VERSION_12
        from federation.transport.errors import FederationHttpError

        event = hash_and_sign_pdu(answer["event"], ROOM_VERSION_12, hs2.server_name, hs2.hs.signing_key)
        pdu = mangle(event.pdu)
        try:
            event_id = compute_event_id(pdu, ROOM_VERSION_12)
        except Exception:
            event_id = event.event_id
        path = f"/_matrix/federation/v2/send_join/{q(room_id)}/{q(event_id)}"
        with pytest.raises(FederationHttpError) as caught:
            await client.put_json(hs1.server_name, path, pdu)
        assert 400 <= caught.value.status < 500
        assert await member_state(alice, room_id, user) is None


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

        from homeserver.services.resident_membership import federation_pdu

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
