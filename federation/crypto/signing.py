"""Ed25519 signing keys and signed JSON.

spec: appendices.md, "Signing JSON", "Signing Details" and "Checking for a
Signature". A signature covers the canonical JSON of the object without its
``signatures`` and ``unsigned`` members; it is stored, unpadded-base64
encoded, at ``signatures[<entity>][<algorithm>:<key version>]``.

A key's one-line text form is Synapse's key file format (``federation.key_files`` reads
and writes the files).
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

import nacl.exceptions
import nacl.signing

from federation.crypto.base64 import Base64DecodeError, decode_base64, encode_base64
from federation.crypto.canonical_json import encode_canonical_json

ED25519 = "ed25519"
ED25519_SIGNATURE_LENGTH = 64
ED25519_KEY_LENGTH = 32

# spec: server-server/definitions/keys.yaml — "The version must have characters
# matching the regular expression [a-zA-Z0-9_]".
_KEY_VERSION_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")
_GENERATED_VERSION_ALPHABET = string.ascii_letters + string.digits


class SignatureError(ValueError):
    """A signature is missing, malformed or does not verify."""


class SigningKeyFileError(ValueError):
    """A signing key file is missing a key or is not in the expected format."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An Ed25519 key pair with its key version (the part after ``ed25519:``)."""

    version: str
    nacl_key: nacl.signing.SigningKey = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_VERSION_PATTERN.match(self.version):
            raise ValueError(f"invalid signing key version: {self.version!r}")

    @classmethod
    def from_seed(cls, version: str, seed: bytes) -> SigningKey:
        if len(seed) != ED25519_KEY_LENGTH:
            raise ValueError(f"an ed25519 seed is {ED25519_KEY_LENGTH} bytes, got {len(seed)}")
        return cls(version=version, nacl_key=nacl.signing.SigningKey(seed))

    @property
    def key_id(self) -> str:
        return f"{ED25519}:{self.version}"

    @property
    def seed(self) -> bytes:
        return bytes(self.nacl_key)

    @property
    def verify_key_bytes(self) -> bytes:
        return bytes(self.nacl_key.verify_key)

    @property
    def verify_key_base64(self) -> str:
        return encode_base64(self.verify_key_bytes)

    def sign(self, message: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of ``message``."""
        return self.nacl_key.sign(message).signature


def generate_signing_key(version: str | None = None) -> SigningKey:
    """A fresh random key; the default version looks like Synapse's (``a_AbCd``)."""
    if version is None:
        version = "a_" + "".join(secrets.choice(_GENERATED_VERSION_ALPHABET) for _ in range(4))
    return SigningKey(version=version, nacl_key=nacl.signing.SigningKey.generate())


def format_signing_key_line(key: SigningKey) -> str:
    return f"{ED25519} {key.version} {encode_base64(key.seed)}"


def parse_signing_key_line(line: str) -> SigningKey:
    parts = line.split()
    if len(parts) != 3:
        raise SigningKeyFileError("expected '<algorithm> <version> <base64 seed>'")
    algorithm, version, seed_base64 = parts
    if algorithm != ED25519:
        raise SigningKeyFileError(f"unsupported signing key algorithm: {algorithm!r}")
    try:
        return SigningKey.from_seed(version, decode_base64(seed_base64))
    except ValueError as e:
        raise SigningKeyFileError(str(e)) from None


def decode_verify_key(verify_key_base64: str) -> bytes:
    """Decode a published Ed25519 public key (as in ``/_matrix/key/v2/server``)."""
    try:
        key_bytes = decode_base64(verify_key_base64)
    except Base64DecodeError as e:
        raise SignatureError(f"invalid verify key: {e}") from None
    if len(key_bytes) != ED25519_KEY_LENGTH:
        raise SignatureError(f"an ed25519 verify key is {ED25519_KEY_LENGTH} bytes")
    return key_bytes


def encode_json_for_signing(obj: dict[str, Any], *, strict: bool = True) -> bytes:
    """The bytes a JSON signature covers: canonical JSON without signatures/unsigned.

    ``strict=False`` for events of room versions 1-5 (see ``encode_canonical_json``).
    """
    if "signatures" in obj or "unsigned" in obj:
        obj = {k: v for k, v in obj.items() if k != "signatures" and k != "unsigned"}
    return encode_canonical_json(obj, strict=strict)


def with_signature(
    obj: dict[str, Any], server_name: str, key_id: str, signature: bytes
) -> dict[str, Any]:
    """A shallow copy of ``obj`` with one signature merged into ``signatures``."""
    existing = obj.get("signatures")
    signatures = dict(existing) if isinstance(existing, dict) else {}
    by_server = signatures.get(server_name)
    signatures[server_name] = {
        **(by_server if isinstance(by_server, dict) else {}),
        key_id: encode_base64(signature),
    }
    return {**obj, "signatures": signatures}


def sign_json(obj: dict[str, Any], server_name: str, key: SigningKey) -> dict[str, Any]:
    """Return a copy of ``obj`` signed by ``server_name`` with ``key``.

    Existing signatures (from this or other servers) are kept; ``obj`` itself
    is not modified.
    """
    signature = key.sign(encode_json_for_signing(obj))
    return with_signature(obj, server_name, key.key_id, signature)


def verify_signature(message: bytes, signature_base64: str, verify_key_bytes: bytes) -> None:
    """Check an Ed25519 signature over raw bytes; raise ``SignatureError`` if bad."""
    try:
        signature = decode_base64(signature_base64)
    except Base64DecodeError as e:
        raise SignatureError(f"signature is not valid base64: {e}") from None
    if len(signature) != ED25519_SIGNATURE_LENGTH:
        raise SignatureError("signature has the wrong length")
    try:
        nacl.signing.VerifyKey(verify_key_bytes).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, TypeError) as e:
        raise SignatureError(f"signature does not verify: {e}") from None


def get_signature(obj: dict[str, Any], server_name: str, key_id: str) -> str:
    """The base64 signature at ``signatures[server_name][key_id]``, or raise."""
    signatures = obj.get("signatures")
    if not isinstance(signatures, dict):
        raise SignatureError("object has no signatures")
    by_server = signatures.get(server_name)
    if not isinstance(by_server, dict):
        raise SignatureError(f"object is not signed by {server_name}")
    signature = by_server.get(key_id)
    if not isinstance(signature, str):
        raise SignatureError(f"object has no signature from {server_name} with key {key_id}")
    return signature


def verify_json_signature(
    obj: dict[str, Any], server_name: str, key_id: str, verify_key_bytes: bytes,
    *, strict: bool = True,
) -> None:
    """Check that ``server_name`` signed ``obj`` with ``key_id``; raise ``SignatureError``.

    spec: appendices.md, "Checking for a Signature".
    """
    algorithm = key_id.split(":", 1)[0]
    if algorithm != ED25519:
        raise SignatureError(f"unsupported signing algorithm: {algorithm!r}")
    signature = get_signature(obj, server_name, key_id)
    verify_signature(encode_json_for_signing(obj, strict=strict), signature, verify_key_bytes)
