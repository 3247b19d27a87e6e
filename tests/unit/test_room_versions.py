"""Room versions 1-12 as data, and the event formats that differ between them.

spec: rooms/v1.md … v12.md; rooms/fragments/v1-event-ids.md, v4-event-ids.md,
v1-canonical-json.md, v6-canonical-json.md, v5-signing-requirements.md; the PDU
schemas pdu_v1.yaml and pdu_v3.yaml; appendices.md "Signing Events".
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from federation.crypto.base64 import decode_base64, encode_base64
from federation.crypto.canonical_json import CanonicalJsonError, encode_canonical_json
from federation.crypto.signing import SigningKey
from federation.rooms.builder import (
    add_server_signature,
    build_event,
    hash_and_sign_pdu,
    verify_event_signature,
)
from federation.rooms.events import Event
from federation.rooms.hashes import (
    MissingEventId,
    add_content_hash,
    check_content_hash,
    compute_event_id,
    compute_reference_hash,
    event_id_domain,
)
from federation.rooms.versions import (
    KNOWN_ROOM_VERSIONS,
    ROOM_VERSION_1,
    ROOM_VERSION_2,
    ROOM_VERSION_3,
    ROOM_VERSION_4,
    ROOM_VERSION_5,
    ROOM_VERSION_6,
    ROOM_VERSION_10,
    EventIdFormat,
    StateResolution,
)
from homeserver.core.pdu_checks import InvalidPdu, event_from_pdu
from tests.unit.test_hashes import spec_message_event, synapse_v5_create_event

SPEC_KEY = SigningKey.from_seed("1", decode_base64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"))
V = KNOWN_ROOM_VERSIONS


# --- the switches, version by version (each row is one page of the spec) -------------------
@pytest.mark.parametrize(
    ("version", "event_ids", "state_res", "aliases", "key_validity", "strict_json", "knock",
     "restricted", "restricted_fix", "int_levels"),
    [
        ("1", EventIdFormat.SERVER_GENERATED, StateResolution.V1, True, False, False, False, False, False, False),
        ("2", EventIdFormat.SERVER_GENERATED, StateResolution.V2, True, False, False, False, False, False, False),
        ("3", EventIdFormat.REFERENCE_HASH, StateResolution.V2, True, False, False, False, False, False, False),
        ("4", EventIdFormat.URL_SAFE_REFERENCE_HASH, StateResolution.V2, True, False, False, False, False, False, False),
        ("5", EventIdFormat.URL_SAFE_REFERENCE_HASH, StateResolution.V2, True, True, False, False, False, False, False),
        ("6", EventIdFormat.URL_SAFE_REFERENCE_HASH, StateResolution.V2, False, True, True, False, False, False, False),
        ("7", EventIdFormat.URL_SAFE_REFERENCE_HASH, StateResolution.V2, False, True, True, True, False, False, False),
        ("8", EventIdFormat.URL_SAFE_REFERENCE_HASH, StateResolution.V2, False, True, True, True, True, False, False),
        ("9", EventIdFormat.URL_SAFE_REFERENCE_HASH, StateResolution.V2, False, True, True, True, True, True, False),
        ("10", EventIdFormat.URL_SAFE_REFERENCE_HASH, StateResolution.V2, False, True, True, True, True, True, True),
        ("11", EventIdFormat.URL_SAFE_REFERENCE_HASH, StateResolution.V2, False, True, True, True, True, True, True),
        ("12", EventIdFormat.URL_SAFE_REFERENCE_HASH, StateResolution.V2_1, False, True, True, True, True, True, True),
    ],
)
def test_rule_switches_of_each_version(
    version: str, event_ids: EventIdFormat, state_res: StateResolution, aliases: bool,
    key_validity: bool, strict_json: bool, knock: bool, restricted: bool, restricted_fix: bool,
    int_levels: bool,
) -> None:
    v = V[version]
    assert v.event_id_format is event_ids
    assert v.state_resolution is state_res
    assert v.special_case_aliases is aliases
    assert v.enforce_key_validity is key_validity
    assert v.strict_canonical_json is strict_json
    assert v.limit_notifications_power_levels is strict_json  # both arrive in v6
    assert v.knock_join_rule is knock
    assert v.restricted_join_rule is restricted
    assert v.restricted_join_rule_fix is restricted_fix
    assert v.knock_restricted_join_rule is int_levels  # both arrive in v10
    assert v.strict_integer_power_levels is int_levels
    assert v.redaction_auth_rule is (version in ("1", "2"))
    assert v.v11_redaction is (version in ("11", "12"))
    assert v.hash_room_ids is v.privileged_creators is (version == "12")


# --- event IDs ---------------------------------------------------------------------------
def test_v4_and_v5_event_id_is_url_safe_reference_hash() -> None:
    # gomatrixserverlib's published ID of a Synapse-made v5 create event.
    for version in (ROOM_VERSION_4, ROOM_VERSION_5):
        assert compute_event_id(synapse_v5_create_event(), version) == (
            "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438"
        )


def test_v3_event_id_is_standard_base64_of_the_same_hash() -> None:
    # rooms/v3.md: unpadded standard base64, so "/" where v4 has "_".
    assert compute_event_id(synapse_v5_create_event(), ROOM_VERSION_3) == (
        "$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438"
    )


@pytest.mark.parametrize("version", [ROOM_VERSION_1, ROOM_VERSION_2])
def test_v1_event_id_is_the_pdus_own(version: Any) -> None:
    assert compute_event_id(spec_message_event(), version) == "$0:domain"
    assert event_id_domain("$0:domain") == "domain"


@pytest.mark.parametrize("event_id", [None, 7, "0:domain", "$nodomain", "$x:"])
def test_v1_pdu_without_a_valid_event_id_has_no_id(event_id: Any) -> None:
    pdu = {**spec_message_event(), "event_id": event_id}
    if event_id is None:
        del pdu["event_id"]
    with pytest.raises(MissingEventId):
        compute_event_id(pdu, ROOM_VERSION_1)


# --- building and signing ------------------------------------------------------------------
def test_v1_spec_message_event_signs_as_the_spec_says() -> None:
    # spec: appendices.md, "Signing Events" — this event carries its event_id, so it is a
    # room version 1/2 event: the ID is covered by the hash and the signature.
    pdu = spec_message_event()
    hashed = add_content_hash({k: v for k, v in pdu.items() if k != "signatures"}, ROOM_VERSION_1)
    assert hashed["hashes"] == {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"}
    signed = add_server_signature(hashed, ROOM_VERSION_1, "domain", SPEC_KEY)
    assert signed["signatures"] == {"domain": {"ed25519:1": (
        "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA")}}


def _build(version: Any, **overrides: Any) -> Event:
    args: dict[str, Any] = dict(
        room_version=version, room_id="!r:domain", sender="@u:domain", event_type="m.room.message",
        content={"body": "hi"}, prev_event_ids=["$p:domain"], auth_event_ids=["$a:domain"], depth=4,
        origin_server_ts=1000, server_name="domain", signing_key=SPEC_KEY,
        reference_hashes={"$p:domain": "PREVHASH", "$a:domain": "AUTHHASH"},
    )
    args.update(overrides)
    return build_event(**args)


def test_v1_event_carries_its_id_and_reference_pairs() -> None:
    event = _build(ROOM_VERSION_1, event_id="$chosen:domain")
    assert event.event_id == event.pdu["event_id"] == "$chosen:domain"
    assert event.pdu["prev_events"] == [["$p:domain", {"sha256": "PREVHASH"}]]
    assert event.pdu["auth_events"] == [["$a:domain", {"sha256": "AUTHHASH"}]]
    assert event.prev_event_ids == ["$p:domain"] and event.auth_event_ids == ["$a:domain"]
    assert check_content_hash(event.pdu, ROOM_VERSION_1)
    verify_event_signature(event.pdu, ROOM_VERSION_1, "domain", SPEC_KEY.key_id, SPEC_KEY.verify_key_bytes)
    # The ID is hashed: changing it breaks the content hash.
    assert not check_content_hash({**event.pdu, "event_id": "$other:domain"}, ROOM_VERSION_1)


def test_v1_event_gets_a_fresh_id_on_the_building_server() -> None:
    first, second = _build(ROOM_VERSION_1), _build(ROOM_VERSION_1)
    assert first.event_id != second.event_id
    assert all(e.event_id.startswith("$") and e.event_id.endswith(":domain") for e in (first, second))


def test_v1_event_needs_the_reference_hash_of_every_parent() -> None:
    with pytest.raises(ValueError, match=r"\$p:domain"):
        _build(ROOM_VERSION_1, reference_hashes={"$a:domain": "AUTHHASH"})


@pytest.mark.parametrize("version", [ROOM_VERSION_3, ROOM_VERSION_4, ROOM_VERSION_10])
def test_v3_and_later_events_list_plain_ids_and_are_named_by_their_hash(version: Any) -> None:
    event = _build(version)
    assert "event_id" not in event.pdu
    assert event.pdu["prev_events"] == ["$p:domain"]
    assert event.event_id == compute_event_id(event.pdu, version)


def test_template_signed_by_the_joining_server_gets_its_event_id() -> None:
    # spec: "Joining Rooms" — the joining server fills in a v1 make_join template; the ID
    # names the server that creates the event (Synapse does the same).
    template = {
        "type": "m.room.member", "room_id": "!r:resident", "sender": "@u:domain", "state_key": "@u:domain",
        "content": {"membership": "join"}, "depth": 5, "origin": "domain", "origin_server_ts": 1,
        "prev_events": [["$p:resident", {"sha256": "H"}]], "auth_events": [["$c:resident", {"sha256": "C"}]],
    }
    event = hash_and_sign_pdu(template, ROOM_VERSION_1, "domain", SPEC_KEY)
    assert event.event_id.endswith(":domain") and event.pdu["event_id"] == event.event_id
    assert event.pdu["prev_events"] == template["prev_events"]


def test_reference_hash_of_a_v1_event_covers_its_event_id() -> None:
    event = _build(ROOM_VERSION_1, event_id="$one:domain")
    renamed = {**event.pdu, "event_id": "$two:domain"}
    assert compute_reference_hash(event.pdu, ROOM_VERSION_1) != compute_reference_hash(renamed, ROOM_VERSION_1)
    assert event.reference_hash == encode_base64(compute_reference_hash(event.pdu, ROOM_VERSION_1))


# --- canonical JSON: strict from v6, lenient before ------------------------------------------
@pytest.mark.parametrize(
    "value",
    [1.5, 2**53, -(2**53), 10**30, {"a": [0.0]}, {"n": -1e100}],
)
def test_strict_canonical_json_refuses_floats_and_big_integers(value: Any) -> None:
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1.5, "a": 2**53}, b'{"a":9007199254740992,"b":1.5}'),
        ({"n": 1e100}, b'{"n":1e+100}'),  # as Python's json (and so Synapse) writes it
        ({"x": [10**30, -0.5]}, b'{"x":[1000000000000000000000000000000,-0.5]}'),
        ({"s": "\u00e9\u2028"}, '{"s":"\u00e9\u2028"}'.encode()),
        ({"ok": 2**53 - 1}, b'{"ok":9007199254740991}'),
    ],
)
def test_lenient_canonical_json_of_versions_1_to_5(value: Any, expected: bytes) -> None:
    encoded = encode_canonical_json(value, strict=False)
    assert encoded == expected
    assert encoded == json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"x": float("-inf")}])
def test_lenient_canonical_json_still_refuses_nan_and_infinity(value: Any) -> None:
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json(value, strict=False)


@pytest.mark.parametrize("version", ["6", "7", "10", "12"])
@pytest.mark.parametrize("number", [4.5, 2**53, -(2**53)])
def test_v6_and_later_drop_pdus_that_are_not_canonical_json(version: str, number: Any) -> None:
    pdu = _build(V["5"], content={"body": "x", "n": number}).pdu  # built leniently...
    pdu = {k: v for k, v in pdu.items() if k != "event_id"}
    with pytest.raises(InvalidPdu, match="canonical JSON"):
        event_from_pdu(pdu, V[version])  # ...and refused by a v6+ room


@pytest.mark.parametrize("version", ["1", "2", "3", "4", "5"])
def test_versions_before_6_accept_floats_and_big_integers(version: str) -> None:
    event = _build(V[version], content={"body": "x", "n": 4.5, "big": 2**60})
    received, hash_ok = event_from_pdu(event.pdu, V[version])
    assert hash_ok and received.event_id == event.event_id
    assert received.content == {"body": "x", "n": 4.5, "big": 2**60}


def test_depth_limit_is_2_to_the_63_before_v6_and_2_to_the_53_from_v6() -> None:
    old = _build(ROOM_VERSION_5, depth=1)
    deep = add_content_hash({**{k: v for k, v in old.pdu.items() if k != "hashes"}, "depth": 2**60},
                            ROOM_VERSION_5)
    event_from_pdu(deep, ROOM_VERSION_5)
    with pytest.raises(InvalidPdu):
        event_from_pdu({**deep, "depth": 2**63}, ROOM_VERSION_5)
    with pytest.raises(InvalidPdu):
        event_from_pdu(deep, ROOM_VERSION_6)


# --- the received format -----------------------------------------------------------------------
def test_v1_pdu_keeps_its_event_id_and_needs_reference_pairs() -> None:
    event = _build(ROOM_VERSION_1)
    received, hash_ok = event_from_pdu(event.pdu, ROOM_VERSION_1, "!r:domain")
    assert hash_ok and received.event_id == event.event_id
    assert received.pdu["event_id"] == event.event_id
    plain = {**event.pdu, "prev_events": ["$p:domain"]}
    with pytest.raises(InvalidPdu, match="pairs"):
        event_from_pdu(plain, ROOM_VERSION_1)
    with pytest.raises(InvalidPdu, match="event ID"):
        event_from_pdu({k: v for k, v in event.pdu.items() if k != "event_id"}, ROOM_VERSION_1)


def test_v3_pdu_drops_a_claimed_event_id_and_refuses_pairs() -> None:
    event = _build(ROOM_VERSION_3)
    received, _ = event_from_pdu({**event.pdu, "event_id": "$claimed:evil"}, ROOM_VERSION_3)
    assert received.event_id == event.event_id and "event_id" not in received.pdu
    with pytest.raises(InvalidPdu):
        event_from_pdu({**event.pdu, "prev_events": [["$p:domain", {"sha256": "x"}]]}, ROOM_VERSION_3)
