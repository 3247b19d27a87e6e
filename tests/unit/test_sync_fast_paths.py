"""The fast paths /sync relies on under load: response pacing per device, stream token
arithmetic, the recent-events window of a room and O(1) unread highlight counts."""

from __future__ import annotations

import asyncio
from dataclasses import fields
from typing import Any

import pytest

from federation.rooms.events import Event
from federation.rooms.versions import get_room_version
from homeserver.core.room_state import RoomState
from homeserver.core.stream_token import STREAM_NAMES, StreamToken
from homeserver.errors import MatrixError
from homeserver.services.push.unread import NotificationCounter
from homeserver.services.sync.pacer import SyncPacer
from homeserver.storage.push import Notified

ALICE, PHONE, LAPTOP = "@alice:hs", "PHONE", "LAPTOP"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- SyncPacer ----------------------------------------------------------------------


def test_a_device_never_answered_is_not_delayed() -> None:
    assert SyncPacer(0.05, FakeClock()).delay_for((ALICE, PHONE)) == 0.0


def test_an_answer_within_the_interval_waits_for_the_rest_of_it() -> None:
    clock = FakeClock()
    pacer = SyncPacer(0.05, clock)
    pacer.answered((ALICE, PHONE))
    clock.now += 0.02
    assert pacer.delay_for((ALICE, PHONE)) == pytest.approx(0.03)
    clock.now += 0.03
    assert pacer.delay_for((ALICE, PHONE)) == 0.0


def test_devices_are_paced_independently() -> None:
    clock = FakeClock()
    pacer = SyncPacer(0.05, clock)
    pacer.answered((ALICE, PHONE))
    assert pacer.delay_for((ALICE, LAPTOP)) == 0.0
    assert pacer.delay_for((ALICE, PHONE)) == pytest.approx(0.05)


async def test_waiting_for_a_turn_stops_at_the_request_deadline() -> None:
    pacer = SyncPacer(60.0)  # real clock: a turn a minute away
    pacer.answered((ALICE, PHONE))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(pacer.wait_turn((ALICE, PHONE), deadline=loop.time() + 0.01), 5)
    assert loop.time() - started < 5


# --- StreamToken --------------------------------------------------------------------


def test_stream_names_follow_the_token_fields() -> None:
    assert STREAM_NAMES == tuple(f.name for f in fields(StreamToken))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("s5", StreamToken(events=5)),
        ("s5_1_2", StreamToken(5, 1, 2)),
        ("s9_8_7_6_5_4_3", StreamToken(9, 8, 7, 6, 5, 4, 3)),
    ],
)
def test_tokens_parse_and_missing_trailing_positions_read_as_zero(raw: str, expected: StreamToken) -> None:
    token = StreamToken.parse(raw)
    assert token == expected
    assert StreamToken.parse(token.serialize()) == token


@pytest.mark.parametrize("raw", ["t5", "s1_2_3_4_5_6_7_8", "s1_x", "s1_-2", ""])
def test_malformed_tokens_are_rejected(raw: str) -> None:
    with pytest.raises(MatrixError) as caught:
        StreamToken.parse(raw)
    assert caught.value.errcode == "M_INVALID_PARAM"


def test_clamp_lowers_only_positions_ahead_of_the_server() -> None:
    current = StreamToken(10, 10, 10, 10, 10, 10, 10)
    behind = StreamToken(3, 4, 5, 6, 7, 8, 9)
    assert behind.clamp(current) is behind
    assert StreamToken(12, 1, 99).clamp(current) == StreamToken(10, 1, 10)


def test_with_position_replaces_one_stream() -> None:
    token = StreamToken(1, 2, 3, 4, 5, 6, 7)
    assert token.with_position("to_device", 40) == StreamToken(1, 2, 3, 40, 5, 6, 7)
    assert token.advanced_past(StreamToken(1, 2, 3, 4, 5, 6, 6))
    assert not token.advanced_past(token)


# --- RoomState.recent_since -----------------------------------------------------------


def _room_with_recent(streams: list[int], floor: int) -> RoomState:
    version = get_room_version("10")
    assert version is not None
    create = Event("$create", {"type": "m.room.create", "sender": ALICE, "content": {}}, version, None, 1)
    room = RoomState("!r:hs", version, create, {}, 0, 0, [], 0, floor, recent_floor=floor)
    for s in streams:
        room.add_recent(Event(f"${s}", {"type": "m.room.message", "sender": ALICE, "content": {}}, version, None, s))
    return room


@pytest.mark.parametrize(("after", "upto"), [(4, 20), (10, 20), (12, 14), (19, 20), (20, 30), (4, 4), (7, 11)])
def test_recent_since_returns_the_window_oldest_first(after: int, upto: int) -> None:
    streams = [5, 6, 8, 11, 12, 13, 17, 20]
    room = _room_with_recent(streams, floor=4)
    found = room.recent_since(after, upto)
    assert found is not None
    assert [e.stream_ordering for e in found] == [s for s in streams if after < s <= upto]


def test_recent_since_cannot_tell_below_its_floor() -> None:
    assert _room_with_recent([5, 6], floor=4).recent_since(3, 10) is None


# --- unread highlight counts ----------------------------------------------------------


class _Storage:
    def __init__(self, stored: list[Notified]) -> None:
        self.stored = stored
        self.read_position: int | None = None

    async def read_position_of(self, room_id: str, user_id: str) -> int | None:
        return self.read_position

    async def read_positions(self, room_id: str, user_id: str) -> dict[str, int]:
        return {} if self.read_position is None else {"": self.read_position}  # unthreaded

    async def notified_after(self, user_id: str, room_id: str, after: int) -> list[Notified]:
        return [n for n in self.stored if n.stream_ordering > after]

    async def last_sent_after(self, room_id: str, user_id: str, after: int) -> int | None:
        return None

    async def ignored_users(self, user_id: str) -> frozenset[str]:
        return frozenset()


def _counter(storage: _Storage) -> NotificationCounter:
    store: Any = storage
    return NotificationCounter(store, lambda user, room: [], storage.ignored_users)


async def test_highlight_count_follows_new_read_and_redacted_notifications() -> None:
    bob, room = "@bob:hs", "!r:hs"
    storage = _Storage([Notified(2, True, ALICE), Notified(3, False, ALICE), Notified(5, True, ALICE)])
    counter = _counter(storage)
    assert await counter.counts(bob, room, 100) == {"notification_count": 3, "highlight_count": 2}
    counter.record(bob, room, Notified(7, True, ALICE))
    counter.record(bob, room, Notified(8, False, ALICE))
    assert await counter.counts(bob, room, 100) == {"notification_count": 5, "highlight_count": 3}
    assert await counter.counts(bob, room, 6) == {"notification_count": 3, "highlight_count": 2}
    storage.read_position = 3  # a receipt past the first highlight
    counter.receipt_moved(bob, room)
    assert await counter.counts(bob, room, 100) == {"notification_count": 3, "highlight_count": 2}
    counter.forget(room, 7)  # a highlighted event redacted
    assert await counter.counts(bob, room, 100) == {"notification_count": 2, "highlight_count": 1}
    counter.sent_event(bob, room, 8)  # own send reads everything
    assert await counter.counts(bob, room, 100) == {"notification_count": 0, "highlight_count": 0}
