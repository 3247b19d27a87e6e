"""Megolm group sessions (megolm.md, "The Megolm protocol").

`OutboundGroupSession` encrypts our messages to a room; its `session_key`
is shared with the room's devices over Olm (m.room_key). Each recipient
builds an `InboundGroupSession` from it; sessions forwarded or restored from
backup use the unsigned export format via `InboundGroupSession.import_session`.
"""

from __future__ import annotations

from typing import Any

from clients.crypto.encoding import decode_base64, encode_base64
from clients.crypto.errors import DecodeError, MegolmIndexError, MegolmReplayError
from clients.crypto.megolm_formats import (
    SESSION_EXPORT_VERSION,
    SESSION_SHARING_VERSION,
    MegolmMessage,
    decode_session_export,
    decode_session_sharing,
    encode_session_body,
)
from clients.crypto.megolm_ratchet import MegolmRatchet
from clients.crypto.primitives import Ed25519KeyPair, ed25519_verify, sha256

PICKLE_VERSION = 1


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def _ratchet_to_dict(ratchet: MegolmRatchet) -> dict[str, Any]:
    return {"index": ratchet.index, "ratchet": encode_base64(ratchet.to_bytes())}


def _ratchet_from_dict(data: dict[str, Any]) -> MegolmRatchet:
    return MegolmRatchet.from_bytes(int(data["index"]), decode_base64(data["ratchet"]))


