"""Cryptographic primitives used by Olm and Megolm.

X25519 and Ed25519 come from PyNaCl (libsodium); HKDF-SHA-256, HMAC-SHA-256
and AES-256-CBC come from `cryptography`. Everything here is a pure function
or an immutable key pair; no protocol state lives in this module.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.signing
import nacl.utils
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from clients.crypto.encoding import decode_base64, encode_base64
from clients.crypto.errors import DecodeError, KeyAgreementError, MacMismatchError, SignatureError

KEY_LENGTH = 32
SIGNATURE_LENGTH = 64
MAC_LENGTH = 8  # Olm v1 and Megolm v1 truncate HMAC-SHA-256 to 64 bits


def random_bytes(length: int) -> bytes:
    """Cryptographically secure random bytes."""
    return nacl.utils.random(length)


# --- hashes and MACs ---------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def hkdf_sha256(salt: bytes | None, ikm: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256. A `None` or empty salt means the default
    (32 zero bytes), which is what olm.md's HKDF(0, ...) denotes."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(ikm)


# --- AES-256-CBC with PKCS#7 ---------------------------------------------------


def aes256_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def aes256_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    if not ciphertext or len(ciphertext) % 16:
        raise DecodeError("AES-CBC ciphertext length is not a positive multiple of 16")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise DecodeError("invalid PKCS#7 padding") from exc


# --- the "aes-sha2" authenticated encryption of Olm v1 / Megolm v1 ------------


@dataclass(frozen=True)
class AesSha2Keys:
    """AES key, HMAC key and IV derived from a message key (olm.md, "Version 1";
    megolm.md, "Message encryption")."""

    aes_key: bytes
    mac_key: bytes
    iv: bytes

    @classmethod
    def derive(cls, secret: bytes, info: bytes) -> AesSha2Keys:
        okm = hkdf_sha256(None, secret, info, 80)
        return cls(aes_key=okm[:32], mac_key=okm[32:64], iv=okm[64:80])

    def encrypt(self, plaintext: bytes) -> bytes:
        return aes256_cbc_encrypt(self.aes_key, self.iv, plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        return aes256_cbc_decrypt(self.aes_key, self.iv, ciphertext)

    def mac(self, authenticated: bytes) -> bytes:
        """HMAC-SHA-256 over `authenticated`, truncated to 8 bytes."""
        return hmac_sha256(self.mac_key, authenticated)[:MAC_LENGTH]

    def verify_mac(self, authenticated: bytes, mac: bytes) -> None:
        if not hmac.compare_digest(self.mac(authenticated), mac):
            raise MacMismatchError("message authentication code does not match")


# --- Curve25519 (X25519) -------------------------------------------------------


@dataclass(frozen=True)
class Curve25519KeyPair:
    """An X25519 key pair. `secret` is the 32-byte scalar (clamped by libsodium on use)."""

    secret: bytes
    public: bytes

    @classmethod
    def generate(cls) -> Curve25519KeyPair:
        return cls.from_secret(random_bytes(KEY_LENGTH))

    @classmethod
    def from_secret(cls, secret: bytes) -> Curve25519KeyPair:
        if len(secret) != KEY_LENGTH:
            raise DecodeError("Curve25519 secret key must be 32 bytes")
        return cls(secret=secret, public=nacl.bindings.crypto_scalarmult_base(secret))

    @property
    def public_base64(self) -> str:
        return encode_base64(self.public)

    def agree(self, their_public: bytes) -> bytes:
        return x25519(self.secret, their_public)


def x25519(secret: bytes, their_public: bytes) -> bytes:
    """ECDH(secret, their_public). Rejects low-order points (all-zero output)."""
    if len(their_public) != KEY_LENGTH:
        raise DecodeError("Curve25519 public key must be 32 bytes")
    try:
        shared = nacl.bindings.crypto_scalarmult(secret, their_public)
    except nacl.exceptions.RuntimeError as exc:
        raise KeyAgreementError("X25519 with a low-order public key") from exc
    if shared == bytes(KEY_LENGTH):
        raise KeyAgreementError("X25519 with a low-order public key")
    return shared


def decode_curve25519_public(key: str | bytes) -> bytes:
    """Accept a base64 string or 32 raw bytes; return the raw key."""
    raw = key if isinstance(key, bytes) else decode_base64(key)
    if len(raw) != KEY_LENGTH:
        raise DecodeError(f"Curve25519 public key must be 32 bytes, got {len(raw)}")
    return raw


# --- Ed25519 -------------------------------------------------------------------


@dataclass(frozen=True)
class Ed25519KeyPair:
    """An Ed25519 signing key, stored as its 32-byte seed."""

    seed: bytes

    @classmethod
    def generate(cls) -> Ed25519KeyPair:
        return cls(seed=random_bytes(KEY_LENGTH))

    @property
    def public(self) -> bytes:
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    @property
    def public_base64(self) -> str:
        return encode_base64(self.public)

    def sign(self, message: bytes) -> bytes:
        return nacl.signing.SigningKey(self.seed).sign(message).signature


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> None:
    """Raise SignatureError unless `signature` is a valid signature of `message`."""
    if len(public) != KEY_LENGTH or len(signature) != SIGNATURE_LENGTH:
        raise SignatureError("malformed Ed25519 key or signature")
    try:
        nacl.signing.VerifyKey(public).verify(message, signature)
    except nacl.exceptions.BadSignatureError as exc:
        raise SignatureError("Ed25519 signature does not verify") from exc
