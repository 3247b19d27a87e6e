"""A persisted, passphrase-encrypted store of the Olm account and sessions.

The state is serialised to JSON and sealed with XSalsa20-Poly1305
(PyNaCl SecretBox) under a key derived from the passphrase with Argon2id.
The KDF parameters and salt are stored beside the ciphertext so a store
opens with the parameters it was written with. Writes are atomic
(temporary file, fsync, rename).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret

from clients.crypto.encoding import decode_base64, encode_base64
from clients.crypto.errors import DecodeError, PickleStoreError
from clients.crypto.megolm import InboundGroupSession, OutboundGroupSession
from clients.crypto.olm_account import OlmAccount
from clients.crypto.olm_session import OlmSession
from clients.crypto.primitives import random_bytes

STORE_FORMAT = "parley.crypto_store"
STORE_VERSION = 1
STATE_VERSION = 1

GroupSessionKey = tuple[str, str, str]
"""(room_id, sender_curve25519_key, session_id) — how m.megolm.v1 events name a session."""


@dataclass
class CryptoState:
    """Everything the client's E2EE layer must remember between runs."""

    account: OlmAccount
    olm_sessions: dict[str, list[OlmSession]] = field(default_factory=dict)
    """Olm sessions by the peer device's Curve25519 identity key, newest last."""
    inbound_group_sessions: dict[GroupSessionKey, InboundGroupSession] = field(default_factory=dict)
    outbound_group_sessions: dict[str, OutboundGroupSession] = field(default_factory=dict)
    """Our current outbound Megolm session per room ID."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "account": self.account.to_dict(),
            "olm_sessions": {
                peer: [s.to_dict() for s in sessions] for peer, sessions in self.olm_sessions.items()
            },
            "inbound_group_sessions": [
                {"room_id": room_id, "sender_key": sender_key, "session_id": session_id, "session": s.to_dict()}
                for (room_id, sender_key, session_id), s in self.inbound_group_sessions.items()
            ],
            "outbound_group_sessions": {
                room_id: s.to_dict() for room_id, s in self.outbound_group_sessions.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CryptoState:
        if data.get("version") != STATE_VERSION:
            raise DecodeError(f"unsupported crypto state version {data.get('version')}")
        try:
            return cls(
                account=OlmAccount.from_dict(data["account"]),
                olm_sessions={
                    peer: [OlmSession.from_dict(s) for s in sessions]
                    for peer, sessions in data["olm_sessions"].items()
                },
                inbound_group_sessions={
                    (e["room_id"], e["sender_key"], e["session_id"]): InboundGroupSession.from_dict(e["session"])
                    for e in data["inbound_group_sessions"]
                },
                outbound_group_sessions={
                    room_id: OutboundGroupSession.from_dict(s)
                    for room_id, s in data["outbound_group_sessions"].items()
                },
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise DecodeError(f"malformed crypto state: {exc}") from exc


@dataclass(frozen=True)
class KdfParameters:
    """Argon2id cost. The defaults are libsodium's "interactive" limits."""

    opslimit: int = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
    memlimit: int = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE


def derive_store_key(passphrase: str, salt: bytes, params: KdfParameters) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        passphrase.encode("utf-8"),
        salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )


def seal(plaintext: bytes, key: bytes, salt: bytes, params: KdfParameters) -> dict[str, Any]:
    """The on-disk envelope for `plaintext` encrypted under `key`."""
    return {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "kdf": {
            "algorithm": "argon2id",
            "salt": encode_base64(salt),
            "opslimit": params.opslimit,
            "memlimit": params.memlimit,
        },
        "ciphertext": encode_base64(bytes(nacl.secret.SecretBox(key).encrypt(plaintext))),
    }


def read_envelope(envelope: dict[str, Any]) -> tuple[bytes, KdfParameters, bytes]:
    """(salt, KDF parameters, ciphertext) of an envelope; DecodeError if malformed."""
    try:
        if envelope["format"] != STORE_FORMAT or envelope["version"] != STORE_VERSION:
            raise DecodeError("not a Parley crypto store of a supported version")
        kdf = envelope["kdf"]
        if kdf["algorithm"] != "argon2id":
            raise DecodeError(f"unsupported KDF {kdf['algorithm']}")
        params = KdfParameters(opslimit=int(kdf["opslimit"]), memlimit=int(kdf["memlimit"]))
        return decode_base64(kdf["salt"]), params, decode_base64(envelope["ciphertext"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"malformed crypto store envelope: {exc}") from exc


def open_sealed(ciphertext: bytes, key: bytes) -> bytes:
    try:
        return nacl.secret.SecretBox(key).decrypt(ciphertext)
    except nacl.exceptions.CryptoError as exc:
        raise PickleStoreError("cannot decrypt the crypto store: wrong passphrase or corrupted file") from exc


class PickleStore:
    """Load and save a `CryptoState` at `path`, encrypted with `passphrase`.

    The derived key is cached, so only the first save or load pays for Argon2id.
    The blocking methods have `aload`/`asave` twins that run in a worker thread.
    """

    def __init__(self, path: str | os.PathLike[str], passphrase: str, kdf: KdfParameters | None = None) -> None:
        self._path = Path(path)
        self._passphrase = passphrase
        self._kdf = kdf or KdfParameters()
        self._salt: bytes | None = None
        self._key: bytes | None = None

    @property
    def path(self) -> Path:
        return self._path

    def exists(self) -> bool:
        return self._path.exists()

    def load(self) -> CryptoState | None:
        """The stored state, or None if nothing has been saved yet.
        Raises PickleStoreError for a wrong passphrase or a damaged file."""
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            salt, params, ciphertext = read_envelope(json.loads(text))
        except (json.JSONDecodeError, DecodeError) as exc:
            raise PickleStoreError(f"{self._path} is not a readable crypto store: {exc}") from exc
        key = self._key_for(salt, params)
        plaintext = open_sealed(ciphertext, key)
        self._salt, self._key, self._kdf = salt, key, params
        try:
            return CryptoState.from_dict(json.loads(plaintext))
        except (json.JSONDecodeError, DecodeError) as exc:
            raise PickleStoreError(f"crypto store decrypted but its contents are invalid: {exc}") from exc

    def save(self, state: CryptoState) -> None:
        """Encrypt and atomically replace the store file with `state`."""
        if self._key is None or self._salt is None:
            self._salt = random_bytes(nacl.pwhash.argon2id.SALTBYTES)
            self._key = derive_store_key(self._passphrase, self._salt, self._kdf)
        plaintext = json.dumps(state.to_dict(), separators=(",", ":")).encode("utf-8")
        envelope = seal(plaintext, self._key, self._salt, self._kdf)
        self._write_atomically(json.dumps(envelope).encode("utf-8"))

    async def aload(self) -> CryptoState | None:
        return await asyncio.to_thread(self.load)

    async def asave(self, state: CryptoState) -> None:
        await asyncio.to_thread(self.save, state)

    def _key_for(self, salt: bytes, params: KdfParameters) -> bytes:
        if self._key is not None and self._salt == salt and self._kdf == params:
            return self._key
        return derive_store_key(self._passphrase, salt, params)

    def _write_atomically(self, data: bytes) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self._path.name}.", dir=self._path.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.chmod(tmp_name, 0o600)
            os.replace(tmp_name, self._path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
