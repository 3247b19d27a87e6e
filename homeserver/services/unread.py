"""Unread notification counts for /sync's ``unread_notifications``.

The counts come from push rule evaluation (services/notifications.py): every event
whose actions contain ``notify`` for a user is recorded here the moment it is
persisted (before /sync wakes), and written to ``event_push_actions`` so the counts
survive a restart. A (user, room) pair is loaded from storage on first use; after
that the count is kept in memory. A read receipt (``m.read`` or ``m.read.private``,
whichever is further ahead) drops the notifications up to the event it marks, and so
does sending an event: the user has read the room up to their own latest event.

spec: client-server-api/modules/push.md, "Receiving notifications" and
"Marking notifications as read".
"""

from __future__ import annotations

import asyncio
import bisect
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from homeserver.storage.push import Notified, PushStore

if TYPE_CHECKING:
    from homeserver.server import Homeserver

CACHE_LIMIT = 100_000

# (user_id, room_id) -> notifications not yet committed
UnflushedLookup = Callable[[str, str], list[Notified]]


class UnreadCounter(Protocol):
    async def counts(self, user_id: str, room_id: str, upto: int) -> dict[str, int]: ...

    def receipt_moved(self, user_id: str, room_id: str) -> None: ...


@dataclass(slots=True)
class _RoomUnread:
    read_upto: int = 0  # stream ordering the user has read up to
    entries: list[Notified] = field(default_factory=list)  # after read_upto, ascending
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    forgotten: set[int] = field(default_factory=set)  # redacted while loading
    # Highlights among `entries`, kept as they change: /sync asks for the counts on every
    # response and an unread list can be long.
    highlights: int = 0

    def recount(self) -> None:
        self.highlights = sum(map(_highlight_of, self.entries))

    def forget(self, stream_ordering: int) -> None:
        self.entries = [e for e in self.entries if e[0] != stream_ordering]
        self.recount()
        if not self.ready.is_set():
            self.forgotten.add(stream_ordering)

    def advance_read(self, position: int) -> None:
        if position <= self.read_upto:
            return
        self.read_upto = position
        cut = bisect.bisect_right(self.entries, position, key=_stream_of)
        self.highlights -= sum(map(_highlight_of, self.entries[:cut]))
        del self.entries[:cut]


def _stream_of(entry: Notified) -> int:
    return entry.stream_ordering


_highlight_of = operator.itemgetter(1)  # Notified.highlight


class NotificationCounter:
    """Per (user, room): the notifying events after the read receipt."""

    def __init__(self, hs: Homeserver, store: PushStore, unflushed: UnflushedLookup) -> None:
        self.hs = hs
        self.store = store
        self._unflushed = unflushed
        self._rooms: dict[tuple[str, str], _RoomUnread] = {}
        self._receipt_moved: set[tuple[str, str]] = set()

    def record(self, user_id: str, room_id: str, notified: Notified) -> None:
        """A new notification; runs synchronously in the persist listener."""
        entry = self._rooms.get((user_id, room_id))
        if entry is not None and notified.stream_ordering > entry.read_upto:
            bisect.insort(entry.entries, notified, key=_stream_of)
            entry.highlights += notified.highlight

    def receipt_moved(self, user_id: str, room_id: str) -> None:
        self._receipt_moved.add((user_id, room_id))

    def forget(self, room_id: str, stream_ordering: int, user_id: str | None = None) -> None:
        """A notifying event was redacted: it no longer counts (for one user, or everyone)."""
        if user_id is not None:
            entry = self._rooms.get((user_id, room_id))
            if entry is not None:
                entry.forget(stream_ordering)
            return
        for (_, entry_room), entry in self._rooms.items():
            if entry_room == room_id:
                entry.forget(stream_ordering)

    def sent_event(self, user_id: str, room_id: str, stream_ordering: int) -> None:
        """spec: push.md, "Marking notifications as read" — sending an event reads up to it."""
        key = (user_id, room_id)
        entry = self._rooms.get(key)
        if entry is None:
            return  # loading reads the position, own events included
        if entry.ready.is_set():
            entry.advance_read(stream_ordering)
        else:
            self._receipt_moved.add(key)

    async def _read_position(self, user_id: str, room_id: str) -> int:
        position = await self.hs.receipt_store.read_position(room_id, user_id) or 0
        sent = await self.store.last_sent_after(room_id, user_id, position)
        return max(position, sent or 0)

    async def _load(self, key: tuple[str, str]) -> _RoomUnread:
        entry = _RoomUnread()
        # From here on record() adds new notifications to the entry; those written
        # before are in storage or still queued for it (snapshot them now).
        self._rooms[key] = entry
        self._receipt_moved.discard(key)
        try:
            pending = self._unflushed(*key)
            position = await self._read_position(*key)
            stored = await self.store.notified_after(key[0], key[1], position)
            merged = {n.stream_ordering: n for n in (*stored, *pending, *entry.entries)}
            entry.read_upto = position
            entry.entries = sorted(
                (n for s, n in merged.items() if s > position and s not in entry.forgotten), key=_stream_of
            )
            entry.forgotten.clear()
            entry.recount()
        except BaseException:
            self._rooms.pop(key, None)
            raise
        finally:
            entry.ready.set()
        return entry

    async def read_upto(self, user_id: str, room_id: str) -> int:
        entry = await self._entry(user_id, room_id)
        return entry.read_upto

    async def _entry(self, user_id: str, room_id: str) -> _RoomUnread:
        key = (user_id, room_id)
        entry = self._rooms.get(key)
        if entry is None:
            if len(self._rooms) >= CACHE_LIMIT:
                self._evict()
            entry = await self._load(key)
        else:
            await entry.ready.wait()
        if key in self._receipt_moved:
            self._receipt_moved.discard(key)
            entry.advance_read(await self._read_position(user_id, room_id))
        return entry

    def _evict(self) -> None:
        # Everything evicted is in storage or the write queue; a later use reloads it.
        for key in [k for k, e in self._rooms.items() if e.ready.is_set()]:
            del self._rooms[key]

    async def counts(self, user_id: str, room_id: str, upto: int) -> dict[str, int]:
        entry = await self._entry(user_id, room_id)
        # Ignoring a user hides their events, so they do not count (spec: modules/ignore_users.md).
        ignored = await self.hs.account_data.ignored_users(user_id)
        end = bisect.bisect_right(entry.entries, upto, key=_stream_of)
        if not ignored and end == len(entry.entries):
            # The usual case (counts up to now, nothing ignored): no pass over the list.
            return {"notification_count": end, "highlight_count": entry.highlights}
        notifications = highlights = 0
        for notified in entry.entries[:end]:
            if notified.sender not in ignored:
                notifications += 1
                highlights += notified.highlight
        return {"notification_count": notifications, "highlight_count": highlights}
