"""Content hashes, reference hashes and event IDs.

spec: server-server-api.md, "Calculating the content hash for an event" and
"Calculating the reference hash for an event"; appendices.md, "Event Signing".
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from federation.crypto.base64 import decode_base64, encode_base64_url_safe
from federation.crypto.canonical_json import encode_canonical_json
from federation.rooms.hashes import (
    add_content_hash,
    check_content_hash,
    compute_content_hash,
    compute_event_id,
    compute_reference_hash,
)
from federation.rooms.versions import ROOM_VERSION_10, ROOM_VERSION_11, ROOM_VERSION_12


def spec_minimal_event() -> dict[str, Any]:
    # spec: appendices.md, "Event Signing" — the minimally-sized event.
    return {
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


def spec_message_event() -> dict[str, Any]:
    # spec: appendices.md, "Event Signing" — the event with redactable content.
    return {
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


def synapse_v5_create_event() -> dict[str, Any]:
    # A create event produced by Synapse (room version 5) whose event ID under
    # the v4 event ID format is published in gomatrixserverlib's tests. For a
    # create event the v1 and v9 redaction algorithms agree, so the room
    # version 10 reference hash must reproduce it.
    return {
        "auth_events": [],
        "prev_events": [],
        "type": "m.room.create",
        "room_id": "!uXDCzlYgCTHtiWCkEx:jki.re",
        "sender": "@erikj:jki.re",
        "content": {
            "room_version": "5",
            "predecessor": {
                "room_id": "!gdRMqOrTFdOCYHNwOo:half-shot.uk",
                "event_id": "$LP7ROBc4b+cMc1UE9haIz8q5AK2AIW4eJ90FfKLvyZI",
            },
            "creator": "@erikj:jki.re",
        },
        "depth": 1,
        "prev_state": [],
        "state_key": "",
        "origin": "jki.re",
        "origin_server_ts": 1560284621137,
        "hashes": {"sha256": "IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc"},
        "signatures": {
            "jki.re": {
                "ed25519:auto": "O4IyFfF2PPtGp5uaDm8t57dZbdh8vc8Q64LgCwvzYRVItAMI0uisfiAFaxkVT7MRpzh6N2QNN5NMRXZKmgPYDA"
            }
        },
        "unsigned": {"age": 1321650},
    }


def test_content_hash_of_spec_minimal_event() -> None:
    assert compute_content_hash(spec_minimal_event()) == (
        "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"
    )


def test_content_hash_of_spec_message_event() -> None:
    assert compute_content_hash(spec_message_event()) == (
        "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"
    )


def test_content_hash_ignores_unsigned_signatures_and_hashes() -> None:
    event = spec_minimal_event()
    event["unsigned"] = {"age": 99}
    event["signatures"] = {"domain": {"ed25519:1": "abc"}}
    event["hashes"] = {"sha256": "something else"}
    assert compute_content_hash(event) == "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"


def test_content_hash_covers_redactable_content() -> None:
    event = spec_message_event()
    event["content"] = {"body": "Different"}
    assert compute_content_hash(event) != "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"


def test_add_content_hash_returns_new_event_with_hash() -> None:
    event = spec_message_event()
    before = copy.deepcopy(event)
    hashed = add_content_hash(event)
    assert hashed["hashes"] == {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"}
    assert event == before


def test_check_content_hash_accepts_correct_hash() -> None:
    assert check_content_hash(add_content_hash(spec_message_event()))


def test_check_content_hash_accepts_padded_hash() -> None:
    event = spec_message_event()
    event["hashes"] = {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g="}
    assert check_content_hash(event)


def test_check_content_hash_rejects_modified_content() -> None:
    event = add_content_hash(spec_message_event())
    event["content"] = {"body": "tampered"}
    assert not check_content_hash(event)


@pytest.mark.parametrize(
    "hashes", [None, {}, {"sha256": 5}, {"sha256": "!!"}, "str", {"sha512": "abc"}]
)
def test_check_content_hash_rejects_missing_or_malformed_hashes(hashes: Any) -> None:
    event = spec_message_event()
    if hashes is not None:
        event["hashes"] = hashes
    assert not check_content_hash(event)


def test_event_id_of_synapse_created_event() -> None:
    assert compute_event_id(synapse_v5_create_event(), ROOM_VERSION_10) == (
        "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438"
    )


def test_reference_hash_is_sha256_of_redacted_event_without_signatures() -> None:
    event = spec_message_event()
    event["hashes"] = {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"}
    # Worked by hand from the v9 redaction algorithm: body, unsigned and
    # signatures go; event_id, origin and hashes stay.
    expected_input = {
        "content": {},
        "event_id": "$0:domain",
        "hashes": {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"},
        "origin": "domain",
        "origin_server_ts": 1000000,
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "type": "m.room.message",
    }
    expected = hashlib.sha256(encode_canonical_json(expected_input)).digest()
    assert compute_reference_hash(event, ROOM_VERSION_10) == expected


def test_reference_hash_ignores_redactable_content() -> None:
    event = spec_message_event()
    other = spec_message_event()
    other["content"] = {"body": "something else entirely"}
    assert compute_reference_hash(event, ROOM_VERSION_11) == compute_reference_hash(
        other, ROOM_VERSION_11
    )


def test_reference_hash_covers_content_hash() -> None:
    event = add_content_hash(spec_message_event())
    other = add_content_hash({**spec_message_event(), "content": {"body": "changed"}})
    assert compute_reference_hash(event, ROOM_VERSION_11) != compute_reference_hash(
        other, ROOM_VERSION_11
    )


def test_reference_hash_ignores_signatures_and_unsigned() -> None:
    event = spec_minimal_event()
    signed = {**event, "signatures": {"x": {"ed25519:1": "sig"}}, "unsigned": {"age": 1}}
    assert compute_reference_hash(event, ROOM_VERSION_12) == compute_reference_hash(
        signed, ROOM_VERSION_12
    )


def test_reference_hash_depends_on_room_version_redaction_rules() -> None:
    # `origin` is protected by the v9 algorithm (room v10) but not by v11.
    event = spec_minimal_event()
    assert compute_reference_hash(event, ROOM_VERSION_10) != compute_reference_hash(
        event, ROOM_VERSION_11
    )
    assert compute_reference_hash(event, ROOM_VERSION_11) == compute_reference_hash(
        event, ROOM_VERSION_12
    )


def test_event_id_is_dollar_and_url_safe_unpadded_reference_hash() -> None:
    event = synapse_v5_create_event()
    event_id = compute_event_id(event, ROOM_VERSION_11)
    assert event_id == "$" + encode_base64_url_safe(compute_reference_hash(event, ROOM_VERSION_11))
    assert len(event_id) == 44
    assert "+" not in event_id and "/" not in event_id and "=" not in event_id
    assert decode_base64(event_id[1:]) == compute_reference_hash(event, ROOM_VERSION_11)


def test_computing_hashes_does_not_modify_the_event() -> None:
    event = synapse_v5_create_event()
    before = copy.deepcopy(event)
    compute_event_id(event, ROOM_VERSION_11)
    compute_content_hash(event)
    check_content_hash(event)
    assert event == before
