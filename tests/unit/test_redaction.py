"""The redaction algorithm.

spec: rooms/fragments/v9-redactions.md (room version 10) and
rooms/fragments/v11-redactions.md (room versions 11 and 12).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from federation.rooms.redaction import redact_pdu
from federation.rooms.versions import (
    ROOM_VERSION_10,
    ROOM_VERSION_11,
    ROOM_VERSION_12,
    RoomVersion,
)

V11_VERSIONS = [ROOM_VERSION_11, ROOM_VERSION_12]
ALL_VERSIONS = [ROOM_VERSION_10, *V11_VERSIONS]

EVERY_TOP_LEVEL_KEY: dict[str, Any] = {
    "event_id": "$e",
    "type": "m.room.message",
    "room_id": "!r:example.org",
    "sender": "@u:example.org",
    "state_key": "",
    "content": {},
    "hashes": {"sha256": "h"},
    "signatures": {"example.org": {"ed25519:1": "s"}},
    "depth": 4,
    "prev_events": ["$p"],
    "prev_state": [],
    "auth_events": ["$a"],
    "origin": "example.org",
    "origin_server_ts": 1234,
    "membership": "join",
    "unsigned": {"age": 5},
    "redacts": "$target",
    "custom_key": {"x": 1},
    "age_ts": 7,
}

V9_KEPT_TOP_LEVEL = {
    "event_id", "type", "room_id", "sender", "state_key", "content", "hashes",
    "signatures", "depth", "prev_events", "prev_state", "auth_events", "origin",
    "origin_server_ts", "membership",
}  # fmt: skip
V11_KEPT_TOP_LEVEL = V9_KEPT_TOP_LEVEL - {"origin", "membership", "prev_state"}


def event(event_type: str, content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": event_type,
        "room_id": "!r:example.org",
        "sender": "@u:example.org",
        "content": content,
        "depth": 1,
        "origin_server_ts": 1,
        "prev_events": [],
        "auth_events": [],
        "hashes": {"sha256": "h"},
        "signatures": {},
        **extra,
    }


def test_v9_algorithm_keeps_exactly_its_top_level_keys() -> None:
    redacted = redact_pdu(EVERY_TOP_LEVEL_KEY, ROOM_VERSION_10)
    assert set(redacted) == V9_KEPT_TOP_LEVEL


@pytest.mark.parametrize("room_version", V11_VERSIONS, ids=lambda v: v.identifier)
def test_v11_algorithm_drops_origin_membership_and_prev_state(room_version: RoomVersion) -> None:
    redacted = redact_pdu(EVERY_TOP_LEVEL_KEY, room_version)
    assert set(redacted) == V11_KEPT_TOP_LEVEL


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_kept_top_level_values_are_unchanged(room_version: RoomVersion) -> None:
    redacted = redact_pdu(EVERY_TOP_LEVEL_KEY, room_version)
    for key, value in redacted.items():
        if key != "content":
            assert value == EVERY_TOP_LEVEL_KEY[key]


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_unsigned_and_top_level_redacts_are_removed(room_version: RoomVersion) -> None:
    redacted = redact_pdu(event("m.room.redaction", {}, redacts="$x", unsigned={"a": 1}), room_version)
    assert "unsigned" not in redacted
    assert "redacts" not in redacted


MEMBER_CONTENT = {
    "membership": "join",
    "join_authorised_via_users_server": "@admin:example.org",
    "displayname": "Alice",
    "avatar_url": "mxc://example.org/a",
    "reason": "hello",
    "third_party_invite": {"display_name": "alice@...", "signed": {"mxid": "@a:b", "token": "t"}},
}
CREATE_CONTENT = {
    "creator": "@u:example.org",
    "room_version": "10",
    "m.federate": False,
    "predecessor": {"room_id": "!old:example.org", "event_id": "$old"},
    "type": "m.space",
    "additional_creators": ["@v:example.org"],
}
JOIN_RULES_CONTENT = {
    "join_rule": "restricted",
    "allow": [{"type": "m.room_membership", "room_id": "!s:example.org"}],
    "custom": 1,
}
POWER_LEVELS_CONTENT = {
    "ban": 50, "events": {"m.room.name": 50}, "events_default": 0, "invite": 0,
    "kick": 50, "redact": 50, "state_default": 50, "users": {"@u:example.org": 100},
    "users_default": 0, "notifications": {"room": 50},
}  # fmt: skip
HISTORY_CONTENT = {"history_visibility": "shared", "extra": True}
REDACTION_CONTENT = {"redacts": "$target", "reason": "spam"}
ALIASES_CONTENT = {"aliases": ["#a:example.org"]}
MESSAGE_CONTENT = {"msgtype": "m.text", "body": "hi", "m.relates_to": {"rel_type": "m.thread", "event_id": "$t"}}
NAME_CONTENT = {"name": "A room"}

# (event type, full content, content after the v9 algorithm, content after the v11 algorithm)
CONTENT_TABLE: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "m.room.member",
        MEMBER_CONTENT,
        {"membership": "join", "join_authorised_via_users_server": "@admin:example.org"},
        {
            "membership": "join",
            "join_authorised_via_users_server": "@admin:example.org",
            "third_party_invite": {"signed": {"mxid": "@a:b", "token": "t"}},
        },
    ),
    ("m.room.create", CREATE_CONTENT, {"creator": "@u:example.org"}, CREATE_CONTENT),
    (
        "m.room.join_rules",
        JOIN_RULES_CONTENT,
        {"join_rule": "restricted", "allow": JOIN_RULES_CONTENT["allow"]},
        {"join_rule": "restricted", "allow": JOIN_RULES_CONTENT["allow"]},
    ),
    (
        "m.room.power_levels",
        POWER_LEVELS_CONTENT,
        {k: v for k, v in POWER_LEVELS_CONTENT.items() if k not in ("invite", "notifications")},
        {k: v for k, v in POWER_LEVELS_CONTENT.items() if k != "notifications"},
    ),
    ("m.room.history_visibility", HISTORY_CONTENT, {"history_visibility": "shared"}, {"history_visibility": "shared"}),
    ("m.room.redaction", REDACTION_CONTENT, {}, {"redacts": "$target"}),
    # m.room.aliases lost its protection in room version 6.
    ("m.room.aliases", ALIASES_CONTENT, {}, {}),
    ("m.room.message", MESSAGE_CONTENT, {}, {}),
    ("m.room.name", NAME_CONTENT, {}, {}),
    ("m.room.encrypted", {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "c"}, {}, {}),
]


@pytest.mark.parametrize(
    ("event_type", "content", "v9_content"),
    [(t, c, v9) for t, c, v9, _ in CONTENT_TABLE],
    ids=[row[0] for row in CONTENT_TABLE],
)
def test_v9_content_rules(event_type: str, content: dict[str, Any], v9_content: dict[str, Any]) -> None:
    assert redact_pdu(event(event_type, content), ROOM_VERSION_10)["content"] == v9_content


@pytest.mark.parametrize("room_version", V11_VERSIONS, ids=lambda v: v.identifier)
@pytest.mark.parametrize(
    ("event_type", "content", "v11_content"),
    [(t, c, v11) for t, c, _, v11 in CONTENT_TABLE],
    ids=[row[0] for row in CONTENT_TABLE],
)
def test_v11_content_rules(
    room_version: RoomVersion,
    event_type: str,
    content: dict[str, Any],
    v11_content: dict[str, Any],
) -> None:
    assert redact_pdu(event(event_type, content), room_version)["content"] == v11_content


@pytest.mark.parametrize("room_version", V11_VERSIONS, ids=lambda v: v.identifier)
def test_v11_third_party_invite_without_signed_becomes_empty_object(room_version: RoomVersion) -> None:
    content = {"membership": "invite", "third_party_invite": {"display_name": "x"}}
    redacted = redact_pdu(event("m.room.member", content), room_version)
    assert redacted["content"] == {"membership": "invite", "third_party_invite": {}}


@pytest.mark.parametrize("room_version", V11_VERSIONS, ids=lambda v: v.identifier)
def test_v11_non_object_third_party_invite_is_dropped(room_version: RoomVersion) -> None:
    content = {"membership": "invite", "third_party_invite": "nonsense"}
    assert redact_pdu(event("m.room.member", content), room_version)["content"] == {"membership": "invite"}


def test_v9_drops_third_party_invite_entirely() -> None:
    content = {"membership": "invite", "third_party_invite": {"signed": {"token": "t"}}}
    assert redact_pdu(event("m.room.member", content), ROOM_VERSION_10)["content"] == {"membership": "invite"}


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_missing_protected_content_keys_are_not_invented(room_version: RoomVersion) -> None:
    redacted = redact_pdu(event("m.room.power_levels", {"ban": 50}), room_version)
    assert redacted["content"] == {"ban": 50}


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
@pytest.mark.parametrize("bad_content", [None, "text", [1, 2]])
def test_non_object_content_becomes_empty(room_version: RoomVersion, bad_content: Any) -> None:
    redacted = redact_pdu(event("m.room.create", {}) | {"content": bad_content}, room_version)
    assert redacted["content"] == {}


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
def test_missing_content_becomes_empty(room_version: RoomVersion) -> None:
    pdu = event("m.room.message", {})
    del pdu["content"]
    assert redact_pdu(pdu, room_version)["content"] == {}


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
@pytest.mark.parametrize("row", CONTENT_TABLE, ids=[row[0] for row in CONTENT_TABLE])
def test_redaction_does_not_modify_input(room_version: RoomVersion, row: tuple[Any, ...]) -> None:
    pdu = event(row[0], copy.deepcopy(row[1]), unsigned={"age": 1}, origin="example.org")
    before = copy.deepcopy(pdu)
    redacted = redact_pdu(pdu, room_version)
    assert pdu == before
    assert redacted is not pdu and redacted["content"] is not pdu["content"]


@pytest.mark.parametrize("room_version", ALL_VERSIONS, ids=lambda v: v.identifier)
@pytest.mark.parametrize("row", CONTENT_TABLE, ids=[row[0] for row in CONTENT_TABLE])
def test_redaction_is_idempotent(room_version: RoomVersion, row: tuple[Any, ...]) -> None:
    once = redact_pdu(event(row[0], row[1]), room_version)
    assert redact_pdu(once, room_version) == once
