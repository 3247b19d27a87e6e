"""Ed25519 signing per spec appendices.md, "Signing JSON" and "Cryptographic Test Vectors"."""

from __future__ import annotations

import copy
import os
import stat
from pathlib import Path

import pytest

from federation.crypto.base64 import decode_base64, encode_base64
from federation.crypto.signing import (
    SignatureError,
    SigningKey,
    SigningKeyFileError,
    decode_verify_key,
    generate_signing_key,
    sign_json,
    verify_json_signature,
)
from federation.key_files import read_signing_key_file, write_signing_key_file

# spec: appendices.md, "Cryptographic Test Vectors" > "Signing Key".
SPEC_SEED = decode_base64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
SPEC_SERVER_NAME = "domain"
SPEC_KEY_ID = "ed25519:1"


@pytest.fixture
def spec_key() -> SigningKey:
    return SigningKey.from_seed("1", SPEC_SEED)


def test_spec_key_has_spec_key_id(spec_key: SigningKey) -> None:
    assert spec_key.key_id == SPEC_KEY_ID


def test_signing_empty_object_matches_spec_vector(spec_key: SigningKey) -> None:
    assert sign_json({}, SPEC_SERVER_NAME, spec_key) == {
        "signatures": {
            "domain": {
                "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
            }
        }
    }


def test_signing_object_with_data_matches_spec_vector(spec_key: SigningKey) -> None:
    assert sign_json({"one": 1, "two": "Two"}, SPEC_SERVER_NAME, spec_key) == {
        "one": 1,
        "signatures": {
            "domain": {
                "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
            }
        },
        "two": "Two",
    }


def test_spec_vector_signature_verifies(spec_key: SigningKey) -> None:
    signed = {
        "one": 1,
        "signatures": {
            "domain": {
                "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
            }
        },
        "two": "Two",
    }
    verify_json_signature(signed, "domain", "ed25519:1", spec_key.verify_key_bytes)


def test_unsigned_and_existing_signatures_are_not_covered(spec_key: SigningKey) -> None:
    obj = {
        "one": 1,
        "two": "Two",
        "unsigned": {"age_ts": 922834800000},
        "signatures": {"other.example": {"ed25519:x": "c2ln"}},
    }
    signed = sign_json(obj, SPEC_SERVER_NAME, spec_key)
    assert signed["signatures"]["domain"]["ed25519:1"] == (
        "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
    )
    assert signed["signatures"]["other.example"] == {"ed25519:x": "c2ln"}
    assert signed["unsigned"] == {"age_ts": 922834800000}


def test_sign_json_does_not_modify_its_input(spec_key: SigningKey) -> None:
    obj = {"a": 1, "signatures": {"domain": {"ed25519:old": "x"}}}
    before = copy.deepcopy(obj)
    signed = sign_json(obj, SPEC_SERVER_NAME, spec_key)
    assert obj == before
    assert set(signed["signatures"]["domain"]) == {"ed25519:old", "ed25519:1"}


def test_verification_fails_after_tampering(spec_key: SigningKey) -> None:
    signed = sign_json({"one": 1, "two": "Two"}, SPEC_SERVER_NAME, spec_key)
    signed["two"] = "Three"
    with pytest.raises(SignatureError):
        verify_json_signature(signed, "domain", "ed25519:1", spec_key.verify_key_bytes)


def test_verification_ignores_changes_to_unsigned(spec_key: SigningKey) -> None:
    signed = sign_json({"one": 1}, SPEC_SERVER_NAME, spec_key)
    signed["unsigned"] = {"age": 5}
    verify_json_signature(signed, "domain", "ed25519:1", spec_key.verify_key_bytes)


def test_verification_fails_with_another_key(spec_key: SigningKey) -> None:
    signed = sign_json({"one": 1}, SPEC_SERVER_NAME, spec_key)
    other = generate_signing_key("1")
    with pytest.raises(SignatureError):
        verify_json_signature(signed, "domain", "ed25519:1", other.verify_key_bytes)


@pytest.mark.parametrize(
    ("server_name", "key_id"),
    [("elsewhere", "ed25519:1"), ("domain", "ed25519:2"), ("domain", "curve25519:1")],
)
def test_verification_fails_without_matching_signature(
    spec_key: SigningKey, server_name: str, key_id: str
) -> None:
    signed = sign_json({"one": 1}, SPEC_SERVER_NAME, spec_key)
    with pytest.raises(SignatureError):
        verify_json_signature(signed, server_name, key_id, spec_key.verify_key_bytes)


@pytest.mark.parametrize("bad_signature", ["not base64!", "AAAA", 42])
def test_verification_fails_on_malformed_signature(
    spec_key: SigningKey, bad_signature: object
) -> None:
    obj = {"one": 1, "signatures": {"domain": {"ed25519:1": bad_signature}}}
    with pytest.raises(SignatureError):
        verify_json_signature(obj, "domain", "ed25519:1", spec_key.verify_key_bytes)


def test_verification_fails_when_object_has_no_signatures(spec_key: SigningKey) -> None:
    with pytest.raises(SignatureError):
        verify_json_signature({"one": 1}, "domain", "ed25519:1", spec_key.verify_key_bytes)


def test_generated_key_versions_look_like_synapse_ones() -> None:
    key = generate_signing_key()
    assert key.version.startswith("a_") and len(key.version) == 6
    assert key.key_id == "ed25519:" + key.version
    assert generate_signing_key().seed != key.seed


def test_invalid_key_version_is_rejected() -> None:
    with pytest.raises(ValueError):
        generate_signing_key("has space")
    with pytest.raises(ValueError):
        generate_signing_key("colon:no")


def test_verify_key_base64_round_trips_through_decode_verify_key(spec_key: SigningKey) -> None:
    assert decode_verify_key(spec_key.verify_key_base64) == spec_key.verify_key_bytes
    assert len(spec_key.verify_key_bytes) == 32


@pytest.mark.parametrize("bad", ["AAAA", "!!!", encode_base64(b"x" * 33)])
def test_decode_verify_key_rejects_bad_keys(bad: str) -> None:
    with pytest.raises(SignatureError):
        decode_verify_key(bad)


def test_key_file_round_trip_is_owner_only(tmp_path: Path) -> None:
    key = generate_signing_key("a_AbCd")
    path = tmp_path / "signing.key"
    write_signing_key_file(path, key)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = read_signing_key_file(path)
    assert loaded.version == "a_AbCd"
    assert loaded.seed == key.seed


def test_key_file_is_in_synapse_format(tmp_path: Path, spec_key: SigningKey) -> None:
    path = tmp_path / "signing.key"
    write_signing_key_file(path, spec_key)
    assert path.read_text() == "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0\n"


def test_reads_synapse_key_file_with_padding_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text("\n  ed25519 auto YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0=\n")
    key = read_signing_key_file(path)
    assert key.key_id == "ed25519:auto"
    assert key.seed == SPEC_SEED


@pytest.mark.parametrize(
    "content",
    ["", "\n\n", "ed25519 1", "rsa 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0", "ed25519 1 AAAA"],
)
def test_malformed_key_files_are_rejected(tmp_path: Path, content: str) -> None:
    path = tmp_path / "signing.key"
    path.write_text(content)
    with pytest.raises(SigningKeyFileError):
        read_signing_key_file(path)
