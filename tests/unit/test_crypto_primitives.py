"""Known-answer tests for the primitives under Olm and Megolm, and for the
Megolm ratchet computed by hand from megolm.md's definition."""

from __future__ import annotations

import pytest

from clients.crypto.encoding import (
    decode_base64,
    decode_fields,
    decode_varint,
    encode_base64,
    encode_fields,
    encode_varint,
)
from clients.crypto.errors import DecodeError, KeyAgreementError, MacMismatchError, SignatureError
from clients.crypto.megolm_ratchet import MegolmRatchet, hash_part
from clients.crypto.primitives import (
    AesSha2Keys,
    Curve25519KeyPair,
    Ed25519KeyPair,
    aes256_cbc_decrypt,
    aes256_cbc_encrypt,
    ed25519_verify,
    hkdf_sha256,
    hmac_sha256,
    x25519,
)
from clients.crypto.signed_json import add_signature, signing_bytes, verify_signature

H = bytes.fromhex

# --- HKDF (RFC 5869, appendix A) -------------------------------------------------


def test_hkdf_rfc5869_case_1() -> None:
    okm = hkdf_sha256(H("000102030405060708090a0b0c"), b"\x0b" * 22, H("f0f1f2f3f4f5f6f7f8f9"), 42)
    assert okm == H(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hkdf_rfc5869_case_3_default_salt() -> None:
    # Olm's HKDF(0, ...) is the RFC's "no salt": a string of HashLen zeros.
    expected = H(
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )
    assert hkdf_sha256(None, b"\x0b" * 22, b"", 42) == expected
    assert hkdf_sha256(bytes(32), b"\x0b" * 22, b"", 42) == expected


# --- HMAC-SHA-256 (RFC 4231 test case 2) -------------------------------------------


def test_hmac_sha256_rfc4231_case_2() -> None:
    assert hmac_sha256(b"Jefe", b"what do ya want for nothing?") == H(
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


# --- X25519 (RFC 7748) -------------------------------------------------------------------


def test_x25519_rfc7748_scalar_multiplication() -> None:
    scalar = H("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
    u = H("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
    assert x25519(scalar, u) == H("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")


def test_x25519_rfc7748_diffie_hellman() -> None:
    alice = Curve25519KeyPair.from_secret(H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
    bob = Curve25519KeyPair.from_secret(H("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
    assert alice.public == H("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert bob.public == H("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    shared = H("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    assert alice.agree(bob.public) == shared
    assert bob.agree(alice.public) == shared


def test_x25519_rejects_low_order_point() -> None:
    with pytest.raises(KeyAgreementError):
        Curve25519KeyPair.generate().agree(bytes(32))


# --- Ed25519 (RFC 8032, test 1) ----------------------------------------------------------


def test_ed25519_rfc8032_test_1() -> None:
    key = Ed25519KeyPair(H("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
    assert key.public == H("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    signature = key.sign(b"")
    assert signature == H(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    ed25519_verify(key.public, b"", signature)
    with pytest.raises(SignatureError):
        ed25519_verify(key.public, b"x", signature)


# --- AES-256-CBC (NIST SP 800-38A, F.2.5) ---------------------------------------------------


def test_aes256_cbc_nist_vector_then_pkcs7_block() -> None:
    key = H("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    iv = H("000102030405060708090a0b0c0d0e0f")
    plaintext = H("6bc1bee22e409f96e93d7e117393172a")
    ciphertext = aes256_cbc_encrypt(key, iv, plaintext)
    # A full block of padding (16 x 0x10) follows the NIST block.
    assert ciphertext[:16] == H("f58c4c04d6e5f1ba779eabfb5f7bfbd6")
    assert len(ciphertext) == 32
    assert aes256_cbc_decrypt(key, iv, ciphertext) == plaintext


def test_aes256_cbc_rejects_bad_padding_and_length() -> None:
    key, iv = bytes(32), bytes(16)
    ciphertext = aes256_cbc_encrypt(key, iv, b"hello")
    with pytest.raises(DecodeError):
        aes256_cbc_decrypt(key, iv, ciphertext[:-1])
    tampered = bytearray(ciphertext)
    tampered[-1] ^= 0xFF  # garbles the last block, so its padding byte is wrong
    with pytest.raises(DecodeError):
        aes256_cbc_decrypt(key, iv, bytes(tampered))


def test_aes_sha2_keys_split_hkdf_output_into_key_mac_key_iv() -> None:
    okm = hkdf_sha256(None, b"secret", b"OLM_KEYS", 80)
    keys = AesSha2Keys.derive(b"secret", b"OLM_KEYS")
    assert (keys.aes_key, keys.mac_key, keys.iv) == (okm[:32], okm[32:64], okm[64:])
    assert keys.mac(b"data") == hmac_sha256(okm[32:64], b"data")[:8]
    with pytest.raises(MacMismatchError):
        keys.verify_mac(b"data", b"\x00" * 8)


# --- encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [(b"", ""), (b"f", "Zg"), (b"fo", "Zm8"), (b"foo", "Zm9v"), (b"foob", "Zm9vYg"), (b"fooba", "Zm9vYmE")],
)
def test_unpadded_base64(raw: bytes, encoded: str) -> None:
    assert encode_base64(raw) == encoded
    assert decode_base64(encoded) == raw


def test_base64_decoding_accepts_padding_and_rejects_garbage() -> None:
    assert decode_base64("Zg==") == b"f"
    with pytest.raises(DecodeError):
        decode_base64("Z")
    with pytest.raises(DecodeError):
        decode_base64("Zm9v!")


@pytest.mark.parametrize(
    ("value", "encoded"), [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"), (2**32 - 1, "ffffffff0f")]
)
def test_varint_is_little_endian_base_128(value: int, encoded: str) -> None:
    assert encode_varint(value) == H(encoded)
    assert decode_varint(H(encoded), 0) == (value, len(H(encoded)))


def test_key_value_payload_round_trip_and_truncation() -> None:
    payload = encode_fields([(0x0A, b"\x01\x02"), (0x10, 300), (0x22, b"xyz")])
    assert payload == H("0a020102" "10ac02" "2203") + b"xyz"
    assert decode_fields(payload) == {0x0A: b"\x01\x02", 0x10: 300, 0x22: b"xyz"}
    with pytest.raises(DecodeError):
        decode_fields(payload[:-1])


# --- signed JSON --------------------------------------------------------------------------


def test_signed_json_signs_canonical_form_without_signatures_and_unsigned() -> None:
    key = Ed25519KeyPair.generate()
    obj = {"b": 1, "a": "é", "unsigned": {"age": 5}}
    assert signing_bytes(obj) == '{"a":"é","b":1}'.encode()
    signed = add_signature(obj, "@u:hs", "ed25519:DEV", lambda data: encode_base64(key.sign(data)))
    verify_signature(signed, "@u:hs", "ed25519:DEV", key.public_base64)
    signed["b"] = 2
    with pytest.raises(SignatureError):
        verify_signature(signed, "@u:hs", "ed25519:DEV", key.public_base64)


# --- the Megolm ratchet, by hand from megolm.md ---------------------------------------------


def spec_single_step(ratchet: MegolmRatchet) -> MegolmRatchet:
    """One step i-1 -> i written literally from the case analysis in megolm.md."""
    i = ratchet.index + 1
    r0, r1, r2, r3 = ratchet.parts
    if i % 2**24 == 0:
        parts = (hash_part(0, r0), hash_part(1, r0), hash_part(2, r0), hash_part(3, r0))
    elif i % 2**16 == 0:
        parts = (r0, hash_part(1, r1), hash_part(2, r1), hash_part(3, r1))
    elif i % 2**8 == 0:
        parts = (r0, r1, hash_part(2, r2), hash_part(3, r2))
    else:
        parts = (r0, r1, r2, hash_part(3, r3))
    return MegolmRatchet(i, parts)


A, B, C, D = (bytes([n]) * 32 for n in (0xA0, 0xB1, 0xC2, 0xD3))
START = MegolmRatchet(0, (A, B, C, D))


def test_megolm_hash_functions_are_hmac_of_single_byte() -> None:
    for j in range(4):
        assert hash_part(j, A) == hmac_sha256(A, bytes([j]))


def test_megolm_step_1_hashes_only_part_3() -> None:
    assert START.advance_to(1).parts == (A, B, C, hash_part(3, D))


def test_megolm_step_256_reseeds_parts_2_and_3_from_part_2() -> None:
    assert START.advance_to(2**8).parts == (A, B, hash_part(2, C), hash_part(3, C))


def test_megolm_step_65536_reseeds_parts_1_to_3_from_part_1() -> None:
    assert START.advance_to(2**16).parts == (A, hash_part(1, B), hash_part(2, B), hash_part(3, B))


def test_megolm_step_2_pow_24_reseeds_everything_from_part_0() -> None:
    assert START.advance_to(2**24).parts == tuple(hash_part(j, A) for j in range(4))


def test_megolm_step_512_uses_part_2_as_of_step_256() -> None:
    r2_at_256 = hash_part(2, C)
    assert START.advance_to(2**9).parts == (A, B, hash_part(2, r2_at_256), hash_part(3, r2_at_256))


def test_megolm_fast_forward_equals_stepping_one_at_a_time() -> None:
    stepped = START
    checkpoints = {1, 255, 256, 257, 511, 512, 1000, 65535, 65536, 65536 + 300}
    for _ in range(65536 + 300):
        stepped = spec_single_step(stepped)
        if stepped.index in checkpoints:
            assert START.advance_to(stepped.index) == stepped


def test_megolm_fast_forward_is_path_independent() -> None:
    target = 0x01020304
    direct = START.advance_to(target)
    assert START.advance_to(1000).advance_to(70000).advance_to(target) == direct
    assert START.advance_to(target - 1).advance() == direct


def test_megolm_ratchet_cannot_go_backwards() -> None:
    with pytest.raises(ValueError):
        START.advance_to(5).advance_to(4)
