"""State resolution v2 (rooms v10, v11) and v2.1 (room v12) on hand-built forks.

spec: rooms/fragments/v2-state-res.md and rooms/v12.md, "State resolution".
Forks are built with ``RoomDag`` (tests/unit/test_auth_rules.py): each branch is a
state dict, and every event's auth_events are selected from its branch's state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from federation.rooms.events import Event, StateKey
from federation.rooms.state_res import (
    MissingEventError,
    auth_chain_ids,
    conflicted_state_subgraph,
    is_power_event,
    iterative_auth_checks,
    mainline_order,
    resolve_state,
    reverse_topological_power_order,
    split_conflicts,
)
from federation.rooms.versions import (
    ROOM_VERSION_10,
    ROOM_VERSION_11,
    ROOM_VERSION_12,
    RoomVersion,
)
from tests.unit.test_auth_rules import ALICE, BOB, CAROL, DAVE, RoomDag, standard_room

ALL_VERSIONS = [ROOM_VERSION_10, ROOM_VERSION_11, ROOM_VERSION_12]
TOPIC: StateKey = ("m.room.topic", "")
POWER_LEVELS: StateKey = ("m.room.power_levels", "")
JOIN_RULES: StateKey = ("m.room.join_rules", "")


@pytest.fixture(params=ALL_VERSIONS, ids=lambda v: f"v{v.identifier}")
def version(request: pytest.FixtureRequest) -> Iterator[RoomVersion]:
    yield request.param


def ids(branch: dict[StateKey, Event]) -> dict[StateKey, str]:
    return {key: event.event_id for key, event in branch.items()}


def resolve(room: RoomDag, *branches: dict[StateKey, Event]) -> dict[StateKey, str]:
    result = resolve_state(room.version, [ids(b) for b in branches], room.events, room.create)
    reversed_result = resolve_state(
        room.version, [ids(b) for b in reversed(branches)], room.events, room.create
    )
    assert result == reversed_result, "resolution must not depend on the order of the state sets"
    return result


def users(version: RoomVersion, **levels: int) -> dict[str, int]:
    names = {"bob": BOB, "carol": CAROL, "dave": DAVE}
    base = {} if version.privileged_creators else {ALICE: 100}
    return {**base, **{names[k]: v for k, v in levels.items()}}


def room_with_members(version: RoomVersion, **levels: int) -> RoomDag:
    """Public room; Alice created it; Bob, Carol and Dave have joined; levels as given."""
    room = standard_room(version, users=users(version, **levels))
    for user, event_id in ((BOB, "$bob-join"), (CAROL, "$carol-join"), (DAVE, "$dave-join")):
        room.member(event_id, user, "join")
    return room


# --- trivial cases ---------------------------------------------------------------------


def test_single_state_set_resolves_to_itself(version: RoomVersion) -> None:
    room = room_with_members(version)
    assert resolve(room, room.state) == ids(room.state)


def test_no_state_sets_resolve_to_empty_state(version: RoomVersion) -> None:
    room = RoomDag(version)
    assert resolve_state(version, [], room.events, room.create) == {}


def test_split_conflicts_counts_a_key_missing_from_one_set_as_conflicted() -> None:
    unconflicted, conflicted = split_conflicts(
        [{("a", ""): "$1", ("b", ""): "$2"}, {("a", ""): "$1", ("b", ""): "$3", ("c", ""): "$4"}]
    )
    assert unconflicted == {("a", ""): "$1"}
    assert conflicted == {"$2", "$3", "$4"}


def test_unconflicted_state_is_kept_alongside_resolved_conflicts(version: RoomVersion) -> None:
    room = room_with_members(version)
    room.append("$name", "m.room.name", ALICE, {"name": "shared"}, "")
    left, right = room.fork(), room.fork()
    room.append("$topic-a", "m.room.topic", ALICE, {"topic": "left"}, "", state=left)
    room.append("$avatar-b", "m.room.avatar", ALICE, {"url": "mxc://b/x"}, "", state=right)
    resolved = resolve(room, left, right)
    assert resolved[("m.room.name", "")] == "$name"
    assert resolved[TOPIC] == "$topic-a"
    assert resolved[("m.room.avatar", "")] == "$avatar-b"
    assert resolved[("m.room.member", DAVE)] == "$dave-join"


# --- power events race each other -------------------------------------------------------


def test_ban_beats_concurrent_power_level_change_by_the_banned_user(version: RoomVersion) -> None:
    room = room_with_members(version, bob=50)
    left, right = room.fork(), room.fork()
    room.append("$ban-bob", "m.room.member", ALICE, {"membership": "ban"}, BOB, state=left)
    room.append(
        "$bob-pl", "m.room.power_levels", BOB, {"users": users(version, bob=50, dave=50)}, "",
        state=right,
    )
    resolved = resolve(room, left, right)
    assert resolved[("m.room.member", BOB)] == "$ban-bob"
    assert resolved[POWER_LEVELS] == "$pl"


def test_demotion_beats_concurrent_kick_by_the_demoted_moderator(version: RoomVersion) -> None:
    room = room_with_members(version, bob=50)
    left, right = room.fork(), room.fork()
    room.append("$demote", "m.room.power_levels", ALICE, {"users": users(version)}, "",
                state=left, ts=5000)
    room.append("$kick-dave", "m.room.member", BOB, {"membership": "leave"}, DAVE,
                state=right, ts=4000)
    resolved = resolve(room, left, right)
    assert resolved[POWER_LEVELS] == "$demote"
    assert resolved[("m.room.member", DAVE)] == "$dave-join"


def test_banned_users_concurrent_topic_is_dropped(version: RoomVersion) -> None:
    room = room_with_members(version, bob=50)
    room.append("$topic0", "m.room.topic", ALICE, {"topic": "original"}, "")
    left, right = room.fork(), room.fork()
    room.append("$ban-bob", "m.room.member", ALICE, {"membership": "ban"}, BOB, state=left)
    room.append("$bob-topic", "m.room.topic", BOB, {"topic": "mine"}, "", state=right, ts=9999)
    resolved = resolve(room, left, right)
    assert resolved[("m.room.member", BOB)] == "$ban-bob"
    assert resolved[TOPIC] == "$topic0"


def test_join_rule_change_racing_a_join_rejects_the_join(version: RoomVersion) -> None:
    room = standard_room(version)
    left, right = room.fork(), room.fork()
    room.append("$jr-invite", "m.room.join_rules", ALICE, {"join_rule": "invite"}, "",
                state=left, ts=5000)
    room.append("$carol-join", "m.room.member", CAROL, {"membership": "join"}, CAROL,
                state=right, ts=6000)
    resolved = resolve(room, left, right)
    assert resolved[JOIN_RULES] == "$jr-invite"
    assert ("m.room.member", CAROL) not in resolved


# --- non-power events: mainline ordering --------------------------------------------------


def test_topic_war_later_timestamp_wins_on_the_same_mainline(version: RoomVersion) -> None:
    room = room_with_members(version, bob=50)
    left, right = room.fork(), room.fork()
    room.append("$topic-alice", "m.room.topic", ALICE, {"topic": "a"}, "", state=left, ts=5000)
    room.append("$topic-bob", "m.room.topic", BOB, {"topic": "b"}, "", state=right, ts=6000)
    assert resolve(room, left, right)[TOPIC] == "$topic-bob"


def test_topic_war_tie_on_timestamp_is_broken_by_event_id(version: RoomVersion) -> None:
    room = room_with_members(version, bob=50)
    left, right = room.fork(), room.fork()
    room.append("$topic-b", "m.room.topic", ALICE, {"topic": "a"}, "", state=left, ts=5000)
    room.append("$topic-a", "m.room.topic", BOB, {"topic": "b"}, "", state=right, ts=5000)
    assert resolve(room, left, right)[TOPIC] == "$topic-b"


def test_topic_war_higher_power_wins_by_mainline_despite_earlier_timestamp(
    version: RoomVersion,
) -> None:
    room = room_with_members(version, bob=50)
    left, right = room.fork(), room.fork()
    # Alice builds on a newer power levels event; Bob's topic is based on the older one.
    room.append("$pl2", "m.room.power_levels", ALICE,
                {"users": users(version, bob=50, carol=10)}, "", state=left, ts=4000)
    room.append("$topic-alice", "m.room.topic", ALICE, {"topic": "a"}, "", state=left, ts=4100)
    room.append("$topic-bob", "m.room.topic", BOB, {"topic": "b"}, "", state=right, ts=9000)
    resolved = resolve(room, left, right)
    assert resolved[POWER_LEVELS] == "$pl2"
    assert resolved[TOPIC] == "$topic-alice"


def test_mainline_order_puts_events_on_older_power_levels_first(version: RoomVersion) -> None:
    room = room_with_members(version, bob=50)
    old_topic = room.append("$t-old", "m.room.topic", BOB, {"topic": "1"}, "", ts=9000)
    pl2 = room.append("$pl2", "m.room.power_levels", ALICE,
                      {"users": users(version, bob=50, carol=1)}, "")
    new_topic = room.append("$t-new", "m.room.topic", BOB, {"topic": "2"}, "", ts=8000)
    no_pl = Event("$no-pl", {**new_topic.pdu, "auth_events": []}, version)
    ordered = mainline_order([new_topic, no_pl, old_topic], pl2, room.events)
    assert [e.event_id for e in ordered] == ["$no-pl", "$t-old", "$t-new"]


# --- room version 12: v2.1 and creators ---------------------------------------------------


def _kick_with_stale_power(version: RoomVersion) -> tuple[RoomDag, dict[StateKey, Event],
                                                           dict[StateKey, Event]]:
    """Bob kicks Dave while a moderator; Alice's demotion of Bob is in *both* state sets.

    The demotion is unconflicted, so only the kick and Dave's join are conflicted.
    """
    room = room_with_members(version, bob=50)
    base = room.fork()
    room.append("$kick-dave", "m.room.member", BOB, {"membership": "leave"}, DAVE, state=base)
    demote_branch = room.fork()
    room.append("$demote", "m.room.power_levels", ALICE, {"users": users(version)}, "",
                state=demote_branch)
    with_kick = {**room.state, POWER_LEVELS: room.events["$demote"],
                 ("m.room.member", DAVE): room.events["$kick-dave"]}
    without_kick = {**room.state, POWER_LEVELS: room.events["$demote"]}
    return room, with_kick, without_kick


@pytest.mark.parametrize("version", [ROOM_VERSION_10, ROOM_VERSION_11], ids=["v10", "v11"])
def test_v2_checks_power_events_against_the_unconflicted_state(version: RoomVersion) -> None:
    room, with_kick, without_kick = _kick_with_stale_power(version)
    resolved = resolve(room, with_kick, without_kick)
    assert resolved[POWER_LEVELS] == "$demote"
    assert resolved[("m.room.member", DAVE)] == "$dave-join"


def test_v2_1_checks_power_events_from_an_empty_state() -> None:
    # spec: rooms/v12.md, state resolution step 2 starts from an empty state map, so the
    # kick is authorised by its own auth events, not by the unconflicted demotion.
    room, with_kick, without_kick = _kick_with_stale_power(ROOM_VERSION_12)
    resolved = resolve(room, with_kick, without_kick)
    assert resolved[POWER_LEVELS] == "$demote"
    assert resolved[("m.room.member", DAVE)] == "$kick-dave"


def test_v12_creator_power_events_are_ordered_before_any_user() -> None:
    version = ROOM_VERSION_12
    room = room_with_members(version, bob=1000)
    left, right = room.fork(), room.fork()
    room.append("$demote", "m.room.power_levels", ALICE, {"users": {BOB: 0}}, "",
                state=left, ts=9000)
    room.append("$kick-dave", "m.room.member", BOB, {"membership": "leave"}, DAVE,
                state=right, ts=1)
    resolved = resolve(room, left, right)
    assert resolved[POWER_LEVELS] == "$demote"
    assert resolved[("m.room.member", DAVE)] == "$dave-join"


def test_v12_additional_creator_cannot_be_kicked_in_a_fork() -> None:
    version = ROOM_VERSION_12
    room = RoomDag(version, create_content={"additional_creators": [CAROL]})
    room.member("$alice-join", ALICE, "join")
    room.append("$pl", "m.room.power_levels", ALICE, {"users": {BOB: 100}}, "")
    room.append("$jr", "m.room.join_rules", ALICE, {"join_rule": "public"}, "")
    room.member("$bob-join", BOB, "join")
    room.member("$carol-join", CAROL, "join")
    left, right = room.fork(), room.fork()
    kick = room.build("$kick-carol", "m.room.member", BOB, {"membership": "leave"}, CAROL,
                      state=left)
    room.events[kick.event_id] = kick  # a malicious server's fork: the kick is not authorised
    left[kick.state_tuple] = kick
    room.append("$carol-topic", "m.room.topic", CAROL, {"topic": "x"}, "", state=right)
    resolved = resolve(room, left, right)
    assert resolved[("m.room.member", CAROL)] == "$carol-join"
    assert resolved[TOPIC] == "$carol-topic"


# --- the building blocks --------------------------------------------------------------------


def _synthetic(event_id: str, auth: list[str], ts: int = 0, sender: str = ALICE,
               **fields: Any) -> Event:
    pdu = {"type": "m.room.topic", "state_key": "", "sender": sender, "room_id": "!r:a.example",
           "content": {}, "auth_events": auth, "prev_events": [], "origin_server_ts": ts, **fields}
    return Event(event_id, pdu, ROOM_VERSION_11)


def test_power_events_are_power_levels_join_rules_kicks_and_bans(version: RoomVersion) -> None:
    room = room_with_members(version, bob=50)
    assert is_power_event(room.events["$pl"])
    assert is_power_event(room.events["$jr"])
    assert is_power_event(room.build_member("$kick", BOB, "leave", DAVE))
    assert is_power_event(room.build_member("$ban", BOB, "ban", DAVE))
    assert not is_power_event(room.build_member("$leave", DAVE, "leave"))
    assert not is_power_event(room.build_member("$invite", BOB, "invite", "@erin:e.example"))
    assert not is_power_event(room.build("$topic", "m.room.topic", BOB, {"topic": "t"}, ""))


def test_auth_chain_follows_auth_events_transitively() -> None:
    events = {e.event_id: e for e in [
        _synthetic("$a", []), _synthetic("$b", ["$a"]), _synthetic("$c", ["$b"]),
        _synthetic("$d", ["$a", "$c"]), _synthetic("$other", []),
    ]}
    assert auth_chain_ids(["$d"], events) == {"$a", "$b", "$c"}
    assert auth_chain_ids(["$d", "$b"], events) == {"$a", "$b", "$c"}
    assert auth_chain_ids(["$a"], events) == set()


def test_missing_auth_event_is_reported() -> None:
    events = {"$b": _synthetic("$b", ["$a"])}
    with pytest.raises(MissingEventError) as raised:
        auth_chain_ids(["$b"], events)
    assert raised.value.event_id == "$a"


def test_conflicted_state_subgraph_holds_paths_between_conflicted_events() -> None:
    # c1 -> x -> y -> c2 -> root, and c1 -> z -> root: z and root lead to no conflicted event.
    events = {e.event_id: e for e in [
        _synthetic("$root", []), _synthetic("$c2", ["$root"]), _synthetic("$y", ["$c2"]),
        _synthetic("$x", ["$y"]), _synthetic("$z", ["$root"]), _synthetic("$c1", ["$x", "$z"]),
        _synthetic("$c3", ["$root"]),
    ]}
    assert conflicted_state_subgraph({"$c1", "$c2", "$c3"}, events) == {
        "$c1", "$x", "$y", "$c2", "$c3",
    }


def test_reverse_topological_power_order_tie_breaks(version: RoomVersion) -> None:
    room = room_with_members(version, bob=50, carol=50)
    pl = room.events["$pl"]
    base = [pl.event_id]
    bob_late = Event("$bob-late", {**_synthetic("", base, ts=20, sender=BOB).pdu}, version)
    carol_early = Event("$carol", {**_synthetic("", base, ts=10, sender=CAROL).pdu}, version)
    bob_early_b = Event("$b", {**_synthetic("", base, ts=10, sender=BOB).pdu}, version)
    alice_late = Event("$alice", {**_synthetic("", base, ts=99, sender=ALICE).pdu}, version)
    child = Event("$child", {**_synthetic("", ["$b"], ts=0, sender=ALICE).pdu}, version)
    events: dict[str, Event] = {**room.events}
    for e in (bob_late, carol_early, bob_early_b, alice_late, child):
        events[e.event_id] = e
    ordered = reverse_topological_power_order(
        {e.event_id for e in (bob_late, carol_early, bob_early_b, alice_late, child)},
        events, room.create, version,
    )
    # Alice (100 or a creator) first; equal power by ts then ID; $child waits for its auth event.
    assert [e.event_id for e in ordered] == ["$alice", "$b", "$child", "$carol", "$bob-late"]


def test_iterative_auth_checks_ignore_rejected_auth_events(version: RoomVersion) -> None:
    room = room_with_members(version, bob=50)
    topic = room.build("$bob-topic", "m.room.topic", BOB, {"topic": "t"}, "")
    needed = {k: v for k, v in room.state.items() if k != POWER_LEVELS}
    state = dict(needed)
    iterative_auth_checks([topic], state, room.events, room.create)
    assert state[TOPIC] is topic  # Bob's power came from his own (accepted) auth events

    pl = room.events["$pl"]
    events = {**room.events, "$pl": Event("$pl", pl.pdu, version, rejected_reason="bad")}
    state = dict(needed)
    iterative_auth_checks([topic], state, events, room.create)
    assert TOPIC not in state


# --- the full conflicted set: auth difference and (v12) conflicted state subgraph -----------


def test_auth_difference_replays_superseded_power_levels(version: RoomVersion) -> None:
    # Carol (100) raises Bob to 100, then Bob promotes Dave; concurrently Carol adds Erin.
    # The raise is only in one branch's auth chain; replaying it (as part of the auth
    # difference) rejects Carol's concurrent change, which would demote Bob.
    room = room_with_members(version, bob=50, carol=100)
    left, right = room.fork(), room.fork()
    room.append("$raise-bob", "m.room.power_levels", CAROL,
                {"users": users(version, bob=100, carol=100)}, "", state=left, ts=5100)
    room.append("$bob-promotes", "m.room.power_levels", BOB,
                {"users": users(version, bob=100, carol=100, dave=100)}, "", state=left, ts=5300)
    room.append("$carol-adds", "m.room.power_levels", CAROL,
                {"users": {**users(version, bob=50, carol=100), "@erin:e.example": 10}}, "",
                state=right, ts=5200)
    assert resolve(room, left, right)[POWER_LEVELS] == "$bob-promotes"


def _stale_power_levels_fork(version: RoomVersion) -> tuple[RoomDag, dict[StateKey, Event],
                                                            dict[StateKey, Event]]:
    """Bob is raised ($raise-bob), a topic is set under that, then Bob promotes Dave.

    The second state set is stale: it has the first power levels ($pl) but the same topic,
    so $raise-bob is in both full auth chains (not in the auth difference) yet lies on the
    auth path $bob-promotes -> $raise-bob -> $pl between the two conflicted events.
    """
    room = room_with_members(version, bob=50)
    room.append("$raise-bob", "m.room.power_levels", ALICE, {"users": users(version, bob=100)}, "")
    room.append("$topic", "m.room.topic", ALICE, {"topic": "t"}, "")
    room.append("$bob-promotes", "m.room.power_levels", BOB,
                {"users": users(version, bob=100, dave=100)}, "")
    current = dict(room.state)
    stale = {**room.state, POWER_LEVELS: room.events["$pl"]}
    return room, current, stale


@pytest.mark.parametrize("version", [ROOM_VERSION_10, ROOM_VERSION_11], ids=["v10", "v11"])
def test_v2_resets_power_levels_when_a_stale_state_set_skips_the_path(
    version: RoomVersion,
) -> None:
    room, current, stale = _stale_power_levels_fork(version)
    assert resolve(room, current, stale)[POWER_LEVELS] == "$pl"


def test_v2_1_conflicted_state_subgraph_prevents_the_power_levels_reset() -> None:
    room, current, stale = _stale_power_levels_fork(ROOM_VERSION_12)
    assert resolve(room, current, stale)[POWER_LEVELS] == "$bob-promotes"
