"""Encrypted attachments (spec: end_to_end_encryption.md, "Sending encrypted attachments")."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from clients.crypto import (
    AttachmentError,
    AttachmentHashMismatchError,
    decrypt_attachment,
    encrypt_attachment,
)

KEY = bytes(range(32))
IV = bytes.fromhex("0123456789abcdef0000000000000000")
PLAINTEXT = b"Parley attachment known answer, three blocks and a bit: " * 2

# NIST SP 800-38A, F.5.5 CTR-AES256.Encrypt (a full 128-bit initial counter).
NIST_KEY = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
NIST_COUNTER = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
NIST_PLAINTEXT = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
NIST_CIPHERTEXT = bytes.fromhex(
    "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
    "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"
)


def unpadded(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def reference_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def test_ciphertext_and_hash_match_an_independent_aes_ctr() -> None:
    sealed = encrypt_attachment(PLAINTEXT, key=KEY, iv=IV)
    expected = reference_ctr(KEY, IV, PLAINTEXT)
    assert sealed.ciphertext == expected
    info = sealed.file_info("mxc://example.org/abc")
    assert info["hashes"] == {"sha256": unpadded(hashlib.sha256(expected).digest())}
    assert info["iv"] == "ASNFZ4mrze8AAAAAAAAAAA"
    assert info["key"] == {
        "kty": "oct", "alg": "A256CTR", "ext": True, "key_ops": ["encrypt", "decrypt"],
        "k": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",  # base64url, unpadded
    }
    assert info["v"] == "v2" and info["url"] == "mxc://example.org/abc"
    assert decrypt_attachment(sealed.ciphertext, info) == PLAINTEXT


def test_nist_sp800_38a_aes256_ctr_vector_decrypts() -> None:
    info = {
        "url": "mxc://example.org/nist", "v": "v2", "iv": unpadded(NIST_COUNTER),
        "key": {"kty": "oct", "alg": "A256CTR", "ext": True, "key_ops": ["encrypt", "decrypt"],
                "k": base64.urlsafe_b64encode(NIST_KEY).decode().rstrip("=")},
        "hashes": {"sha256": unpadded(hashlib.sha256(NIST_CIPHERTEXT).digest())},
    }
    assert decrypt_attachment(NIST_CIPHERTEXT, info) == NIST_PLAINTEXT
    assert encrypt_attachment(NIST_PLAINTEXT, key=NIST_KEY, iv=NIST_COUNTER).ciphertext == NIST_CIPHERTEXT


def test_a_random_iv_has_a_zero_64_bit_counter_and_keys_differ() -> None:
    first, second = encrypt_attachment(b"x" * 100), encrypt_attachment(b"x" * 100)
    assert first.iv[8:] == b"\x00" * 8 and second.iv[8:] == b"\x00" * 8
    assert first.key != second.key and first.ciphertext != second.ciphertext
    assert len(first.ciphertext) == 100  # a stream cipher: no padding


def test_an_empty_file_round_trips() -> None:
    sealed = encrypt_attachment(b"")
    assert decrypt_attachment(sealed.ciphertext, sealed.file_info("mxc://h/e")) == b""


@pytest.mark.parametrize("position", [0, 17, -1])
def test_a_tampered_ciphertext_is_refused_before_decrypting(position: int) -> None:
    sealed = encrypt_attachment(PLAINTEXT, key=KEY, iv=IV)
    tampered = bytearray(sealed.ciphertext)
    tampered[position] ^= 0x01
    with pytest.raises(AttachmentHashMismatchError):
        decrypt_attachment(bytes(tampered), sealed.file_info("mxc://h/t"))


def test_a_truncated_ciphertext_is_refused() -> None:
    sealed = encrypt_attachment(PLAINTEXT)
    with pytest.raises(AttachmentHashMismatchError):
        decrypt_attachment(sealed.ciphertext[:-1], sealed.file_info("mxc://h/t"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": "v3"}, "version"),
        ({"key": {"kty": "oct", "alg": "A128CTR", "k": "AAAA"}}, "A128CTR"),
        ({"hashes": {}}, "SHA-256"),
        ({"iv": "short"}, "malformed"),
        ({"key": None}, "no key"),
    ],
)
def test_unsupported_or_malformed_file_objects_say_what_is_wrong(change: dict[str, object], message: str) -> None:
    sealed = encrypt_attachment(PLAINTEXT)
    info = {**sealed.file_info("mxc://h/m"), **change}
    with pytest.raises(AttachmentError, match=message):
        decrypt_attachment(sealed.ciphertext, info)


def test_readable_by_matrix_nio_and_from_it() -> None:
    attachments = pytest.importorskip("nio.crypto.attachments")
    sealed = encrypt_attachment(PLAINTEXT)
    info = sealed.file_info("mxc://h/n")
    assert attachments.decrypt_attachment(
        sealed.ciphertext, info["key"]["k"], info["hashes"]["sha256"], info["iv"]
    ) == PLAINTEXT
    ciphertext, keys = attachments.encrypt_attachment(PLAINTEXT)
    assert decrypt_attachment(ciphertext, {**keys, "url": "mxc://h/n"}) == PLAINTEXT
