"""An Olm account: a device's long-term identity and its one-time/fallback keys.

spec: end_to_end_encryption.md, "Device keys" and "One-time and fallback keys";
olm.md, "Creating an outbound session" / "Creating an inbound session".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clients.crypto.encoding import decode_base64, encode_base64
from clients.crypto.errors import DecodeError, OlmSessionError, UnknownOneTimeKeyError
from clients.crypto.olm_messages import PreKeyMessage
from clients.crypto.olm_session import OlmSession
from clients.crypto.primitives import Curve25519KeyPair, Ed25519KeyPair, decode_curve25519_public
from clients.crypto.signed_json import JsonObject, add_signature

OLM_ALGORITHM = "m.olm.v1.curve25519-aes-sha2"
MEGOLM_ALGORITHM = "m.megolm.v1.aes-sha2"
SUPPORTED_ALGORITHMS = [OLM_ALGORITHM, MEGOLM_ALGORITHM]

# Private one-time keys we keep at most; the oldest are discarded beyond this.
MAX_ONE_TIME_KEYS = 100
PICKLE_VERSION = 1


@dataclass
class _OneTimeKey:
    key_id: str
    pair: Curve25519KeyPair
    published: bool = False


def _key_id(counter: int) -> str:
    # A 32-bit big-endian counter in unpadded base64, e.g. "AAAAAQ".
    return encode_base64(counter.to_bytes(4, "big"))


class OlmAccount:
    """A device's Curve25519 + Ed25519 identity, its one-time keys and fallback keys."""

    def __init__(
        self,
        identity: Curve25519KeyPair,
        signing: Ed25519KeyPair,
        one_time_keys: list[_OneTimeKey] | None = None,
        fallback_key: _OneTimeKey | None = None,
        previous_fallback_key: _OneTimeKey | None = None,
        next_key_counter: int = 1,
    ) -> None:
        self._identity = identity
        self._signing = signing
        self._one_time_keys = one_time_keys or []
        self._fallback_key = fallback_key
        self._previous_fallback_key = previous_fallback_key
        self._next_key_counter = next_key_counter

    @classmethod
    def create(cls) -> OlmAccount:
        """A new account with fresh identity keys."""
        return cls(Curve25519KeyPair.generate(), Ed25519KeyPair.generate())

    # --- identity -------------------------------------------------------------

    @property
    def curve25519_key(self) -> str:
        return self._identity.public_base64

    @property
    def ed25519_key(self) -> str:
        return self._signing.public_base64

    @property
    def identity_keys(self) -> dict[str, str]:
        """{"curve25519": ..., "ed25519": ...} as unpadded base64."""
        return {"curve25519": self.curve25519_key, "ed25519": self.ed25519_key}

    def sign(self, message: bytes | str) -> str:
        """Ed25519 signature of `message` (UTF-8 if str), unpadded base64."""
        data = message.encode("utf-8") if isinstance(message, str) else message
        return encode_base64(self._signing.sign(data))

    def sign_json(self, obj: JsonObject, user_id: str, device_id: str) -> JsonObject:
        """A copy of `obj` signed as `signatures[user_id]["ed25519:<device_id>"]`."""
        return add_signature(obj, user_id, f"ed25519:{device_id}", self.sign)

    def device_keys(self, user_id: str, device_id: str) -> JsonObject:
        """The signed `device_keys` object for POST /keys/upload."""
        return self.sign_json(
            {
                "user_id": user_id,
                "device_id": device_id,
                "algorithms": list(SUPPORTED_ALGORITHMS),
                "keys": {
                    f"curve25519:{device_id}": self.curve25519_key,
                    f"ed25519:{device_id}": self.ed25519_key,
                },
            },
            user_id,
            device_id,
        )

    # --- one-time and fallback keys ----------------------------------------------

    @property
    def max_number_of_one_time_keys(self) -> int:
        return MAX_ONE_TIME_KEYS

    def generate_one_time_keys(self, count: int) -> None:
        """Create `count` new one-time keys; the oldest are dropped past the maximum."""
        for _ in range(count):
            self._one_time_keys.append(_OneTimeKey(self._take_key_id(), Curve25519KeyPair.generate()))
        del self._one_time_keys[: max(0, len(self._one_time_keys) - MAX_ONE_TIME_KEYS)]

    @property
    def one_time_keys(self) -> dict[str, str]:
        """Unpublished one-time keys: {key_id: base64 public key}."""
        return {k.key_id: k.pair.public_base64 for k in self._one_time_keys if not k.published}

    def generate_fallback_key(self) -> None:
        """Create a new fallback key, keeping the current one as the previous key
        (spec: keep at most the current and the immediately preceding fallback key)."""
        self._previous_fallback_key = self._fallback_key
        self._fallback_key = _OneTimeKey(self._take_key_id(), Curve25519KeyPair.generate())

    def forget_old_fallback_key(self) -> None:
        self._previous_fallback_key = None

    @property
    def fallback_key(self) -> dict[str, str]:
        """The current fallback key if it is not yet published: {key_id: base64 key}."""
        key = self._fallback_key
        if key is None or key.published:
            return {}
        return {key.key_id: key.pair.public_base64}

    def mark_keys_as_published(self) -> None:
        for key in self._one_time_keys:
            key.published = True
        if self._fallback_key is not None:
            self._fallback_key.published = True

    def signed_one_time_keys(self, user_id: str, device_id: str) -> JsonObject:
        """Unpublished one-time keys as `signed_curve25519:<id>` objects for /keys/upload."""
        return {
            f"signed_curve25519:{key_id}": self.sign_json({"key": key}, user_id, device_id)
            for key_id, key in self.one_time_keys.items()
        }

    def signed_fallback_keys(self, user_id: str, device_id: str) -> JsonObject:
        """The unpublished fallback key as a `signed_curve25519:<id>` object with
        `"fallback": true`, for the `fallback_keys` field of /keys/upload."""
        return {
            f"signed_curve25519:{key_id}": self.sign_json(
                {"key": key, "fallback": True}, user_id, device_id
            )
            for key_id, key in self.fallback_key.items()
        }

    def _take_key_id(self) -> str:
        key_id = _key_id(self._next_key_counter)
        self._next_key_counter += 1
        return key_id

    # --- sessions ---------------------------------------------------------------

    def create_outbound_session(self, their_identity_key: str, their_one_time_key: str) -> OlmSession:
        """Start a session to a device from its Curve25519 identity key and a claimed
        one-time (or fallback) key, both unpadded base64."""
        return OlmSession.create_outbound(
            self._identity,
            decode_curve25519_public(their_identity_key),
            decode_curve25519_public(their_one_time_key),
        )

    def create_inbound_session(
        self, their_identity_key: str | None, pre_key_message: str | bytes
    ) -> tuple[OlmSession, bytes]:
        """Create a session from a pre-key message (base64 body or raw bytes) and
        return it with the decrypted plaintext. The one-time key it used is removed
        once the message authenticates; a fallback key is kept."""
        raw = decode_base64(pre_key_message) if isinstance(pre_key_message, str) else pre_key_message
        pre_key = PreKeyMessage.from_bytes(raw)
        if their_identity_key is not None and decode_curve25519_public(their_identity_key) != pre_key.identity_key:
            raise OlmSessionError("pre-key message was sent from a different identity key")
        our_key = self._find_private_key(pre_key.one_time_key)
        session, plaintext = OlmSession.create_inbound(self._identity, our_key.pair, pre_key)
        self._one_time_keys = [k for k in self._one_time_keys if k is not our_key]
        return session, plaintext

    def _find_private_key(self, public: bytes) -> _OneTimeKey:
        candidates = [*self._one_time_keys, self._fallback_key, self._previous_fallback_key]
        for key in candidates:
            if key is not None and key.pair.public == public:
                return key
        raise UnknownOneTimeKeyError(
            f"pre-key message uses one-time key {encode_base64(public)} which this account does not hold"
        )

    # --- persistence ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot, secrets included."""

        def key_dict(key: _OneTimeKey | None) -> dict[str, Any] | None:
            if key is None:
                return None
            return {"key_id": key.key_id, "secret": encode_base64(key.pair.secret), "published": key.published}

        return {
            "version": PICKLE_VERSION,
            "identity_secret": encode_base64(self._identity.secret),
            "signing_seed": encode_base64(self._signing.seed),
            "one_time_keys": [key_dict(k) for k in self._one_time_keys],
            "fallback_key": key_dict(self._fallback_key),
            "previous_fallback_key": key_dict(self._previous_fallback_key),
            "next_key_counter": self._next_key_counter,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OlmAccount:
        if data.get("version") != PICKLE_VERSION:
            raise DecodeError(f"unsupported Olm account pickle version {data.get('version')}")

        def load_key(entry: dict[str, Any] | None) -> _OneTimeKey | None:
            if entry is None:
                return None
            return _OneTimeKey(
                str(entry["key_id"]),
                Curve25519KeyPair.from_secret(decode_base64(entry["secret"])),
                bool(entry["published"]),
            )

        try:
            one_time_keys = [load_key(entry) for entry in data["one_time_keys"]]
            return cls(
                identity=Curve25519KeyPair.from_secret(decode_base64(data["identity_secret"])),
                signing=Ed25519KeyPair(decode_base64(data["signing_seed"])),
                one_time_keys=[k for k in one_time_keys if k is not None],
                fallback_key=load_key(data["fallback_key"]),
                previous_fallback_key=load_key(data["previous_fallback_key"]),
                next_key_counter=int(data["next_key_counter"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(f"malformed Olm account pickle: {exc}") from exc