class OutboundGroupSession:
    """Our sending side of a Megolm session: counter, ratchet and Ed25519 key K."""

    def __init__(self, ratchet: MegolmRatchet | None = None, signing_key: Ed25519KeyPair | None = None) -> None:
        self._ratchet = ratchet or MegolmRatchet.generate()
        self._signing_key = signing_key or Ed25519KeyPair.generate()

    @property
    def session_id(self) -> str:
        """The public part of K, unpadded base64."""
        return self._signing_key.public_base64

    @property
    def message_index(self) -> int:
        """The index the next message will be encrypted at."""
        return self._ratchet.index

    @property
    def session_key(self) -> str:
        """The signed session sharing format (version 2) at the current index, base64."""
        body = encode_session_body(SESSION_SHARING_VERSION, self._ratchet, self._signing_key.public)
        return encode_base64(body + self._signing_key.sign(body))

    def encrypt(self, plaintext: str | bytes) -> str:
        """Encrypt at the current index, then advance the ratchet. Returns base64."""
        cipher = self._ratchet.message_cipher()
        authenticated = MegolmMessage.encode_authenticated(
            self._ratchet.index, cipher.encrypt(_as_bytes(plaintext))
        )
        signed = authenticated + cipher.mac(authenticated)
        message = signed + self._signing_key.sign(signed)
        self._ratchet = self._ratchet.advance()
        return encode_base64(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PICKLE_VERSION,
            "ratchet": _ratchet_to_dict(self._ratchet),
            "signing_seed": encode_base64(self._signing_key.seed),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutboundGroupSession:
        if data.get("version") != PICKLE_VERSION:
            raise DecodeError(f"unsupported outbound group session pickle version {data.get('version')}")
        try:
            return cls(_ratchet_from_dict(data["ratchet"]), Ed25519KeyPair(decode_base64(data["signing_seed"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(f"malformed outbound group session pickle: {exc}") from exc


class InboundGroupSession:
    """A receiving copy of someone's Megolm session.

    Keeps the earliest known ratchet (to decrypt history from there on), a cache
    of the latest ratchet reached (so reading forward is cheap), and a digest of
    each message decrypted per index to detect replays.
    """

    def __init__(self, session_key: str | bytes) -> None:
        """Create from a signed session key (m.room_key `session_key`); raises
        SignatureError if it is not signed by the key it carries."""
        raw = decode_base64(session_key) if isinstance(session_key, str) else session_key
        ratchet, signing_key = decode_session_sharing(raw)
        self._init(ratchet, signing_key, signing_key_verified=True, seen={})

    def _init(
        self,
        ratchet: MegolmRatchet,
        signing_key: bytes,
        *,
        signing_key_verified: bool,
        seen: dict[int, str],
        latest: MegolmRatchet | None = None,
    ) -> None:
        self._initial = ratchet
        self._latest = latest or ratchet
        self._signing_key = signing_key
        self._signing_key_verified = signing_key_verified
        self._seen = seen

    @classmethod
    def import_session(cls, exported: str | bytes) -> InboundGroupSession:
        """Create from the unsigned session export format (version 1), e.g. from
        m.forwarded_room_key or a key backup. `is_verified` is False for these."""
        raw = decode_base64(exported) if isinstance(exported, str) else exported
        ratchet, signing_key = decode_session_export(raw)
        session = cls.__new__(cls)
        session._init(ratchet, signing_key, signing_key_verified=False, seen={})
        return session

    @property
    def session_id(self) -> str:
        return encode_base64(self._signing_key)

    @property
    def first_known_index(self) -> int:
        return self._initial.index

    @property
    def is_verified(self) -> bool:
        """True if built from a session key signed by K itself (not from an export)."""
        return self._signing_key_verified

    def decrypt(self, message: str | bytes) -> tuple[bytes, int]:
        """Verify and decrypt a base64 (or raw) Megolm message; return (plaintext, index).

        Raises SignatureError, MacMismatchError, MegolmIndexError for an index
        before `first_known_index`, and MegolmReplayError if a different message
        was already decrypted at the same index."""
        raw = decode_base64(message) if isinstance(message, str) else message
        parsed = MegolmMessage.from_bytes(raw)
        ed25519_verify(self._signing_key, parsed.signed, parsed.signature)
        index = parsed.message_index
        ratchet = self._ratchet_at(index)
        cipher = ratchet.message_cipher()
        cipher.verify_mac(parsed.authenticated, parsed.mac)

        # spec: megolm.md, "Message Replays" — reject a second, different message at an index.
        digest = encode_base64(sha256(parsed.to_bytes()))
        if self._seen.get(index, digest) != digest:
            raise MegolmReplayError(f"message index {index} of session {self.session_id} was already used by a different message")
        plaintext = cipher.decrypt(parsed.ciphertext)
        self._seen[index] = digest
        if ratchet.index > self._latest.index:
            self._latest = ratchet
        return plaintext, index

    def _ratchet_at(self, index: int) -> MegolmRatchet:
        if index < self._initial.index:
            raise MegolmIndexError(
                f"message index {index} is before the first known index {self._initial.index}"
            )
        start = self._latest if self._latest.index <= index else self._initial
        return start.advance_to(index)

    def export_at(self, index: int) -> str | None:
        """The session export format (version 1) at `index`, base64; None if `index`
        is before the first known index."""
        if index < self._initial.index:
            return None
        ratchet = self._ratchet_at(index)
        return encode_base64(encode_session_body(SESSION_EXPORT_VERSION, ratchet, self._signing_key))

    def export_at_first_known_index(self) -> str:
        return encode_base64(encode_session_body(SESSION_EXPORT_VERSION, self._initial, self._signing_key))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PICKLE_VERSION,
            "initial": _ratchet_to_dict(self._initial),
            "latest": _ratchet_to_dict(self._latest),
            "signing_key": encode_base64(self._signing_key),
            "signing_key_verified": self._signing_key_verified,
            "seen": {str(index): digest for index, digest in self._seen.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InboundGroupSession:
        if data.get("version") != PICKLE_VERSION:
            raise DecodeError(f"unsupported inbound group session pickle version {data.get('version')}")
        session = cls.__new__(cls)
        try:
            session._init(
                _ratchet_from_dict(data["initial"]),
                decode_base64(data["signing_key"]),
                signing_key_verified=bool(data["signing_key_verified"]),
                seen={int(index): str(digest) for index, digest in data["seen"].items()},
                latest=_ratchet_from_dict(data["latest"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DecodeError(f"malformed inbound group session pickle: {exc}") from exc
        return session
