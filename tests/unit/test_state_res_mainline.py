"""Mainline ordering details of state resolution v2 / v2.1.

spec: rooms/fragments/v2-state-res.md (and rooms/v12.md), "Mainline ordering":
the list [e1, ..., em] starts at the power levels event *in e0's auth events*,
so e0 itself is never on it — a power levels event on the mainline is ordered
by its parent's position.
"""

from __future__ import annotations

import pytest

from federation.rooms.state_res import mainline_order
from federation.rooms.versions import ROOM_VERSION_10, ROOM_VERSION_11, ROOM_VERSION_12, RoomVersion
from tests.unit.test_auth_rules import ALICE, BOB
from tests.unit.test_state_res import room_with_members, users


@pytest.mark.parametrize("version", [ROOM_VERSION_10, ROOM_VERSION_11, ROOM_VERSION_12],
                         ids=["v10", "v11", "v12"])
def test_power_levels_event_on_the_mainline_sorts_by_its_parents_position(version: RoomVersion) -> None:
    room = room_with_members(version, bob=50)
    # Bob's topic cites $pl (position 1 of $pl2's mainline), with a late timestamp.
    topic = room.append("$topic", "m.room.topic", BOB, {"topic": "t"}, "", ts=9000)
    pl2 = room.append("$pl2", "m.room.power_levels", ALICE,
                      {"users": users(version, bob=50, carol=1)}, "", ts=100)
    # $pl2's own position is that of $pl (its auth event), not 0: the two tie on
    # position and $pl2's earlier timestamp puts it first.
    ordered = mainline_order([topic, pl2], pl2, room.events)
    assert [e.event_id for e in ordered] == ["$pl2", "$topic"]
