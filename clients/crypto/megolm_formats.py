"""Megolm wire formats (megolm.md, "Data exchange formats" and "Message format").

* session sharing format (version 2): V | i (u32 BE) | R_i,0..3 | K_pub | signature
* session export format (version 1): the same without the signature
* message: V=3 | payload (index 0x08, ciphertext 0x12) | 8-byte MAC | 64-byte signature
"""

from __future__ import annotations

from dataclasses import dataclass

from clients.crypto.encoding import decode_fields, encode_fields, require_bytes, require_int
from clients.crypto.errors import DecodeError
from clients.crypto.megolm_ratchet import MAX_INDEX, RATCHET_LENGTH, MegolmRatchet
from clients.crypto.primitives import KEY_LENGTH, MAC_LENGTH, SIGNATURE_LENGTH, ed25519_verify

SESSION_SHARING_VERSION = 2
SESSION_EXPORT_VERSION = 1
MESSAGE_VERSION = 3

TAG_MESSAGE_INDEX = 0x08
TAG_CIPHERTEXT = 0x12

_SESSION_BODY_LENGTH = 1 + 4 + RATCHET_LENGTH + KEY_LENGTH  # 165


def encode_session_body(version: int, ratchet: MegolmRatchet, signing_key: bytes) -> bytes:
    """V | i | R_i | K_pub — the part common to the sharing and export formats."""
    return bytes([version]) + ratchet.index.to_bytes(4, "big") + ratchet.to_bytes() + signing_key


def decode_session_sharing(data: bytes) -> tuple[MegolmRatchet, bytes]:
    """Parse a version-2 session key and check its signature; return (ratchet, K_pub)."""
    if len(data) != _SESSION_BODY_LENGTH + SIGNATURE_LENGTH:
        raise DecodeError(f"Megolm session key must be {_SESSION_BODY_LENGTH + SIGNATURE_LENGTH} bytes")
    if data[0] != SESSION_SHARING_VERSION:
        raise DecodeError(f"unsupported Megolm session key version {data[0]}")
    ratchet, signing_key = _decode_body(data[:_SESSION_BODY_LENGTH])
    # spec: "the recipient first checks that the signature matches the public key"
    ed25519_verify(signing_key, data[:_SESSION_BODY_LENGTH], data[_SESSION_BODY_LENGTH:])
    return ratchet, signing_key


def decode_session_export(data: bytes) -> tuple[MegolmRatchet, bytes]:
    """Parse a version-1 (unsigned) session export; return (ratchet, K_pub)."""
    if len(data) != _SESSION_BODY_LENGTH:
        raise DecodeError(f"Megolm session export must be {_SESSION_BODY_LENGTH} bytes")
    if data[0] != SESSION_EXPORT_VERSION:
        raise DecodeError(f"unsupported Megolm session export version {data[0]}")
    return _decode_body(data)


def _decode_body(body: bytes) -> tuple[MegolmRatchet, bytes]:
    index = int.from_bytes(body[1:5], "big")
    ratchet = MegolmRatchet.from_bytes(index, body[5 : 5 + RATCHET_LENGTH])
    return ratchet, body[5 + RATCHET_LENGTH :]


@dataclass(frozen=True)
class MegolmMessage:
    """A parsed Megolm message. `authenticated` is what the MAC covers (version and
    payload), `signed` what the signature covers (authenticated bytes and MAC)."""

    message_index: int
    ciphertext: bytes
    authenticated: bytes
    mac: bytes
    signature: bytes

    @property
    def signed(self) -> bytes:
        return self.authenticated + self.mac

    def to_bytes(self) -> bytes:
        return self.signed + self.signature

    @staticmethod
    def encode_authenticated(message_index: int, ciphertext: bytes) -> bytes:
        return bytes([MESSAGE_VERSION]) + encode_fields(
            [(TAG_MESSAGE_INDEX, message_index), (TAG_CIPHERTEXT, ciphertext)]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> MegolmMessage:
        if len(data) < 1 + MAC_LENGTH + SIGNATURE_LENGTH:
            raise DecodeError("Megolm message too short")
        if data[0] != MESSAGE_VERSION:
            raise DecodeError(f"unsupported Megolm message version {data[0]}")
        authenticated = data[: -(MAC_LENGTH + SIGNATURE_LENGTH)]
        fields = decode_fields(authenticated[1:])
        message_index = require_int(fields, TAG_MESSAGE_INDEX, "message index")
        if message_index > MAX_INDEX:
            raise DecodeError("Megolm message index does not fit in 32 bits")
        return cls(
            message_index=message_index,
            ciphertext=require_bytes(fields, TAG_CIPHERTEXT, "ciphertext"),
            authenticated=authenticated,
            mac=data[-(MAC_LENGTH + SIGNATURE_LENGTH) : -SIGNATURE_LENGTH],
            signature=data[-SIGNATURE_LENGTH:],
        )
