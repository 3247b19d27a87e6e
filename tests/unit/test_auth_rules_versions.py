"""Where the authorisation rules of room versions 1-10 differ, one table per difference.

spec: rooms/fragments/v1-auth-rules.md (v1, v2: rule 4 for m.room.aliases, rule 11 for
redactions), v3-auth-rules.md (v3-v5), rooms/v6.md (aliases rule gone, notifications
checked), v7.md (knocking), v8-auth-rules.md (restricted joins), v10.md (knock_restricted,
integer-only power levels); v1-stringy-power-levels.md, v1-floaty-power-levels.md.
"""

from __future__ import annotations

from typing import Any

import pytest

from federation.rooms.auth import AuthError, check_auth_rules
from federation.rooms.events import Event
from federation.rooms.power_levels import parse_power_level, user_power_level
from federation.rooms.versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.unit.test_auth_rules import (
    ALICE,
    BOB,
    CAROL,
    RoomDag,
    signed_by_listed_servers,
    standard_room,
)

V = KNOWN_ROOM_VERSIONS


def versions(first: int, last: int) -> list[RoomVersion]:
    return [V[str(n)] for n in range(first, last + 1)]


def allowed(room: RoomDag, event_id: str, event_type: str, sender: str, content: dict[str, Any],
            state_key: str | None = None, **extra: Any) -> bool:
    event = room.build(event_id, event_type, sender, content, state_key, **extra)
    try:
        room.check(event, is_signed_by=signed_by_listed_servers)
    except AuthError:
        return False
    return True


# --- m.room.aliases (v1-v5 rule 4) --------------------------------------------------------
@pytest.mark.parametrize("version", versions(1, 12), ids=lambda v: f"v{v.identifier}")
def test_a_server_sets_its_own_aliases_without_joining_only_before_v6(version: RoomVersion) -> None:
    room = standard_room(version)
    own = allowed(room, "$al", "m.room.aliases", BOB, {"aliases": ["#b:b.example"]}, "b.example")
    assert own is version.special_case_aliases
    # another server's aliases, or no state_key: never
    assert not allowed(room, "$al2", "m.room.aliases", BOB, {"aliases": []}, "a.example")
    assert not allowed(room, "$al3", "m.room.aliases", BOB, {"aliases": []})


def test_from_v6_aliases_are_a_plain_state_event() -> None:
    room = standard_room(V["6"])
    room.member("$bob", BOB, "join")
    assert not allowed(room, "$al", "m.room.aliases", BOB, {"aliases": []}, "b.example")  # state_default 50
    assert allowed(room, "$al2", "m.room.aliases", ALICE, {"aliases": []}, "b.example")


# --- m.room.redaction (v1, v2 rule 11) -------------------------------------------------------
@pytest.mark.parametrize("version", versions(1, 4), ids=lambda v: f"v{v.identifier}")
def test_redaction_needs_redact_level_or_the_same_event_id_server_in_v1_and_v2(
    version: RoomVersion,
) -> None:
    room = standard_room(version)
    room.member("$bob:b.example", BOB, "join")
    room.append("$alices:a.example", "m.room.message", ALICE, {"body": "a"})
    room.append("$bobs:b.example", "m.room.message", BOB, {"body": "b"})
    # bob (level 0 < redact 50) redacting alice's event
    foreign = allowed(room, "$r1:b.example", "m.room.redaction", BOB, {}, redacts="$alices:a.example")
    assert foreign is not version.redaction_auth_rule  # v3+: the auth rules let it through
    # bob redacting an event his server created (rule 11.2)
    assert allowed(room, "$r2:b.example", "m.room.redaction", BOB, {}, redacts="$bobs:b.example")
    # alice has the redact level (rule 11.1)
    assert allowed(room, "$r3:a.example", "m.room.redaction", ALICE, {}, redacts="$bobs:b.example")


# --- notifications power levels (v6+) ----------------------------------------------------------
@pytest.mark.parametrize("version", versions(1, 10), ids=lambda v: f"v{v.identifier}")
def test_notifications_levels_are_guarded_from_v6(version: RoomVersion) -> None:
    room = standard_room(version, users={BOB: 50}, notifications={"room": 100})
    room.member("$bob", BOB, "join")
    content = {"users": {ALICE: 100, BOB: 50}, "notifications": {"room": 0}}
    assert allowed(room, "$pl2", "m.room.power_levels", BOB, content, "") is (
        not version.limit_notifications_power_levels
    )


# --- knocking (v7+, knock_restricted from v10) ----------------------------------------------------
@pytest.mark.parametrize("version", versions(1, 10), ids=lambda v: f"v{v.identifier}")
@pytest.mark.parametrize("join_rule", ["knock", "knock_restricted"])
def test_knock_needs_v7_and_knock_restricted_needs_v10(version: RoomVersion, join_rule: str) -> None:
    room = standard_room(version, join_rule=join_rule)
    expected = version.knock_join_rule if join_rule == "knock" else version.knock_restricted_join_rule
    assert allowed(room, "$knock", "m.room.member", BOB, {"membership": "knock"}, BOB) is expected


@pytest.mark.parametrize("version", versions(1, 10), ids=lambda v: f"v{v.identifier}")
def test_invited_user_joins_a_knock_room_from_v7(version: RoomVersion) -> None:
    room = standard_room(version, join_rule="knock")
    room.member("$invite", ALICE, "invite", BOB)
    assert allowed(room, "$join", "m.room.member", BOB, {"membership": "join"}, BOB) is version.knock_join_rule


