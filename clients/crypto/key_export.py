"""The passphrase-encrypted room key export file.

spec: end_to_end_encryption.md, "Key exports": PBKDF2-HMAC-SHA-512 turns the
passphrase into K (AES-256-CTR) and K' (HMAC-SHA-256); the file is
version 0x01 | salt | IV | rounds (u32 BE) | AES-CTR(JSON) | HMAC, base64
between BEGIN/END MEGOLM SESSION DATA lines. The JSON is an array of
ExportedSessionData objects; `exported_session_data` builds one.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from clients.crypto.encoding import decode_base64, encode_base64
from clients.crypto.errors import DecodeError, MacMismatchError
from clients.crypto.megolm import InboundGroupSession
from clients.crypto.olm_account import MEGOLM_ALGORITHM
from clients.crypto.primitives import hmac_sha256, random_bytes

HEADER = "-----BEGIN MEGOLM SESSION DATA-----"
FOOTER = "-----END MEGOLM SESSION DATA-----"
EXPORT_VERSION = 1
DEFAULT_ROUNDS = 500_000
_LINE_LENGTH = 96


def derive_export_keys(passphrase: str, salt: bytes, rounds: int) -> tuple[bytes, bytes]:
    """(K, K') = the two halves of PBKDF2(HMAC-SHA-512, passphrase, S, N, 512 bits)."""
    key = PBKDF2HMAC(algorithm=hashes.SHA512(), length=64, salt=salt, iterations=rounds).derive(
        passphrase.encode("utf-8")
    )
    return key[:32], key[32:]


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return cipher.update(data) + cipher.finalize()


def encrypt_key_export(sessions: list[dict[str, Any]], passphrase: str, rounds: int = DEFAULT_ROUNDS) -> str:
    """The armoured export file for a list of ExportedSessionData objects."""
    if rounds < 1 or rounds > 0xFFFFFFFF:
        raise ValueError("PBKDF2 rounds must fit in an unsigned 32-bit integer")
    salt = random_bytes(16)
    iv = bytearray(random_bytes(16))
    iv[8] &= 0x7F  # spec: bit 63 of the IV is zero, to avoid AES-CTR counter overflow differences
    aes_key, mac_key = derive_export_keys(passphrase, salt, rounds)
    plaintext = json.dumps(sessions, ensure_ascii=False).encode("utf-8")
    body = bytes([EXPORT_VERSION]) + salt + bytes(iv) + rounds.to_bytes(4, "big")
    body += _aes_ctr(aes_key, bytes(iv), plaintext)
    body += hmac_sha256(mac_key, body)
    encoded = encode_base64(body)
    lines = [encoded[i : i + _LINE_LENGTH] for i in range(0, len(encoded), _LINE_LENGTH)]
    return "\n".join([HEADER, *lines, FOOTER]) + "\n"


def decrypt_key_export(armoured: str, passphrase: str) -> list[dict[str, Any]]:
    """The ExportedSessionData objects in an export file. Raises MacMismatchError for
    a wrong passphrase or a modified file, DecodeError for a malformed one."""
    lines = [line.strip() for line in armoured.strip().splitlines()]
    if len(lines) < 2 or lines[0] != HEADER or lines[-1] != FOOTER:
        raise DecodeError("not a MEGOLM SESSION DATA export")
    body = decode_base64("".join(lines[1:-1]))
    if len(body) < 1 + 16 + 16 + 4 + 32:
        raise DecodeError("key export too short")
    if body[0] != EXPORT_VERSION:
        raise DecodeError(f"unsupported key export version {body[0]}")
    salt, iv = body[1:17], body[17:33]
    rounds = int.from_bytes(body[33:37], "big")
    if rounds == 0:
        raise DecodeError("key export has zero PBKDF2 rounds")
    aes_key, mac_key = derive_export_keys(passphrase, salt, rounds)
    if not hmac.compare_digest(hmac_sha256(mac_key, body[:-32]), body[-32:]):
        raise MacMismatchError("key export MAC does not match: wrong passphrase or damaged file")
    try:
        sessions = json.loads(_aes_ctr(aes_key, iv, body[37:-32]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"key export does not contain JSON: {exc}") from exc
    if not isinstance(sessions, list) or not all(isinstance(s, dict) for s in sessions):
        raise DecodeError("key export must contain a JSON array of objects")
    return sessions


def exported_session_data(
    session: InboundGroupSession,
    room_id: str,
    sender_key: str,
    sender_claimed_ed25519_key: str,
    forwarding_curve25519_key_chain: list[str] | None = None,
) -> dict[str, Any]:
    """One ExportedSessionData object for `session`, from its first known index."""
    return {
        "algorithm": MEGOLM_ALGORITHM,
        "room_id": room_id,
        "sender_key": sender_key,
        "session_id": session.session_id,
        "session_key": session.export_at_first_known_index(),
        "sender_claimed_keys": {"ed25519": sender_claimed_ed25519_key},
        "forwarding_curve25519_key_chain": list(forwarding_curve25519_key_chain or []),
    }
