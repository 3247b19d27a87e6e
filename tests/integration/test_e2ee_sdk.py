"""End-to-end encryption between SDK clients on a real server.

spec: client-server-api/modules/end_to_end_encryption.md ("Messaging
Algorithms", "Megolm session rotation", "Tracking the device list for a user").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nacl.pwhash
import pytest

from clients.crypto import MEGOLM_ALGORITHM, KdfParameters, PickleStore, PickleStoreError
from clients.sdk import AsyncClient
from clients.sdk.backoff import Backoff
from clients.sdk.crypto_machine import UNDECRYPTABLE, OlmMachine
from tests.conftest import RunningHomeserver
from tests.integration.test_sdk_client import Syncing

WAIT = 15.0
FAST_KDF = KdfParameters(opslimit=nacl.pwhash.argon2id.OPSLIMIT_MIN, memlimit=nacl.pwhash.argon2id.MEMLIMIT_MIN)


def new_client(homeserver: RunningHomeserver) -> AsyncClient:
    return AsyncClient(homeserver.base_url, backoff=Backoff(initial=0.05, maximum=0.5))


async def encrypted_client(homeserver: RunningHomeserver, tmp_path: Path, name: str,
                           *, register: bool = True, otk_target: int = 10) -> tuple[AsyncClient, OlmMachine]:
    client = new_client(homeserver)
    if register:
        await client.register(name, f"pw-{name}")
    else:
        await client.login(name, f"pw-{name}")
    store = PickleStore(tmp_path / f"{name}-{client.device_id}.crypto", "passphrase", FAST_KDF)
    machine = await OlmMachine.attach(client, store, otk_target=otk_target)
    return client, machine


def encryption_state(**settings: Any) -> dict[str, Any]:
    return {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM_ALGORITHM, **settings}}


async def create_encrypted_room(owner: AsyncClient, invite: list[str], **settings: Any) -> str:
    return await owner.create_room(invite=invite, extra={"initial_state": [encryption_state(**settings)]})


def bodies(client: AsyncClient, room_id: str) -> list[str]:
    assert client.state is not None
    room = client.state.rooms.get(room_id)
    if room is None:
        return []
    return [item.body for item in room.timeline.items if item.type == "m.room.message"]


async def wait_for_body(client: AsyncClient, room_id: str, body: str) -> None:
    await client.wait_until(lambda: body in bodies(client, room_id), WAIT)


@pytest.fixture
async def pair(homeserver: RunningHomeserver, tmp_path: Path) -> AsyncIterator[tuple[AsyncClient, AsyncClient, str]]:
    alice, _ = await encrypted_client(homeserver, tmp_path, "alice")
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    room_id = await create_encrypted_room(alice, [bob.require_user_id()])
    await bob.join(room_id)
    yield alice, bob, room_id
    await alice.close()
    await bob.close()


async def test_two_clients_decrypt_each_others_messages(pair: tuple[AsyncClient, AsyncClient, str]) -> None:
    alice, bob, room_id = pair
    async with Syncing(alice), Syncing(bob):
        await alice.send_text(room_id, "hello bob, secretly")
        await wait_for_body(bob, room_id, "hello bob, secretly")
        await bob.send_text(room_id, "hello alice, secretly")
        await wait_for_body(alice, room_id, "hello alice, secretly")
        # Each sees its own message too (its own inbound copy of the session).
        await wait_for_body(alice, room_id, "hello bob, secretly")
    raw = await bob.room_messages(room_id, limit=10)
    assert {e["type"] for e in raw.chunk if "state_key" not in e} == {"m.room.encrypted"}


async def test_event_that_arrives_before_its_key_is_decrypted_when_the_key_arrives(
    pair: tuple[AsyncClient, AsyncClient, str],
) -> None:
    alice, bob, room_id = pair
    await bob.sync_once()
    machine = bob.crypto
    assert isinstance(machine, OlmMachine)
    late: list[dict[str, Any]] = []
    machine.late_decryption_handlers.append(lambda _room, event: late.append(event))
    event_id = await alice.send_text(room_id, "key comes later")
    page = await bob.room_messages(room_id, limit=5)
    encrypted = next(e for e in page.chunk if e["event_id"] == event_id)
    shown = await machine.decrypt(room_id, encrypted)  # before the to-device m.room_key is synced
    assert UNDECRYPTABLE in shown and shown["type"] == "m.room.encrypted"
    await bob.sync_once()
    assert [e["content"]["body"] for e in late] == ["key comes later"]


async def test_new_device_gets_keys_for_messages_after_it_appeared(
    homeserver: RunningHomeserver, tmp_path: Path, pair: tuple[AsyncClient, AsyncClient, str],
) -> None:
    alice, bob, room_id = pair
    async with Syncing(alice), Syncing(bob):
        await alice.send_text(room_id, "before the new device")
        await wait_for_body(bob, room_id, "before the new device")
    bob2, _ = await encrypted_client(homeserver, tmp_path, "bob", register=False)
    try:
        await alice.sync_once()  # device_lists.changed names bob
        async with Syncing(bob2):
            await alice.send_text(room_id, "after the new device")
            await wait_for_body(bob2, room_id, "after the new device")
        assert "before the new device" not in bodies(bob2, room_id)
    finally:
        await bob2.close()


async def test_session_rotates_after_rotation_period_msgs(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    alice, machine = await encrypted_client(homeserver, tmp_path, "alice")
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    try:
        room_id = await create_encrypted_room(alice, [bob.require_user_id()], rotation_period_msgs=2)
        await bob.join(room_id)
        await alice.sync_once()
        sessions = []
        for n in range(3):
            await alice.send_text(room_id, f"message {n}")
            sessions.append(machine.state.outbound_group_sessions[room_id].session_id)
        assert sessions[0] == sessions[1] != sessions[2]
        async with Syncing(bob):
            await wait_for_body(bob, room_id, "message 2")
        assert bodies(bob, room_id)[-3:] == ["message 0", "message 1", "message 2"]
    finally:
        await alice.close()
        await bob.close()


async def test_session_rotates_when_a_member_leaves(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    alice, machine = await encrypted_client(homeserver, tmp_path, "alice")
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    carol, _ = await encrypted_client(homeserver, tmp_path, "carol")
    try:
        room_id = await create_encrypted_room(alice, [bob.require_user_id(), carol.require_user_id()])
        await bob.join(room_id)
        await carol.join(room_id)
        await alice.send_text(room_id, "all three")
        first = machine.state.outbound_group_sessions[room_id].session_id
        await carol.leave(room_id)
        await alice.sync_once()
        await alice.send_text(room_id, "carol is gone")
        assert machine.state.outbound_group_sessions[room_id].session_id != first
        async with Syncing(bob):
            await wait_for_body(bob, room_id, "carol is gone")
        await carol.sync_once()
        assert "carol is gone" not in bodies(carol, room_id)
    finally:
        for client in (alice, bob, carol):
            await client.close()


async def test_store_keeps_sessions_across_restarts_and_needs_the_passphrase(
    homeserver: RunningHomeserver, tmp_path: Path, pair: tuple[AsyncClient, AsyncClient, str],
) -> None:
    alice, bob, room_id = pair
    bob_machine = bob.crypto
    assert isinstance(bob_machine, OlmMachine) and bob_machine.store is not None
    event_id = await alice.send_text(room_id, "remember me")
    await bob.sync_once()
    page = await bob.room_messages(room_id, limit=5)
    encrypted = next(e for e in page.chunk if e["event_id"] == event_id)
    path = bob_machine.store.path
    assert b"remember me" not in path.read_bytes()
    with pytest.raises(PickleStoreError):
        PickleStore(path, "wrong passphrase").load()
    restarted = new_client(homeserver)
    try:
        assert bob.device_id and bob.access_token
        restarted.restore_session(bob.require_user_id(), bob.device_id, bob.access_token)
        machine = await OlmMachine.attach(restarted, PickleStore(path, "passphrase"), otk_target=10)
        assert machine.ed25519_fingerprint == bob_machine.ed25519_fingerprint
        # The published fallback key is kept, not replaced on every start.
        fallback_id = machine.state.account.to_dict()["fallback_key"]["key_id"]
        assert fallback_id == bob_machine.state.account.to_dict()["fallback_key"]["key_id"]
        shown = await machine.decrypt(room_id, encrypted)
        assert shown["content"]["body"] == "remember me"
    finally:
        await restarted.close()


async def test_one_time_keys_are_replenished_when_the_count_drops(
    homeserver: RunningHomeserver, tmp_path: Path,
) -> None:
    alice, _ = await encrypted_client(homeserver, tmp_path, "alice", otk_target=6)
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    try:
        alice_id, alice_device = alice.require_user_id(), alice.device_id or ""
        first = await alice.sync_once()
        assert first["device_one_time_keys_count"]["signed_curve25519"] == 6
        await asyncio.gather(*(
            bob.request(claim_request(alice_id, alice_device)) for _ in range(5)
        ))
        low = await alice.sync_once()  # sees 1 < 6 // 2 and uploads more
        assert low["device_one_time_keys_count"]["signed_curve25519"] == 1
        again = await alice.sync_once(since=low["next_batch"])
        assert again["device_one_time_keys_count"]["signed_curve25519"] == 6
    finally:
        await alice.close()
        await bob.close()


def claim_request(user_id: str, device_id: str) -> Any:
    from clients.sdk import e2ee_api

    return e2ee_api.keys_claim({user_id: {device_id: "signed_curve25519"}})


async def test_room_key_is_redelivered_until_the_device_syncs_past_it(
    pair: tuple[AsyncClient, AsyncClient, str],
) -> None:
    """spec: send_to_device.md — the server keeps a to-device message until the device
    acknowledges it with a later since token; a client that crashed after receiving the
    room key but before saving its token gets the key again."""
    alice, bob, room_id = pair
    before = (await bob.sync_once())["next_batch"]
    await alice.send_text(room_id, "key must not be lost")
    first = await bob.sync_once(since=before)
    assert [e["type"] for e in first.get("to_device", {}).get("events", [])] == ["m.room.encrypted"]
    replay = await bob.sync_once(since=before)  # as if first's next_batch was never saved
    assert replay.get("to_device", {}).get("events") == first["to_device"]["events"]
    acknowledged = await bob.sync_once(since=first["next_batch"])
    after_ack = await bob.sync_once(since=before)
    assert "to_device" not in acknowledged and "to_device" not in after_ack


def test_queried_device_keys_must_be_self_signed_and_name_their_device() -> None:
    from clients.crypto import OlmAccount
    from clients.sdk.device_tracker import parse_device_keys

    account = OlmAccount.create()
    good = account.device_keys("@bob:hs", "DEV")
    assert parse_device_keys("@bob:hs", "DEV", good) is not None
    assert parse_device_keys("@mallory:hs", "DEV", good) is None  # listed under another user
    assert parse_device_keys("@bob:hs", "OTHER", good) is None  # listed under another device
    tampered = {**good, "keys": {**good["keys"], "curve25519:DEV": OlmAccount.create().curve25519_key}}
    assert parse_device_keys("@bob:hs", "DEV", tampered) is None
    assert parse_device_keys("@bob:hs", "DEV", {k: v for k, v in good.items() if k != "signatures"}) is None
    assert parse_device_keys("@bob:hs", "DEV", "not an object") is None


async def test_session_rotates_after_rotation_period_ms(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    alice, machine = await encrypted_client(homeserver, tmp_path, "alice")
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    now = [1_000_000]
    machine.clock_ms = lambda: now[0]
    try:
        room_id = await create_encrypted_room(alice, [bob.require_user_id()], rotation_period_ms=3_600_000)
        await bob.join(room_id)
        await alice.send_text(room_id, "hour one")
        first = machine.state.outbound_group_sessions[room_id].session_id
        now[0] += 3_599_999
        await alice.send_text(room_id, "still hour one")
        assert machine.state.outbound_group_sessions[room_id].session_id == first
        now[0] += 1
        await alice.send_text(room_id, "hour two")
        assert machine.state.outbound_group_sessions[room_id].session_id != first
        async with Syncing(bob):
            await wait_for_body(bob, room_id, "hour two")
        assert bodies(bob, room_id)[-3:] == ["hour one", "still hour one", "hour two"]
    finally:
        await alice.close()
        await bob.close()


async def test_event_claiming_another_sender_than_the_session_owner_is_not_decrypted(
    pair: tuple[AsyncClient, AsyncClient, str],
) -> None:
    alice, bob, room_id = pair
    await bob.send_text(room_id, "bob learns alice's devices")  # bob now tracks alice's device keys
    event_id = await alice.send_text(room_id, "from alice")
    await bob.sync_once()
    machine = bob.crypto
    assert isinstance(machine, OlmMachine)
    page = await bob.room_messages(room_id, limit=5)
    encrypted = next(e for e in page.chunk if e["event_id"] == event_id)
    genuine = await machine.decrypt(room_id, encrypted)
    assert genuine["content"]["body"] == "from alice"
    assert genuine["parley_decrypted"]["sender_device"] == alice.device_id
    forged = await machine.decrypt(room_id, {**encrypted, "sender": "@carol:localhost"})
    assert UNDECRYPTABLE in forged and "belongs to" in forged[UNDECRYPTABLE]


async def test_used_fallback_key_is_replaced(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    alice, _ = await encrypted_client(homeserver, tmp_path, "alice", otk_target=2)
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    try:
        alice_id, alice_device = alice.require_user_id(), alice.device_id or ""
        first = await alice.sync_once()
        assert first["device_unused_fallback_key_types"] == ["signed_curve25519"]
        claimed = [await bob.request(claim_request(alice_id, alice_device)) for _ in range(3)]
        fallback = next(iter(claimed[-1]["one_time_keys"][alice_id][alice_device].values()))
        assert fallback.get("fallback") is True
        used = await alice.sync_once()  # reports the fallback key used: a new one is uploaded
        assert used["device_unused_fallback_key_types"] == []
        again = await alice.sync_once(since=used["next_batch"])
        assert again["device_unused_fallback_key_types"] == ["signed_curve25519"]
        assert again["device_one_time_keys_count"]["signed_curve25519"] == 2  # topped up as well
        later = [await bob.request(claim_request(alice_id, alice_device)) for _ in range(3)]
        newer = next(iter(later[-1]["one_time_keys"][alice_id][alice_device].values()))
        assert newer.get("fallback") is True and newer["key"] != fallback["key"]
    finally:
        await alice.close()
        await bob.close()
