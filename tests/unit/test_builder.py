"""Building, hashing and signing PDUs.

spec: server-server-api.md, "Signing Events"; appendices.md, "Event Signing";
event formats in rooms/fragments/v6-, v11- and v12-event-format.md.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from federation.crypto.base64 import decode_base64
from federation.crypto.signing import SignatureError, SigningKey, generate_signing_key
from federation.rooms.builder import (
    MAX_DEPTH,
    add_server_signature,
    build_event,
    hash_and_sign_pdu,
    verify_event_signature,
)
from federation.rooms.events import Event
from federation.rooms.hashes import check_content_hash, compute_event_id
from federation.rooms.redaction import redact_pdu
from federation.rooms.versions import (
    ROOM_VERSION_10,
    ROOM_VERSION_11,
    ROOM_VERSION_12,
    RoomVersion,
)

ALL_VERSIONS = [ROOM_VERSION_10, ROOM_VERSION_11, ROOM_VERSION_12]
SERVER = "example.org"
ROOM_ID = "!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_signing_key("a_test")


@pytest.fixture(scope="module")
def spec_key() -> SigningKey:
    # spec: appendices.md, "Cryptographic Test Vectors" > "Signing Key".
    return SigningKey.from_seed("1", decode_base64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"))


def build(key: SigningKey, room_version: RoomVersion, **overrides: Any) -> Event:
    arguments: dict[str, Any] = {
        "room_version": room_version,
        "room_id": ROOM_ID,
        "sender": "@alice:example.org",
        "event_type": "m.room.message",
        "content": {"msgtype": "m.text", "body": "hello"},
        "prev_event_ids": ["$prev"],
        "auth_event_ids": ["$create", "$power", "$member"],
        "depth": 5,
        "origin_server_ts": 1_700_000_000_000,
        "server_name": SERVER,
        "signing_key": key,
    }
    arguments.update(overrides)
    return build_event(**arguments)


def verify(event: Event, key: SigningKey, pdu: dict[str, Any] | None = None) -> None:
    verify_event_signature(
        event.pdu if pdu is None else pdu, event.room_version, SERVER, key.key_id, key.verify_key_bytes
    )


# --- spec vectors ---------------------------------------------------------


def test_signing_spec_minimal_event_matches_vector(spec_key: SigningKey) -> None:
    # The vector keeps `origin`, so it is signed as the v9 redaction algorithm
    # (room version 10) would redact it.
    template = {
        "room_id": "!x:domain",
        "sender": "@a:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "signatures": {},
        "hashes": {},
        "type": "X",
        "content": {},
        "prev_events": [],
        "auth_events": [],
        "depth": 3,
        "unsigned": {"age_ts": 1000000},
    }
    event = hash_and_sign_pdu(template, ROOM_VERSION_10, "domain", spec_key)
    assert event.pdu == {
        "auth_events": [],
        "content": {},
        "depth": 3,
        "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
        "origin": "domain",
        "origin_server_ts": 1000000,
        "prev_events": [],
        "room_id": "!x:domain",
        "sender": "@a:domain",
        "signatures": {
            "domain": {
                "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
            }
        },
        "type": "X",
        "unsigned": {"age_ts": 1000000},
    }


def test_signing_spec_message_event_matches_vector(spec_key: SigningKey) -> None:
    template = {
        "content": {"body": "Here is the message content"},
        "event_id": "$0:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "type": "m.room.message",
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "signatures": {},
        "unsigned": {"age_ts": 1000000},
    }
    event = hash_and_sign_pdu(template, ROOM_VERSION_10, "domain", spec_key)
    assert event.pdu["hashes"] == {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"}
    assert event.pdu["signatures"] == {
        "domain": {
            "ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
        }
    }
    verify_event_signature(event.pdu, ROOM_VERSION_10, "domain", "ed25519:1", spec_key.verify_key_bytes)


def test_hash_and_sign_pdu_does_not_modify_template(spec_key: SigningKey) -> None:
    template = {"type": "X", "content": {}, "room_id": "!x:domain", "sender": "@a:domain",
                "signatures": {"old": {}}, "unsigned": {"a": 1}}  # fmt: skip
    before = copy.deepcopy(template)
    hash_and_sign_pdu(template, ROOM_VERSION_11, "domain", spec_key)
    assert template == before


# --- event format per room version ---------------------------------------


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_built_event_has_the_pdu_fields(key: SigningKey, room_version: RoomVersion) -> None:
    pdu = build(key, room_version).pdu
    assert pdu["room_id"] == ROOM_ID
    assert pdu["sender"] == "@alice:example.org"
    assert pdu["type"] == "m.room.message"
    assert pdu["content"] == {"msgtype": "m.text", "body": "hello"}
    assert pdu["prev_events"] == ["$prev"]
    assert pdu["auth_events"] == ["$create", "$power", "$member"]
    assert pdu["depth"] == 5
    assert pdu["origin_server_ts"] == 1_700_000_000_000
    assert set(pdu["hashes"]) == {"sha256"}
    assert set(pdu["signatures"]) == {SERVER}
    assert set(pdu["signatures"][SERVER]) == {"ed25519:a_test"}
    assert "state_key" not in pdu
    assert "unsigned" not in pdu
    assert "event_id" not in pdu


def test_room_version_10_events_carry_origin(key: SigningKey) -> None:
    assert build(key, ROOM_VERSION_10).pdu["origin"] == SERVER


@pytest.mark.parametrize("room_version", [ROOM_VERSION_11, ROOM_VERSION_12], ids=lambda v: v.identifier)
def test_room_version_11_and_later_events_have_no_origin(key: SigningKey, room_version: RoomVersion) -> None:
    assert "origin" not in build(key, room_version).pdu


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_state_events_carry_state_key_even_when_empty(key: SigningKey, room_version: RoomVersion) -> None:
    event = build(key, room_version, event_type="m.room.name", content={"name": "x"}, state_key="")
    assert event.pdu["state_key"] == ""
    assert event.is_state


def test_v12_create_event_has_no_room_id_and_names_the_room(key: SigningKey) -> None:
    event = build(
        key,
        ROOM_VERSION_12,
        room_id=None,
        event_type="m.room.create",
        state_key="",
        content={"room_version": "12"},
        prev_event_ids=[],
        auth_event_ids=[],
        depth=1,
    )
    assert "room_id" not in event.pdu
    assert event.room_id == "!" + event.event_id[1:]
    verify(event, key)


def test_v12_create_event_with_room_id_is_refused(key: SigningKey) -> None:
    with pytest.raises(ValueError):
        build(key, ROOM_VERSION_12, event_type="m.room.create", state_key="", content={})


@pytest.mark.parametrize("room_version", [ROOM_VERSION_10, ROOM_VERSION_11], ids=lambda v: v.identifier)
def test_create_events_before_v12_need_a_room_id(key: SigningKey, room_version: RoomVersion) -> None:
    with pytest.raises(ValueError):
        build(key, room_version, room_id=None, event_type="m.room.create", state_key="", content={})


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_non_create_events_need_a_room_id(key: SigningKey, room_version: RoomVersion) -> None:
    with pytest.raises(ValueError):
        build(key, room_version, room_id=None)


def test_events_for_remote_senders_are_refused(key: SigningKey) -> None:
    with pytest.raises(ValueError):
        build(key, ROOM_VERSION_11, sender="@bob:elsewhere.example")


def test_sender_server_name_with_port_is_accepted(key: SigningKey) -> None:
    event = build(key, ROOM_VERSION_11, sender="@bob:localhost:8448", server_name="localhost:8448")
    assert set(event.pdu["signatures"]) == {"localhost:8448"}


def test_room_version_10_redaction_has_top_level_redacts(key: SigningKey) -> None:
    event = build(key, ROOM_VERSION_10, event_type="m.room.redaction", content={"reason": "spam"}, redacts="$bad")
    assert event.pdu["redacts"] == "$bad"
    assert event.pdu["content"] == {"reason": "spam"}
    assert event.redacts == "$bad"


@pytest.mark.parametrize("room_version", [ROOM_VERSION_11, ROOM_VERSION_12], ids=lambda v: v.identifier)
def test_room_version_11_redaction_has_redacts_in_content(key: SigningKey, room_version: RoomVersion) -> None:
    content = {"reason": "spam"}
    event = build(key, room_version, event_type="m.room.redaction", content=content, redacts="$bad")
    assert "redacts" not in event.pdu
    assert event.pdu["content"] == {"reason": "spam", "redacts": "$bad"}
    assert content == {"reason": "spam"}  # the caller's dict is left alone
    assert event.redacts == "$bad"
    # and it is protected, so it survives redaction and is covered by the event ID
    assert redact_pdu(event.pdu, room_version)["content"] == {"redacts": "$bad"}


def test_redacts_on_other_event_types_is_refused(key: SigningKey) -> None:
    with pytest.raises(ValueError):
        build(key, ROOM_VERSION_11, redacts="$bad")


def test_depth_is_capped_at_the_canonical_json_maximum(key: SigningKey) -> None:
    assert build(key, ROOM_VERSION_11, depth=MAX_DEPTH + 10).pdu["depth"] == 2**53 - 1


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_unsigned_is_attached_but_not_hashed_or_signed(key: SigningKey, room_version: RoomVersion) -> None:
    plain = build(key, room_version)
    with_unsigned = build(key, room_version, unsigned={"transaction_id": "t1"})
    assert with_unsigned.pdu["unsigned"] == {"transaction_id": "t1"}
    assert with_unsigned.event_id == plain.event_id
    assert with_unsigned.pdu["hashes"] == plain.pdu["hashes"]
    assert with_unsigned.pdu["signatures"] == plain.pdu["signatures"]


# --- hashes, event IDs and signatures ---------------------------------------


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_event_id_is_the_reference_hash(key: SigningKey, room_version: RoomVersion) -> None:
    event = build(key, room_version, unsigned={"age": 1})
    assert event.event_id == compute_event_id(event.pdu, room_version)
    assert event.event_id.startswith("$") and len(event.event_id) == 44


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_content_hash_is_valid_and_changes_with_content(key: SigningKey, room_version: RoomVersion) -> None:
    first = build(key, room_version)
    second = build(key, room_version, content={"msgtype": "m.text", "body": "hello!"})
    assert check_content_hash(first.pdu)
    assert first.pdu["hashes"] != second.pdu["hashes"]
    # the content hash is covered by the reference hash, so the ID changes too
    assert first.event_id != second.event_id


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_signature_made_by_build_event_verifies(key: SigningKey, room_version: RoomVersion) -> None:
    verify(build(key, room_version), key)


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_signature_fails_after_tampering_with_protected_content(key: SigningKey, room_version: RoomVersion) -> None:
    event = build(key, room_version, event_type="m.room.member", state_key="@alice:example.org",
                  content={"membership": "join"})  # fmt: skip
    tampered = {**event.pdu, "content": {"membership": "ban"}}
    with pytest.raises(SignatureError):
        verify(event, key, tampered)


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_tampering_with_redactable_content_breaks_the_content_hash(key: SigningKey, room_version: RoomVersion) -> None:
    # spec: server-server-api.md — the signature covers the redacted event, so a
    # changed message body still verifies but fails the content hash check.
    event = build(key, room_version)
    tampered = {**event.pdu, "content": {"msgtype": "m.text", "body": "evil"}}
    verify(event, key, tampered)
    assert not check_content_hash(tampered)


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
@pytest.mark.parametrize("field", ["sender", "origin_server_ts", "depth", "prev_events", "hashes"])
def test_signature_fails_after_tampering_with_protected_fields(
    key: SigningKey, room_version: RoomVersion, field: str
) -> None:
    event = build(key, room_version)
    tampered = {**event.pdu, field: "@mallory:example.org" if field == "sender" else 7}
    with pytest.raises(SignatureError):
        verify(event, key, tampered)


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_redacting_a_signed_event_keeps_signature_and_event_id(key: SigningKey, room_version: RoomVersion) -> None:
    event = build(key, room_version, unsigned={"age": 3})
    redacted = redact_pdu(event.pdu, room_version)
    assert redacted["content"] == {}
    verify(event, key, redacted)
    assert compute_event_id(redacted, room_version) == event.event_id


def test_signature_fails_with_another_servers_key(key: SigningKey) -> None:
    event = build(key, ROOM_VERSION_11)
    other = generate_signing_key("a_test")
    with pytest.raises(SignatureError):
        verify_event_signature(event.pdu, ROOM_VERSION_11, SERVER, other.key_id, other.verify_key_bytes)


def test_signature_check_is_per_room_version(key: SigningKey) -> None:
    # A v10 event's signature covers `origin`; checked with v11 rules it is stripped.
    event = build(key, ROOM_VERSION_10)
    with pytest.raises(SignatureError):
        verify_event_signature(event.pdu, ROOM_VERSION_11, SERVER, key.key_id, key.verify_key_bytes)


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_countersignature_verifies_and_keeps_original(key: SigningKey, room_version: RoomVersion) -> None:
    event = build(key, room_version, event_type="m.room.member", state_key="@alice:example.org",
                  content={"membership": "join"})  # fmt: skip
    resident = generate_signing_key("r")
    countersigned = add_server_signature(event.pdu, room_version, "resident.example", resident)
    verify_event_signature(countersigned, room_version, "resident.example", "ed25519:r", resident.verify_key_bytes)
    verify(event, key, countersigned)
    assert countersigned["hashes"] == event.pdu["hashes"]
    assert compute_event_id(countersigned, room_version) == event.event_id
    assert set(event.pdu["signatures"]) == {SERVER}  # original left alone


def test_builds_are_deterministic(key: SigningKey) -> None:
    first = build(key, ROOM_VERSION_12)
    second = build(key, ROOM_VERSION_12)
    assert first.event_id == second.event_id
    assert first.pdu == second.pdu
