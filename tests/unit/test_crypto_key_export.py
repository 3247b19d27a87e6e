"""The room key export file (end_to_end_encryption.md, "Key exports")."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from clients.crypto import DecodeError, InboundGroupSession, MacMismatchError, OutboundGroupSession
from clients.crypto.encoding import decode_base64
from clients.crypto.key_export import (
    FOOTER,
    HEADER,
    decrypt_key_export,
    encrypt_key_export,
    exported_session_data,
)

ROUNDS = 1000  # keeps the tests fast; the default is 500,000


def sample_sessions() -> tuple[list[dict[str, object]], OutboundGroupSession]:
    outbound = OutboundGroupSession()
    inbound = InboundGroupSession(outbound.session_key)
    data = exported_session_data(inbound, "!room:hs", "SENDERcurve", "SENDERed")
    return [data], outbound


def body_of(armoured: str) -> bytes:
    lines = armoured.strip().splitlines()
    return decode_base64("".join(lines[1:-1]))


def test_export_round_trip_restores_a_working_session() -> None:
    sessions, outbound = sample_sessions()
    armoured = encrypt_key_export(sessions, "pass phrase", ROUNDS)
    restored = decrypt_key_export(armoured, "pass phrase")
    assert restored == sessions
    session = InboundGroupSession.import_session(restored[0]["session_key"])
    assert session.decrypt(outbound.encrypt("hello")) == (b"hello", 0)


def test_exported_session_data_has_the_spec_fields() -> None:
    (data,), outbound = sample_sessions()
    assert data == {
        "algorithm": "m.megolm.v1.aes-sha2",
        "room_id": "!room:hs",
        "sender_key": "SENDERcurve",
        "session_id": outbound.session_id,
        "session_key": data["session_key"],
        "sender_claimed_keys": {"ed25519": "SENDERed"},
        "forwarding_curve25519_key_chain": [],
    }


def test_export_file_layout() -> None:
    armoured = encrypt_key_export([], "pw", ROUNDS)
    lines = armoured.splitlines()
    assert lines[0] == HEADER and lines[-1] == FOOTER and armoured.endswith("\n")
    body = body_of(armoured)
    assert body[0] == 1
    assert int.from_bytes(body[33:37], "big") == ROUNDS
    iv = body[17:33]
    assert iv[8] & 0x80 == 0  # bit 63 of the IV is zero


def test_decrypts_a_file_built_step_by_step_from_the_spec() -> None:
    salt, iv, rounds = bytes(range(16)), bytes(range(16, 32)), 1234
    key = PBKDF2HMAC(algorithm=hashes.SHA512(), length=64, salt=salt, iterations=rounds).derive(b"secret")
    payload = json.dumps([{"room_id": "!r:hs", "session_id": "S"}]).encode()
    encryptor = Cipher(algorithms.AES(key[:32]), modes.CTR(iv)).encryptor()
    body = b"\x01" + salt + iv + rounds.to_bytes(4, "big") + encryptor.update(payload) + encryptor.finalize()
    mac = hmac.HMAC(key[32:], hashes.SHA256())
    mac.update(body)
    body += mac.finalize()
    armoured = f"{HEADER}\n{base64.b64encode(body).decode()}\n{FOOTER}\n"
    assert decrypt_key_export(armoured, "secret") == [{"room_id": "!r:hs", "session_id": "S"}]


def test_wrong_passphrase_fails_the_mac() -> None:
    armoured = encrypt_key_export(sample_sessions()[0], "right", ROUNDS)
    with pytest.raises(MacMismatchError):
        decrypt_key_export(armoured, "wrong")


def test_modified_file_fails_the_mac() -> None:
    armoured = encrypt_key_export(sample_sessions()[0], "pw", ROUNDS)
    lines = armoured.splitlines()
    first = lines[1]
    lines[1] = first[:50] + ("A" if first[50] != "A" else "B") + first[51:]
    with pytest.raises(MacMismatchError):
        decrypt_key_export("\n".join(lines), "pw")


def test_missing_armour_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        decrypt_key_export("AQIDBA==", "pw")
