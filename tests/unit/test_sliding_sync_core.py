"""The pure pieces of Simplified Sliding Sync (MSC4186): ordering, ranges,
required_state, list filters, pos tokens and per-connection memory."""

from __future__ import annotations

import pytest

from homeserver.core.sliding_sync import (
    BUMP_EVENT_TYPES,
    ListFilter,
    Pos,
    RequiredState,
    RoomFacts,
    RoomParams,
    range_slices,
    sort_by_recency,
    window,
)
from homeserver.core.sliding_sync_connections import (
    POSITIONS_KEPT,
    RoomSent,
    SlidingSyncConnections,
    Snapshot,
)
from homeserver.core.stream_token import StreamToken
from homeserver.errors import MatrixError
from schemas.client.sliding_sync import SlidingSyncRequest

ME = "@me:hs"
STATE = [
    ("m.room.create", ""),
    ("m.room.name", ""),
    ("m.room.member", ME),
    ("m.room.member", "@a:hs"),
    ("m.room.member", "@b:hs"),
    ("m.space.child", "!c:hs"),
]


# --- ordering and ranges ---------------------------------------------------------------


def test_rooms_sorted_by_most_recent_bump_then_room_id() -> None:
    assert sort_by_recency({"!a": 5, "!b": 9, "!c": 5, "!d": 1}) == ["!b", "!a", "!c", "!d"]


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        ([[0, 1]], [((0, 1), ["!0", "!1"])]),
        ([[0, 0], [3, 9]], [((0, 0), ["!0"]), ((3, 9), ["!3", "!4"])]),
        ([[7, 9]], [((7, 9), [])]),
        (None, [((0, 4), ["!0", "!1", "!2", "!3", "!4"])]),
    ],
)
def test_range_slices_are_inclusive_and_stop_at_the_end(
    ranges: list[list[int]] | None, expected: list[tuple[tuple[int, int], list[str]]]
) -> None:
    ids = [f"!{i}" for i in range(5)]
    assert range_slices(ids, ranges) == expected


def test_window_of_overlapping_ranges_has_each_room_once_in_list_order() -> None:
    ids = [f"!{i}" for i in range(6)]
    assert window(ids, [[3, 4], [0, 3]]) == ["!0", "!1", "!2", "!3", "!4"]
    assert window(ids, None) == ids
    assert range_slices([], None) == []


# --- required_state --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "lazy", "expected"),
    [
        ([], set(), []),
        ([["*", "*"]], set(), STATE),
        ([["m.room.name", ""]], set(), [("m.room.name", "")]),
        ([["m.room.member", "*"]], set(), [k for k in STATE if k[0] == "m.room.member"]),
        ([["m.room.member", "$ME"]], set(), [("m.room.member", ME)]),
        ([["m.room.member", "$LAZY"]], {"@b:hs"}, [("m.room.member", "@b:hs")]),
        ([["m.room.member", "$LAZY"]], set(), []),
        ([["*", ""]], set(), [("m.room.create", ""), ("m.room.name", "")]),
        ([["m.room.create", ""], ["m.space.child", "*"]], set(), [("m.room.create", ""), ("m.space.child", "!c:hs")]),
        ([["m.room.topic", ""]], set(), []),
    ],
)
def test_required_state_selects_what_it_names(
    pairs: list[list[str]], lazy: set[str], expected: list[tuple[str, str]]
) -> None:
    assert RequiredState.of(pairs).select(STATE, ME, lazy) == expected


def test_lazy_is_only_for_member_events() -> None:
    required = RequiredState.of([["m.room.name", "$LAZY"]])
    assert not required.wants(("m.room.name", "@b:hs"), ME, {"@b:hs"})
    assert RequiredState.of([["m.room.member", "$LAZY"]]).lazy_members


def test_room_params_merge_takes_the_union_and_largest_limit() -> None:
    a = RoomParams(1, RequiredState.of([["m.room.name", ""]]))
    b = RoomParams(20, RequiredState.of([["m.room.avatar", ""]]))
    merged = a.merged(b)
    assert merged.timeline_limit == 20
    assert merged.required_state.pairs == {("m.room.name", ""), ("m.room.avatar", "")}


def test_bump_types_are_activity_not_state() -> None:
    assert "m.room.message" in BUMP_EVENT_TYPES and "m.room.encrypted" in BUMP_EVENT_TYPES
    assert "m.room.member" not in BUMP_EVENT_TYPES and "m.reaction" not in BUMP_EVENT_TYPES


# --- list filters ----------------------------------------------------------------------


ROOM = RoomFacts(is_dm=False, is_encrypted=True, is_invite=False, room_type=None)
SPACE = RoomFacts(is_dm=False, is_encrypted=False, is_invite=True, room_type="m.space",
                  parent_spaces=frozenset({"!s"}))


@pytest.mark.parametrize(
    ("list_filter", "room_ok", "space_ok"),
    [
        (ListFilter(), True, True),
        (ListFilter(is_dm=True), False, False),
        (ListFilter(is_dm=False), True, True),
        (ListFilter(is_encrypted=True), True, False),
        (ListFilter(is_invite=True), False, True),
        (ListFilter(room_types=("m.space",)), False, True),
        (ListFilter(room_types=(None,)), True, False),
        (ListFilter(not_room_types=("m.space",)), True, False),
        (ListFilter(room_types=("m.space",), not_room_types=("m.space",)), False, False),
        (ListFilter(spaces=("!s",)), False, True),
        (ListFilter(is_encrypted=False, is_invite=True), False, True),
    ],
)
def test_list_filters_are_anded(list_filter: ListFilter, room_ok: bool, space_ok: bool) -> None:
    assert list_filter.allows(ROOM) is room_ok
    assert list_filter.allows(SPACE) is space_ok


