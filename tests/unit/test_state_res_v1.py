"""State resolution v1 (room version 1), case by case.

spec: rooms/v1.md, "State resolution": only different event IDs for one key conflict;
power levels, then join rules, then memberships are resolved by ascending depth and
descending SHA-1 of the event ID, each next event kept while the auth rules allow it
with its predecessor in place; any other conflict takes the highest depth (lowest SHA-1)
that passes the auth rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from federation.rooms.events import Event, StateKey
from federation.rooms.state_res import resolve_state
from federation.rooms.state_res_v1 import separate_v1
from federation.rooms.versions import ROOM_VERSION_1, ROOM_VERSION_2, RoomVersion
from tests.unit.test_auth_rules import ALICE, BOB, CAROL, RoomDag, standard_room

TOPIC: StateKey = ("m.room.topic", "")
PL: StateKey = ("m.room.power_levels", "")


def ids(state: Mapping[StateKey, Event]) -> dict[StateKey, str]:
    return {k: e.event_id for k, e in state.items()}


def resolve(room: RoomDag, *branches: Mapping[StateKey, Event]) -> dict[StateKey, str]:
    return resolve_state(room.version, [ids(b) for b in branches], room.events, room.create)


def room_with_bob(version: RoomVersion = ROOM_VERSION_1) -> RoomDag:
    room = standard_room(version, users={BOB: 50})
    room.member("$bob:b.example", BOB, "join")
    return room


def test_separation_takes_a_key_missing_from_some_states_as_unconflicted() -> None:
    unconflicted, conflicted = separate_v1([
        {("a", ""): "$1", ("b", ""): "$2"},
        {("a", ""): "$1", ("b", ""): "$3", ("c", ""): "$4"},
        {("b", ""): "$5"},
    ])
    assert unconflicted == {("a", ""): "$1", ("c", ""): "$4"}
    assert conflicted == {("b", ""): {"$2", "$3", "$5"}}


def test_no_conflict_is_the_union() -> None:
    room = room_with_bob()
    a, b = room.fork(), room.fork()
    room.append("$t:a.example", "m.room.topic", ALICE, {"topic": "A"}, "", state=a)
    assert resolve(room, a, b) == ids(a)


def test_conflicting_topics_highest_depth_wins() -> None:
    room = room_with_bob()
    a, b = room.fork(), room.fork()
    room.append("$ta:a.example", "m.room.topic", ALICE, {"topic": "A"}, "", state=a, depth=10)
    room.append("$tb:b.example", "m.room.topic", BOB, {"topic": "B"}, "", state=b, depth=11)
    assert resolve(room, a, b)[TOPIC] == "$tb:b.example"
    assert resolve(room, b, a)[TOPIC] == "$tb:b.example"


def test_equal_depth_takes_the_lowest_sha1_of_the_event_id() -> None:
    room = room_with_bob()
    a, b = room.fork(), room.fork()
    room.append("$one:a.example", "m.room.topic", ALICE, {"topic": "A"}, "", state=a, depth=10)
    room.append("$two:b.example", "m.room.topic", BOB, {"topic": "B"}, "", state=b, depth=10)
    lowest = min(["$one:a.example", "$two:b.example"], key=lambda i: hashlib.sha1(i.encode()).hexdigest())
    assert resolve(room, a, b)[TOPIC] == lowest


def test_a_topic_not_allowed_under_the_resolved_power_levels_loses() -> None:
    room = room_with_bob()
    room.append("$t0:a.example", "m.room.topic", ALICE, {"topic": "original"}, "", depth=5)
    a, b = room.fork(), room.fork()
    room.append("$pl2:a.example", "m.room.power_levels", ALICE,
                {"users": {ALICE: 100, BOB: 50}, "events": {"m.room.topic": 100}}, "", state=a, depth=10)
    room.append("$ta:a.example", "m.room.topic", ALICE, {"topic": "A"}, "", state=a, depth=11)
    room.append("$tb:b.example", "m.room.topic", BOB, {"topic": "B"}, "", state=b, depth=12)
    resolved = resolve(room, a, b)
    assert resolved[PL] == "$pl2:a.example"
    assert resolved[TOPIC] == "$ta:a.example"  # bob's, though deeper, fails with topic at 100


def test_power_levels_pass_stops_at_the_first_that_is_not_allowed() -> None:
    room = room_with_bob()
    a, b = room.fork(), room.fork()
    # alice demotes bob; bob, on his branch, hands carol 10
    room.append("$demote:a.example", "m.room.power_levels", ALICE, {"users": {ALICE: 100}}, "",
                state=a, depth=10)
    room.append("$carol:b.example", "m.room.power_levels", BOB,
                {"users": {ALICE: 100, BOB: 50, CAROL: 10}}, "", state=b, depth=12)
    # ascending depth: $pl, $demote (allowed), $carol (bob has 0 now: stop)
    assert resolve(room, a, b)[PL] == "$demote:a.example"


def test_deeper_power_levels_win_when_allowed() -> None:
    room = room_with_bob()
    a, b = room.fork(), room.fork()
    room.append("$carol:b.example", "m.room.power_levels", BOB,
                {"users": {ALICE: 100, BOB: 50, CAROL: 10}}, "", state=b, depth=10)
    room.append("$demote:a.example", "m.room.power_levels", ALICE, {"users": {ALICE: 100}}, "",
                state=a, depth=12)
    assert resolve(room, a, b)[PL] == "$demote:a.example"


def test_a_ban_beats_a_later_join_of_the_banned_user() -> None:
    room = room_with_bob()
    a, b = room.fork(), room.fork()
    room.append("$ban:a.example", "m.room.member", ALICE, {"membership": "ban"}, BOB, state=a, depth=10)
    room.append("$rename:b.example", "m.room.member", BOB, {"membership": "join", "displayname": "Bobby"},
                BOB, state=b, depth=11)
    # ascending: ban (10), then bob's join (11) is not allowed with the ban in place
    assert resolve(room, a, b)[("m.room.member", BOB)] == "$ban:a.example"


def test_resolved_join_rules_decide_the_membership_pass() -> None:
    room = standard_room(ROOM_VERSION_1, join_rule="public")
    a, b = room.fork(), room.fork()
    room.append("$invite-only:a.example", "m.room.join_rules", ALICE, {"join_rule": "invite"}, "",
                state=a, depth=10)
    room.append("$carol-joins:c.example", "m.room.member", CAROL, {"membership": "join"}, CAROL,
                state=b, depth=11)
    resolved = resolve(room, a, b)
    assert resolved[("m.room.join_rules", "")] == "$invite-only:a.example"
    # carol's join is only in b: in v1 that is not a conflict, so it stays
    assert resolved[("m.room.member", CAROL)] == "$carol-joins:c.example"


def test_version_2_treats_the_same_states_differently() -> None:
    """The key only one side has is a conflict in v2 and goes through the auth checks."""
    results = {}
    for version in (ROOM_VERSION_1, ROOM_VERSION_2):
        room = standard_room(version, join_rule="public")
        a, b = room.fork(), room.fork()
        room.append("$invite-only:a.example", "m.room.join_rules", ALICE, {"join_rule": "invite"}, "",
                    state=a, depth=10)
        room.append("$carol-joins:c.example", "m.room.member", CAROL, {"membership": "join"}, CAROL,
                    state=b, depth=11)
        results[version.identifier] = resolve(room, a, b).get(("m.room.member", CAROL))
    assert results == {"1": "$carol-joins:c.example", "2": None}


def test_all_candidates_failing_takes_the_least_deep() -> None:
    room = room_with_bob()
    a, b = room.fork(), room.fork()
    room.append("$pl2:a.example", "m.room.power_levels", ALICE,
                {"users": {ALICE: 100, BOB: 50}, "events": {"m.room.topic": 100}}, "", state=a, depth=10)
    room.append("$tb1:b.example", "m.room.topic", BOB, {"topic": "B1"}, "", state=b, depth=11)
    c = room.fork()
    room.append("$tb2:b.example", "m.room.topic", BOB, {"topic": "B2"}, "", state=c, depth=13)
    # both topics by bob fail once the topic needs 100: the one with the least depth stays
    assert resolve(room, a, b, c)[TOPIC] == "$tb1:b.example"


def test_conflicted_events_missing_from_the_map_are_left_out() -> None:
    room = room_with_bob()
    a, b = room.fork(), room.fork()
    room.append("$ta:a.example", "m.room.topic", ALICE, {"topic": "A"}, "", state=a, depth=10)
    sets = [ids(a), {**ids(b), TOPIC: "$unknown:x.example"}]
    assert resolve_state(ROOM_VERSION_1, sets, room.events, room.create)[TOPIC] == "$ta:a.example"
