"""Encrypted attachments: AES-256-CTR files with a JWK key, an IV and a SHA-256.

spec: client-server-api/modules/end_to_end_encryption.md, "Sending encrypted
attachments". The sender picks a random 256-bit key and a 128-bit IV whose low
64 bits (the block counter) are zero, encrypts the whole file, and puts into the
event an ``EncryptedFile`` object: ``url`` (of the uploaded ciphertext), ``key``
(a JWK), ``iv`` and ``hashes.sha256`` (unpadded base64) and ``v: "v2"``. The
receiver checks the hash of what it downloaded before decrypting anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from clients.crypto.encoding import decode_base64, encode_base64
from clients.crypto.errors import AttachmentError, AttachmentHashMismatchError, DecodeError
from clients.crypto.primitives import random_bytes

ATTACHMENT_VERSION = "v2"
JWK_ALGORITHM = "A256CTR"


@dataclass(frozen=True, slots=True)
class EncryptedAttachment:
    """The ciphertext to upload, and the ``file`` object to send (without its ``url``)."""

    ciphertext: bytes
    key: bytes
    iv: bytes

    @property
    def sha256(self) -> str:
        return encode_base64(hashlib.sha256(self.ciphertext).digest())

    def file_info(self, url: str) -> dict[str, Any]:
        """The EncryptedFile object for an event, once the ciphertext is uploaded at ``url``."""
        return {
            "url": url,
            "key": {
                "kty": "oct",
                "alg": JWK_ALGORITHM,
                "ext": True,
                "key_ops": ["encrypt", "decrypt"],
                "k": _encode_base64url(self.key),
            },
            "iv": encode_base64(self.iv),
            "hashes": {"sha256": self.sha256},
            "v": ATTACHMENT_VERSION,
        }


def aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-256-CTR with a 128-bit big-endian counter starting at ``iv`` (its own inverse)."""
    transform = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return transform.update(data) + transform.finalize()


def encrypt_attachment(plaintext: bytes, *, key: bytes | None = None, iv: bytes | None = None) -> EncryptedAttachment:
    """Encrypt a file for an encrypted room; ``key``/``iv`` are for tests only (random otherwise)."""
    key = random_bytes(32) if key is None else key
    # spec: the IV's low 64 bits are a counter starting at zero, so a file of up to
    # 2**64 blocks never wraps into the random high half (some clients, e.g. Android, rely on it).
    iv = random_bytes(8) + b"\x00" * 8 if iv is None else iv
    if len(key) != 32 or len(iv) != 16:
        raise ValueError("AES-256-CTR needs a 32-byte key and a 16-byte IV")
    return EncryptedAttachment(aes_ctr(key, iv, plaintext), key, iv)


def decrypt_attachment(ciphertext: bytes, file_info: dict[str, Any]) -> bytes:
    """The plaintext of a downloaded attachment, after checking its SHA-256.

    Raises AttachmentHashMismatchError when the hash differs (nothing is decrypted) and
    AttachmentError when the ``file`` object is malformed or of an unsupported kind.
    """
    key, iv, expected = _parse_file_info(file_info)
    actual = hashlib.sha256(ciphertext).digest()
    if not hmac.compare_digest(actual, expected):
        raise AttachmentHashMismatchError(
            "the attachment's SHA-256 does not match the event: it was altered on the way, refusing to decrypt"
        )
    return aes_ctr(key, iv, ciphertext)


def _parse_file_info(file_info: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    if not isinstance(file_info, dict):
        raise AttachmentError("the encrypted file object is not a JSON object")
    version = file_info.get("v")
    # spec: v1 (no counter rule) is only ever read; v2 is what clients send today.
    if version not in ("v1", "v2"):
        raise AttachmentError(f"unsupported encrypted attachment version {version!r} (this client reads v1 and v2)")
    jwk = file_info.get("key")
    if not isinstance(jwk, dict):
        raise AttachmentError("the encrypted file has no key")
    if jwk.get("kty") != "oct" or jwk.get("alg") != JWK_ALGORITHM:
        raise AttachmentError(
            f"unsupported attachment key (kty {jwk.get('kty')!r}, alg {jwk.get('alg')!r}); "
            f"only oct/{JWK_ALGORITHM} is supported"
        )
    hashes = file_info.get("hashes")
    digest = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(digest, str):
        raise AttachmentError("the encrypted file has no SHA-256 hash, so its integrity cannot be checked")
    try:
        key = _decode_base64url(str(jwk.get("k", "")))
        iv = decode_base64(str(file_info.get("iv", "")))
        expected = decode_base64(digest)
    except DecodeError as exc:
        raise AttachmentError(f"malformed encrypted file object: {exc}") from exc
    if len(key) != 32 or len(iv) != 16 or len(expected) != 32:
        raise AttachmentError("malformed encrypted file object: wrong key, IV or hash length")
    return key, iv, expected


def _encode_base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _decode_base64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"invalid base64url: {exc}") from exc