# --- pos and connections ---------------------------------------------------------------


def test_pos_round_trips_and_rejects_garbage() -> None:
    pos = Pos("ab12", 3, 7)
    assert Pos.parse(pos.serialize()) == pos
    for raw in ("", "x", "ab.1", "ab.1.x", ".1.2", "ab.-1.2", "ab.1.2.3", "ab.1." + "9" * 30):
        assert Pos.parse(raw) is None


def snapshot(events: int) -> Snapshot:
    params = RoomParams()
    return Snapshot(StreamToken(events=events), {"!r": RoomSent(events, "join", params)})


KEY = ("@me:hs", "DEV", "main")


def test_a_new_connection_has_no_snapshot_until_committed() -> None:
    conns = SlidingSyncConnections("run1")
    assert conns.snapshot(KEY, None) is None
    pos = conns.commit(KEY, None, snapshot(5))
    assert conns.snapshot(KEY, pos) == snapshot(5)


@pytest.mark.parametrize("bad", ["nonsense", "run0.1.1", "run1.9.1", "run1.1.99"])
def test_unknown_positions_are_m_unknown_pos(bad: str) -> None:
    conns = SlidingSyncConnections("run1")
    conns.commit(KEY, None, snapshot(1))
    with pytest.raises(MatrixError) as err:
        conns.snapshot(KEY, bad)
    assert err.value.errcode == "M_UNKNOWN_POS" and err.value.status == 400


def test_positions_are_per_connection_and_device() -> None:
    conns = SlidingSyncConnections("run1")
    pos = conns.commit(KEY, None, snapshot(1))
    for other in (("@me:hs", "DEV", "other"), ("@me:hs", "DEV2", "main"), ("@you:hs", "DEV", "main")):
        with pytest.raises(MatrixError):
            conns.snapshot(other, pos)


def test_starting_over_forgets_the_old_positions() -> None:
    conns = SlidingSyncConnections("run1")
    old = conns.commit(KEY, None, snapshot(1))
    conns.commit(KEY, None, snapshot(2))
    with pytest.raises(MatrixError):
        conns.snapshot(KEY, old)


def test_the_previous_position_stays_usable_for_a_retry_but_older_ones_go() -> None:
    conns = SlidingSyncConnections("run1")
    p1 = conns.commit(KEY, None, snapshot(1))
    p2 = conns.commit(KEY, p1, snapshot(2))
    p3 = conns.commit(KEY, p1, snapshot(3))  # a retry of the request from p1
    assert conns.snapshot(KEY, p1) == snapshot(1)
    p4 = conns.commit(KEY, p3, snapshot(4))
    assert conns.snapshot(KEY, p3) == snapshot(3) and conns.snapshot(KEY, p4) == snapshot(4)
    for gone in (p1, p2):
        with pytest.raises(MatrixError):
            conns.snapshot(KEY, gone)


def test_a_connection_keeps_a_bounded_number_of_positions() -> None:
    conns = SlidingSyncConnections("run1")
    base = conns.commit(KEY, None, snapshot(0))
    issued = [conns.commit(KEY, base, snapshot(i)) for i in range(1, 20)]
    assert conns.snapshot(KEY, base) == snapshot(0)
    assert conns.snapshot(KEY, issued[-1]) == snapshot(19)
    kept = 0
    for pos in issued:
        try:
            conns.snapshot(KEY, pos)
            kept += 1
        except MatrixError:
            pass
    assert kept == POSITIONS_KEPT


# --- request schema --------------------------------------------------------------------


def test_request_defaults_and_unknown_fields() -> None:
    req = SlidingSyncRequest.model_validate({"lists": {"a": {"ranges": [[0, 5]], "future": 1}}, "x": True})
    assert req.lists is not None and req.lists["a"].timeline_limit == 0
    assert req.lists["a"].required_state == []


@pytest.mark.parametrize(
    "body",
    [
        {"lists": []},
        {"lists": {"a": {"ranges": [[5, 1]]}}},
        {"lists": {"a": {"ranges": [[0]]}}},
        {"lists": {"a": {"ranges": [[-1, 3]]}}},
        {"lists": {"a": {"ranges": "0-5"}}},
        {"lists": {"a": {"timeline_limit": "5"}}},
        {"lists": {"a": {"timeline_limit": 1001}}},
        {"lists": {"a": {"required_state": [["m.room.name"]]}}},
        {"lists": {"a": {"required_state": [["m.room.name", 1]]}}},
        {"room_subscriptions": {"!r:hs": {"timeline_limit": True}}},
        {"extensions": {"to_device": {"enabled": "yes"}}},
        {"extensions": {"receipts": {"enabled": True, "lists": "all"}}},
        {"conn_id": 5},
        {"lists": {str(i): {} for i in range(101)}},
    ],
)
def test_malformed_requests_are_rejected(body: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SlidingSyncRequest.model_validate(body)
