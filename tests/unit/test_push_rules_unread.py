"""Unread counts kept per (user, room): loading from storage while notifications arrive,
read receipts, own sends and redactions (services/unread.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from homeserver.services.push.unread import NotificationCounter
from homeserver.storage.push import Notified

USER, ROOM, OTHER = "@bob:hs", "!room:hs", "@alice:hs"


class FakeStorage:
    """Receipts, stored notifications and ignore lists; ``gate`` holds the storage read."""

    def __init__(self) -> None:
        self.read_position: int | None = None
        self.stored: list[Notified] = []
        self.last_sent: int | None = None
        self.ignored: frozenset[str] = frozenset()
        self.gate = asyncio.Event()
        self.gate.set()
        self.reading = asyncio.Event()  # set once a load reads stored notifications

    async def read_position_of(self, room_id: str, user_id: str) -> int | None:
        return self.read_position

    async def read_positions(self, room_id: str, user_id: str) -> dict[str, int]:
        return {} if self.read_position is None else {"": self.read_position}  # unthreaded

    async def notified_after(self, user_id: str, room_id: str, after: int) -> list[Notified]:
        self.reading.set()
        await self.gate.wait()
        return [n for n in self.stored if n.stream_ordering > after]

    async def last_sent_after(self, room_id: str, user_id: str, after: int) -> int | None:
        return self.last_sent if self.last_sent is not None and self.last_sent > after else None

    async def ignored_users(self, user_id: str) -> frozenset[str]:
        return self.ignored


def counter_for(storage: FakeStorage, unflushed: list[Notified] | None = None) -> NotificationCounter:
    store: Any = storage
    return NotificationCounter(store, lambda user, room: list(unflushed or []), storage.ignored_users)


def n(stream: int, highlight: bool = False, sender: str = OTHER) -> Notified:
    return Notified(stream, highlight, sender)


async def test_counts_come_from_storage_and_queued_rows_after_the_read_receipt() -> None:
    storage = FakeStorage()
    storage.stored = [n(3), n(5, True), n(8)]
    storage.read_position = 4
    counter = counter_for(storage, unflushed=[n(9, True)])
    assert await counter.counts(USER, ROOM, 100) == {"notification_count": 3, "highlight_count": 2}
    assert await counter.counts(USER, ROOM, 8) == {"notification_count": 2, "highlight_count": 1}


@pytest.mark.parametrize("committed_before_read", [True, False])
async def test_notification_arriving_while_loading_counts_once(committed_before_read: bool) -> None:
    storage = FakeStorage()
    storage.gate.clear()
    counter = counter_for(storage)
    loading = asyncio.create_task(counter.counts(USER, ROOM, 100))
    await asyncio.wait_for(storage.reading.wait(), 5)  # the load now waits on storage
    counter.record(USER, ROOM, n(7))
    if committed_before_read:
        storage.stored = [n(7)]
    storage.gate.set()
    assert await loading == {"notification_count": 1, "highlight_count": 0}


async def test_receipt_and_own_send_advance_the_read_position() -> None:
    storage = FakeStorage()
    storage.stored = [n(2), n(4), n(6)]
    counter = counter_for(storage)
    assert (await counter.counts(USER, ROOM, 100))["notification_count"] == 3
    storage.read_position = 4
    counter.receipt_moved(USER, ROOM)
    assert (await counter.counts(USER, ROOM, 100))["notification_count"] == 1
    counter.sent_event(USER, ROOM, 6)
    assert (await counter.counts(USER, ROOM, 100))["notification_count"] == 0
    counter.record(USER, ROOM, n(9))
    assert (await counter.counts(USER, ROOM, 100))["notification_count"] == 1


async def test_own_last_send_counts_as_read_when_loading() -> None:
    storage = FakeStorage()
    storage.stored = [n(2), n(6)]
    storage.last_sent = 4
    assert (await counter_for(storage).counts(USER, ROOM, 100))["notification_count"] == 1


async def test_redacted_and_ignored_notifications_do_not_count() -> None:
    storage = FakeStorage()
    storage.stored = [n(2), n(3, True, "@troll:hs"), n(4, True)]
    counter = counter_for(storage)
    storage.ignored = frozenset({"@troll:hs"})
    assert await counter.counts(USER, ROOM, 100) == {"notification_count": 2, "highlight_count": 1}
    counter.forget(ROOM, 4)
    assert await counter.counts(USER, ROOM, 100) == {"notification_count": 1, "highlight_count": 0}
