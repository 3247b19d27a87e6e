"""The resident side of the membership handshakes, driven with signed requests from a peer.

spec: server-server-api.md, "Joining Rooms" (make_join, send_join v2), "Inviting to a
room" (invites-v2 validation), "Request Authentication".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.federation.harness import FederatedHomeserver, federated_homeservers
from tests.federation.test_membership import invited, member_state
from tests.http_client import MatrixError, MatrixHttp, q
from tests.integration.sync_waiting import sync_until


async def public_room(hs1: FederatedHomeserver, alice: MatrixHttp) -> str:
    return await alice.create_room(preset="public_chat", name="Federated")


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
        from federation.rooms.builder import hash_and_sign_pdu
        from federation.rooms.hashes import compute_event_id
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


async def test_repeated_send_join_is_answered_again(tmp_path: Path) -> None:
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

        event = hash_and_sign_pdu(answer["event"], ROOM_VERSION_12, hs2.server_name, hs2.hs.signing_key)
        path = f"/_matrix/federation/v2/send_join/{q(room_id)}/{q(event.event_id)}"
        first = await client.put_json(hs1.server_name, path, event.pdu)
        again = await client.put_json(hs1.server_name, path, event.pdu)  # e.g. a retry after a timeout
        assert again["event"]["signatures"] == first["event"]["signatures"]
        assert {e["type"] for e in again["state"]} >= {"m.room.create", "m.room.power_levels"}
        assert set(first["event"]["signatures"]) == {hs1.server_name, hs2.server_name}
        assert await member_state(alice, room_id, user) == "join"