# --- restricted joins (v8+) -------------------------------------------------------------------------
@pytest.mark.parametrize("version", versions(1, 10), ids=lambda v: f"v{v.identifier}")
def test_restricted_join_through_an_authorising_user_from_v8(version: RoomVersion) -> None:
    room = standard_room(version, join_rule="restricted")
    content = {"membership": "join", "join_authorised_via_users_server": ALICE}
    signed = {"signatures": {"b.example": {}, "a.example": {}}}
    assert allowed(room, "$join", "m.room.member", BOB, content, BOB, **signed) is version.restricted_join_rule


@pytest.mark.parametrize("version", versions(1, 10), ids=lambda v: f"v{v.identifier}")
def test_authorising_servers_signature_is_required_only_from_v8(version: RoomVersion) -> None:
    room = standard_room(version, join_rule="public")
    content = {"membership": "join", "join_authorised_via_users_server": CAROL}
    unsigned_by_carol = {"signatures": {"b.example": {}}}
    assert allowed(room, "$join", "m.room.member", BOB, content, BOB, **unsigned_by_carol) is (
        not version.restricted_join_rule
    )


@pytest.mark.parametrize("version", versions(7, 10), ids=lambda v: f"v{v.identifier}")
def test_knocking_user_may_leave(version: RoomVersion) -> None:
    room = standard_room(version, join_rule="knock")
    room.member("$knock", BOB, "knock")
    assert allowed(room, "$leave", "m.room.member", BOB, {"membership": "leave"}, BOB)


# --- power levels as strings (v1-v9) and floats (v1-v5) ------------------------------------------
@pytest.mark.parametrize(
    ("raw", "level"),
    [(50, 50), ("50", 50), (" +050 ", 50), ("-7", -7), ("000100", 100), (50.57, 50), (-1.9, -1),
     (5.114698e4, 51146), ("5.5", None), ("1e3", None), ("", None), ("1_000", None), ("٣", None),
     (True, None), (None, None), ([50], None), (float("inf"), None), (1e300, None)],
)
def test_power_level_values_as_v1_to_v9_write_them(raw: Any, level: int | None) -> None:
    assert parse_power_level(raw) == level


@pytest.mark.parametrize("version", versions(1, 12), ids=lambda v: f"v{v.identifier}")
def test_string_user_levels_are_valid_until_v10(version: RoomVersion) -> None:
    room = standard_room(version)
    content = {"users": {ALICE: 100, BOB: "50"}} if not version.privileged_creators else {"users": {BOB: "50"}}
    assert allowed(room, "$pl2", "m.room.power_levels", ALICE, content, "") is (
        not version.strict_integer_power_levels
    )


@pytest.mark.parametrize("version", versions(1, 10), ids=lambda v: f"v{v.identifier}")
def test_float_user_levels_are_valid_until_v6(version: RoomVersion) -> None:
    room = standard_room(version)
    content = {"users": {ALICE: 100, BOB: 50.5}}
    assert allowed(room, "$pl2", "m.room.power_levels", ALICE, content, "") is (
        not version.strict_canonical_json
    )


@pytest.mark.parametrize("version", versions(1, 10), ids=lambda v: f"v{v.identifier}")
def test_other_levels_are_checked_as_integers_only_from_v10(version: RoomVersion) -> None:
    room = standard_room(version)
    content = {"users": {ALICE: 100}, "ban": "50", "events": {"m.room.name": "50"}}
    assert allowed(room, "$pl2", "m.room.power_levels", ALICE, content, "") is (
        not version.strict_integer_power_levels
    )


@pytest.mark.parametrize("version", versions(1, 9), ids=lambda v: f"v{v.identifier}")
def test_string_levels_give_power(version: RoomVersion) -> None:
    room = standard_room(version, users={BOB: "60"}, events={"m.room.topic": "55"}, invite="70")
    room.member("$bob", BOB, "join")
    assert user_power_level(BOB, room.state[("m.room.power_levels", "")].content, room.create, version) == 60
    assert allowed(room, "$topic", "m.room.topic", BOB, {"topic": "t"}, "")
    assert not allowed(room, "$inv", "m.room.member", BOB, {"membership": "invite"}, CAROL)
    # bob at "60" may not give carol more than his own level
    content = {"users": {ALICE: 100, BOB: "60", CAROL: "61"}}
    assert not allowed(room, "$pl3", "m.room.power_levels", BOB, content, "")


@pytest.mark.parametrize("version", versions(1, 12), ids=lambda v: f"v{v.identifier}")
def test_create_needs_content_creator_until_v11(version: RoomVersion) -> None:
    pdu: dict[str, Any] = {
        "type": "m.room.create", "state_key": "", "sender": ALICE, "content": {"room_version": version.identifier},
        "prev_events": [], "auth_events": [], "depth": 1, "origin_server_ts": 1,
    }
    if not version.hash_room_ids:
        pdu["room_id"] = "!r:a.example"
    try:
        check_auth_rules(Event("$c:a.example", pdu, version), {})
        accepted = True
    except AuthError as e:
        assert "creator" in str(e)
        accepted = False
    assert accepted is version.creator_is_sender
