"""Signatures on received events (spec: server-server-api.md, "Validating hashes and
signatures on received events"; rooms/fragments/v5-signing-requirements.md)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from federation.crypto.signing import SigningKey, generate_signing_key
from federation.keys import MAX_KEY_VALIDITY_MS, SignatureError, VerifyKey, required_event_signers
from federation.rooms.builder import add_server_signature, build_event
from federation.rooms.events import Event
from federation.rooms.versions import ROOM_VERSION_12
from tests.federation.harness import FederatedHomeserver, federated_homeservers


def _event(server: FederatedHomeserver, content: dict[str, object], *, key: SigningKey | None = None,
           event_type: str = "m.room.message", state_key: str | None = None, ts: int | None = None) -> Event:
    return build_event(
        room_version=ROOM_VERSION_12,
        room_id="!room",
        sender=f"@bob:{server.server_name}",
        event_type=event_type,
        state_key=state_key,
        content=content,
        prev_event_ids=["$prev"],
        auth_event_ids=["$auth"],
        depth=3,
        origin_server_ts=server.hs.clock.time_ms() if ts is None else ts,
        server_name=server.server_name,
        signing_key=key or server.hs.signing_key,
    )


async def test_event_signed_by_its_senders_server_verifies(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        event = _event(hs2, {"msgtype": "m.text", "body": "hi"})
        await hs1.hs.keyring.verify_event_signatures(event)


async def test_redacted_copy_still_verifies(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        event = _event(hs2, {"msgtype": "m.text", "body": "hi"})
        pdu = copy.deepcopy(event.pdu)
        pdu["content"] = {}
        await hs1.hs.keyring.verify_event_signatures(Event(event.event_id, pdu, ROOM_VERSION_12))


async def test_tampered_signature_is_rejected(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        event = _event(hs2, {"msgtype": "m.text", "body": "hi"})
        pdu = copy.deepcopy(event.pdu)
        pdu["depth"] = 4  # covered by the signature (not by the content hash alone)
        with pytest.raises(SignatureError):
            await hs1.hs.keyring.verify_event_signatures(Event(event.event_id, pdu, ROOM_VERSION_12))


async def test_event_signed_by_an_unpublished_key_is_rejected(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        event = _event(hs2, {"body": "x"}, key=generate_signing_key("unpublished"))
        with pytest.raises(SignatureError, match="unpublished"):
            await hs1.hs.keyring.verify_event_signatures(event)


async def test_event_without_its_senders_signature_is_rejected(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        event = _event(hs2, {"body": "x"})
        pdu = copy.deepcopy(event.pdu)
        pdu["signatures"] = {hs1.server_name: pdu["signatures"][hs2.server_name]}
        with pytest.raises(SignatureError, match="not signed by"):
            await hs1.hs.keyring.verify_event_signatures(Event(event.event_id, pdu, ROOM_VERSION_12))


async def test_restricted_join_needs_the_authorising_servers_signature(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as (hs1, hs2, hs3):
        content = {"membership": "join", "join_authorised_via_users_server": f"@admin:{hs3.server_name}"}
        join = _event(hs2, content, event_type="m.room.member", state_key=f"@bob:{hs2.server_name}")
        assert required_event_signers(join) == {hs2.server_name, hs3.server_name}
        with pytest.raises(SignatureError, match=f"not signed by {hs3.server_name}"):
            await hs1.hs.keyring.verify_event_signatures(join)
        countersigned = add_server_signature(join.pdu, ROOM_VERSION_12, hs3.server_name, hs3.hs.signing_key)
        await hs1.hs.keyring.verify_event_signatures(Event(join.event_id, countersigned, ROOM_VERSION_12))


async def test_old_key_verifies_events_from_before_it_expired_only(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        old_key = hs2.hs.signing_key
        before = _event(hs2, {"body": "before rotation"})
        await hs2.stop()
        from federation.key_files import write_signing_key_file

        write_signing_key_file(hs2.config.resolve(hs2.config.signing_key_path), generate_signing_key("new"))
        await hs2.start()
        await hs1.hs.keyring.verify_event_signatures(before)
        after = _event(hs2, {"body": "signed with the old key later"}, key=old_key,
                       ts=hs2.hs.clock.time_ms() + 60_000)
        with pytest.raises(SignatureError, match="valid at"):
            await hs1.hs.keyring.verify_event_signatures(after)


def test_key_validity_is_capped_at_seven_days_after_fetching() -> None:
    fetched = 1_000_000
    far = VerifyKey("s", "ed25519:a", b"k" * 32, fetched + 365 * 24 * 3600 * 1000, None, fetched)
    assert far.usable_until() == fetched + MAX_KEY_VALIDITY_MS
    near = VerifyKey("s", "ed25519:a", b"k" * 32, fetched + 1000, None, fetched)
    assert near.usable_until() == fetched + 1000
    old = VerifyKey("s", "ed25519:a", b"k" * 32, fetched + 1000, fetched - 5, fetched)
    assert old.usable_until() == fetched - 5
