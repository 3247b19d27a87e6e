"""Where a resolved state is stored: a delta on its base group, or a full snapshot."""

from __future__ import annotations

from homeserver.core.room_fold import delta_or_snapshot
from homeserver.storage.state import MAX_DELTA_DEPTH

BASE = {("m.room.create", ""): "$c", ("m.room.topic", ""): "$t1"}


def test_resolved_state_adding_and_replacing_keys_is_a_delta() -> None:
    state = {**BASE, ("m.room.topic", ""): "$t2", ("m.room.name", ""): "$n"}
    group = delta_or_snapshot(7, 3, BASE, 2, state, MAX_DELTA_DEPTH)
    assert (group.prev_group, group.delta_depth) == (3, 3)
    assert group.entries == {("m.room.topic", ""): "$t2", ("m.room.name", ""): "$n"}


def test_resolved_state_dropping_a_key_is_a_snapshot() -> None:
    state = {("m.room.create", ""): "$c"}
    group = delta_or_snapshot(7, 3, BASE, 2, state, MAX_DELTA_DEPTH)
    assert (group.prev_group, group.delta_depth, group.entries) == (None, 0, state)


def test_long_delta_chains_end_in_a_snapshot() -> None:
    state = {**BASE, ("m.room.name", ""): "$n"}
    group = delta_or_snapshot(7, 3, BASE, MAX_DELTA_DEPTH, state, MAX_DELTA_DEPTH)
    assert (group.prev_group, group.delta_depth, group.entries) == (None, 0, state)
