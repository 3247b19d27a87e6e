"""Encrypted rooms: the server stores m.room.encrypted events opaquely and never
sees the plaintext. The SQLite file and its WAL are searched byte for byte."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.conftest import RunningHomeserver
from tests.http_client import q
from tests.integration.test_e2ee_sdk import create_encrypted_room, encrypted_client, wait_for_body
from tests.integration.test_sdk_client import Syncing


def database_bytes(homeserver: RunningHomeserver) -> bytes:
    path = Path(homeserver.hs.db.path)
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def test_database_holds_only_ciphertext(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    alice, alice_machine = await encrypted_client(homeserver, tmp_path, "alice")
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    try:
        room_id = await create_encrypted_room(alice, [bob.require_user_id()])
        await bob.join(room_id)
        marker = f"plaintext-marker-{secrets.token_hex(8)}"
        await alice.send_text(room_id, marker)
        async with Syncing(bob):
            await wait_for_body(bob, room_id, marker)  # it really was delivered and decrypted
        page = await bob.room_messages(room_id, limit=5)
        stored = [e for e in page.chunk if e["type"] == "m.room.encrypted"]
        assert stored and set(stored[0]["content"]) >= {"algorithm", "ciphertext", "session_id", "sender_key"}
        data = database_bytes(homeserver)
        assert marker.encode() not in data
        # The search can find things: the Megolm ciphertext and the event type are there.
        assert stored[0]["content"]["ciphertext"][:40].encode() in data
        # The room key never reaches the server in the clear either.
        session = alice_machine.state.outbound_group_sessions[room_id]
        assert session.session_id.encode() in data
        assert session.session_key.encode()[:40] not in data
    finally:
        await alice.close()
        await bob.close()


async def test_encrypted_event_is_stored_as_sent(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    content = {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEpAB", "session_id": "sess",
               "sender_key": "key", "device_id": "DEV"}
    event_id = await alice.send(room_id, content, event_type="m.room.encrypted")
    fetched = await alice.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/event/{q(event_id)}")
    assert fetched["type"] == "m.room.encrypted" and fetched["content"] == content
