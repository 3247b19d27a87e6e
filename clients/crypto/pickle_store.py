"""A persisted, passphrase-encrypted store of the Olm account and sessions.

The state is serialised to JSON and sealed with XSalsa20-Poly1305
(PyNaCl SecretBox) under a key derived from a passphrase with Argon2id, or
under a random 32-byte key the caller keeps elsewhere (a key file: KDF
``none``). The KDF parameters and salt are stored beside the ciphertext so a
store opens with the parameters it was written with, and ``store_seal`` tells
which of the two a store needs without opening it. Writes are atomic
(temporary file, fsync, rename).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nacl.exceptions
import nacl.pwhash
import nacl.secret

from clients.crypto.encoding import decode_base64, encode_base64
from clients.crypto.errors import (
    DecodeError,
    PickleStoreError,
    UnsupportedStoreError,
    WrongPassphraseError,
)
from clients.crypto.megolm import InboundGroupSession, OutboundGroupSession
from clients.crypto.olm_account import OlmAccount
from clients.crypto.olm_session import OlmSession
from clients.crypto.primitives import random_bytes

STORE_FORMAT = "parley.crypto_store"
STORE_VERSION = 1
STATE_VERSION = 1
STORE_KEY_BYTES = nacl.secret.SecretBox.KEY_SIZE
KDF_NONE = "none"
"""The KDF name of a store sealed directly with a random key (no passphrase)."""
SealKind = Literal["passphrase", "key"]

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


def seal(plaintext: bytes, key: bytes, salt: bytes | None, params: KdfParameters | None) -> dict[str, Any]:
    """The on-disk envelope for `plaintext` encrypted under `key` (derived with Argon2id from
    `salt` and `params`, or a random key when they are None)."""
    kdf: dict[str, Any] = {"algorithm": KDF_NONE}
    if salt is not None and params is not None:
        kdf = {
            "algorithm": "argon2id",
            "salt": encode_base64(salt),
            "opslimit": params.opslimit,
            "memlimit": params.memlimit,
        }
    return {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "kdf": kdf,
        "ciphertext": encode_base64(bytes(nacl.secret.SecretBox(key).encrypt(plaintext))),
    }


def read_envelope(envelope: dict[str, Any]) -> tuple[bytes | None, KdfParameters | None, bytes]:
    """(salt, KDF parameters, ciphertext) of an envelope, salt and parameters None for a store
    sealed with a random key; UnsupportedStoreError for another format, version or KDF,
    DecodeError if malformed."""
    try:
        if envelope.get("format") != STORE_FORMAT:
            raise UnsupportedStoreError("not a Parley crypto store")
        if envelope.get("version") != STORE_VERSION:
            raise UnsupportedStoreError(f"crypto store version {envelope.get('version')} is not supported here")
        kdf = envelope["kdf"]
        ciphertext = decode_base64(envelope["ciphertext"])
        if kdf["algorithm"] == KDF_NONE:
            return None, None, ciphertext
        if kdf["algorithm"] != "argon2id":
            raise UnsupportedStoreError(f"the crypto store uses an unsupported KDF {kdf['algorithm']!r}")
        params = KdfParameters(opslimit=int(kdf["opslimit"]), memlimit=int(kdf["memlimit"]))
        return decode_base64(kdf["salt"]), params, ciphertext
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DecodeError(f"malformed crypto store envelope: {exc}") from exc


def store_seal(path: str | os.PathLike[str]) -> SealKind | None:
    """What opens the store at `path`: a "passphrase" or a "key"; None if there is no store.
    Raises PickleStoreError (UnsupportedStoreError) for a file that is not a store this reads."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        salt, _, _ = read_envelope(json.loads(text))
    except (json.JSONDecodeError, UnicodeDecodeError, DecodeError) as exc:
        raise PickleStoreError(f"{path} is not a readable crypto store: {exc}") from exc
    return "key" if salt is None else "passphrase"


def open_sealed(ciphertext: bytes, key: bytes, what: str = "passphrase") -> bytes:
    try:
        return nacl.secret.SecretBox(key).decrypt(ciphertext)
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassphraseError(f"cannot decrypt the crypto store: wrong {what} or corrupted file") from exc


class PickleStore:
    """Load and save a `CryptoState` at `path`, encrypted with `passphrase` (Argon2id) or,
    with `key=`, directly with a random 32-byte key kept by the caller.

    The derived key is cached, so only the first save or load pays for Argon2id.
    The blocking methods have `aload`/`asave` twins that run in a worker thread.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        passphrase: str | None = None,
        kdf: KdfParameters | None = None,
        *,
        key: bytes | None = None,
    ) -> None:
        if (passphrase is None) == (key is None):
            raise ValueError("give a passphrase or a key")
        if key is not None and len(key) != STORE_KEY_BYTES:
            raise ValueError(f"a store key has {STORE_KEY_BYTES} bytes")
        self._path = Path(path)
        self._passphrase = passphrase
        self._raw_key = key
        self._kdf = kdf or KdfParameters()
        self._salt: bytes | None = None
        self._key: bytes | None = None

    @staticmethod
    def new_key() -> bytes:
        """A random key for `PickleStore(path, key=...)`."""
        return random_bytes(STORE_KEY_BYTES)

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
        if salt is None or params is None:
            if self._raw_key is None:
                raise WrongPassphraseError(f"{self._path} is sealed with a key file, not a passphrase")
            plaintext = open_sealed(ciphertext, self._raw_key, "key")
        else:
            if self._passphrase is None:
                raise WrongPassphraseError(f"{self._path} is sealed with a passphrase, not a key file")
            key = self._key_for(salt, params)
            plaintext = open_sealed(ciphertext, key)
            self._salt, self._key, self._kdf = salt, key, params
        try:
            return CryptoState.from_dict(json.loads(plaintext))
        except (json.JSONDecodeError, DecodeError) as exc:
            raise PickleStoreError(f"crypto store decrypted but its contents are invalid: {exc}") from exc

    def save(self, state: CryptoState) -> None:
        """Encrypt and atomically replace the store file with `state`."""
        plaintext = json.dumps(state.to_dict(), separators=(",", ":")).encode("utf-8")
        if self._raw_key is not None:
            envelope = seal(plaintext, self._raw_key, None, None)
        else:
            if self._key is None or self._salt is None:
                assert self._passphrase is not None
                self._salt = random_bytes(nacl.pwhash.argon2id.SALTBYTES)
                self._key = derive_store_key(self._passphrase, self._salt, self._kdf)
            envelope = seal(plaintext, self._key, self._salt, self._kdf)
        self._write_atomically(json.dumps(envelope).encode("utf-8"))

    async def aload(self) -> CryptoState | None:
        return await asyncio.to_thread(self.load)

    async def asave(self, state: CryptoState) -> None:
        await asyncio.to_thread(self.save, state)

    def _key_for(self, salt: bytes, params: KdfParameters) -> bytes:
        if self._key is not None and self._salt == salt and self._kdf == params:
            return self._key
        assert self._passphrase is not None
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
