"""Olm wire formats (olm.md, "The Olm Message Format").

Pure encode/decode of normal and pre-key messages. A normal message is
version byte 0x03, a key/value payload, then an 8-byte truncated HMAC that
covers everything before it; a pre-key message wraps a complete normal
message together with the keys needed to set up the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clients.crypto.encoding import (
    decode_fields,
    encode_fields,
    require_bytes,
    require_int,
)
from clients.crypto.errors import DecodeError
from clients.crypto.primitives import KEY_LENGTH, MAC_LENGTH

VERSION = 3

# Matrix `type` values of m.olm.v1.curve25519-aes-sha2 ciphertexts
PRE_KEY_MESSAGE_TYPE = 0
NORMAL_MESSAGE_TYPE = 1

# normal message tags
TAG_RATCHET_KEY = 0x0A
TAG_CHAIN_INDEX = 0x10
TAG_CIPHERTEXT = 0x22

# pre-key message tags
TAG_ONE_TIME_KEY = 0x0A
TAG_BASE_KEY = 0x12
TAG_IDENTITY_KEY = 0x1A
TAG_MESSAGE = 0x22


@dataclass(frozen=True)
class OlmMessage:
    """A normal message: the sender's ratchet key T_i, chain index j, ciphertext X_ij
    and the MAC over the encoded version + payload."""

    ratchet_key: bytes
    chain_index: int
    ciphertext: bytes
    mac: bytes = b""
    # The bytes as received, so the MAC is checked over exactly what was sent.
    received_authenticated: bytes = field(default=b"", compare=False, repr=False)

    def authenticated_bytes(self) -> bytes:
        """Version byte and payload: what the MAC covers."""
        if self.received_authenticated:
            return self.received_authenticated
        return bytes([VERSION]) + encode_fields(
            [
                (TAG_RATCHET_KEY, self.ratchet_key),
                (TAG_CHAIN_INDEX, self.chain_index),
                (TAG_CIPHERTEXT, self.ciphertext),
            ]
        )

    def to_bytes(self) -> bytes:
        if len(self.mac) != MAC_LENGTH:
            raise ValueError("an Olm message needs its 8-byte MAC before it can be encoded")
        return self.authenticated_bytes() + self.mac

    @classmethod
    def from_bytes(cls, data: bytes) -> OlmMessage:
        if len(data) < 1 + MAC_LENGTH:
            raise DecodeError("Olm message too short")
        if data[0] != VERSION:
            raise DecodeError(f"unsupported Olm message version {data[0]}")
        fields = decode_fields(data[1:-MAC_LENGTH])
        message = cls(
            ratchet_key=require_bytes(fields, TAG_RATCHET_KEY, "ratchet key", KEY_LENGTH),
            chain_index=require_int(fields, TAG_CHAIN_INDEX, "chain index"),
            ciphertext=require_bytes(fields, TAG_CIPHERTEXT, "ciphertext"),
            mac=data[-MAC_LENGTH:],
            received_authenticated=data[:-MAC_LENGTH],
        )
        return message


@dataclass(frozen=True)
class PreKeyMessage:
    """A pre-key message: Bob's one-time key E_B, Alice's base key E_A, Alice's
    identity key I_A and an embedded normal message."""

    one_time_key: bytes
    base_key: bytes
    identity_key: bytes
    message: OlmMessage

    def to_bytes(self) -> bytes:
        return bytes([VERSION]) + encode_fields(
            [
                (TAG_ONE_TIME_KEY, self.one_time_key),
                (TAG_BASE_KEY, self.base_key),
                (TAG_IDENTITY_KEY, self.identity_key),
                (TAG_MESSAGE, self.message.to_bytes()),
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> PreKeyMessage:
        if len(data) < 1:
            raise DecodeError("empty Olm pre-key message")
        if data[0] != VERSION:
            raise DecodeError(f"unsupported Olm pre-key message version {data[0]}")
        fields = decode_fields(data[1:])
        return cls(
            one_time_key=require_bytes(fields, TAG_ONE_TIME_KEY, "one-time key", KEY_LENGTH),
            base_key=require_bytes(fields, TAG_BASE_KEY, "base key", KEY_LENGTH),
            identity_key=require_bytes(fields, TAG_IDENTITY_KEY, "identity key", KEY_LENGTH),
            message=OlmMessage.from_bytes(require_bytes(fields, TAG_MESSAGE, "embedded message")),
        )
