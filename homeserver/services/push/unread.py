"""Unread notification counts for /sync's ``unread_notifications``.

The counts come from push rule evaluation (services/notifications.py): every event
whose actions contain ``notify`` for a user is recorded here the moment it is
persisted (before /sync wakes), and written to ``event_notifications`` so the counts
survive a restart. A (user, room) pair is loaded from storage on first use; after
that the count is kept in memory. An unthreaded read receipt (``m.read`` or
``m.read.private``, whichever is further ahead) drops the notifications up to the
event it marks, and so does sending an event: the user has read the room up to their
own latest event. A threaded receipt drops only its thread's notifications (``"main"``:
the main timeline), and each notification counts in its thread.

spec: client-server-api/modules/push.md, "Receiving notifications" and
"Marking notifications as read"; client-server-api, "Threaded read receipts".
"""

from __future__ import annotations

import asyncio
import bisect
import operator
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from homeserver.core.sync_source import SyncContext, SyncContribution
from homeserver.services.graph.events import EventService
from homeserver.services.social.receipts import ReceiptService
from homeserver.storage.push import MAIN_THREAD, Notified, PushStore
from homeserver.storage.receipts import UNTHREADED

CACHE_LIMIT = 100_000

# (user_id, room_id) -> notifications not yet committed
UnflushedLookup = Callable[[str, str], list[Notified]]
# user_id -> the senders they ignore (account data's m.ignored_user_list)
IgnoredUsers = Callable[[str], Awaitable[frozenset[str]]]
Counts = dict[str, int]  # {"notification_count": .., "highlight_count": ..}


@dataclass(frozen=True, slots=True)
class ReadPositions:
    """How far a user has read a room: everywhere, and per thread."""

    upto: int  # unthreaded receipts and own events: read everywhere up to here
    threads: dict[str, int]  # thread_id ("main" or a root) -> its threaded receipt

    def has_read(self, stream_ordering: int, thread_id: str) -> bool:
        return stream_ordering <= self.upto or stream_ordering <= self.threads.get(thread_id, 0)


@dataclass(slots=True)
class _RoomUnread:
    read_upto: int = 0  # stream ordering the user has read the whole room up to
    thread_read: dict[str, int] = field(default_factory=dict)  # thread_id -> read up to, if further
    entries: list[Notified] = field(default_factory=list)  # the unread ones, ascending
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

    def is_unread(self, notified: Notified) -> bool:
        stream = notified.stream_ordering
        return stream > self.read_upto and stream > self.thread_read.get(notified.thread_id, 0)

    def advance_read(self, position: int) -> None:
        if position <= self.read_upto:
            return
        self.read_upto = position
        cut = bisect.bisect_right(self.entries, position, key=_stream_of)
        self.highlights -= sum(map(_highlight_of, self.entries[:cut]))
        del self.entries[:cut]

    def advance_thread(self, thread_id: str, position: int) -> None:
        """A threaded receipt: only that thread's notifications up to it are read."""
        if position <= max(self.read_upto, self.thread_read.get(thread_id, 0)):
            return
        self.thread_read[thread_id] = position
        self.entries = [e for e in self.entries if e.thread_id != thread_id or e.stream_ordering > position]
        self.recount()

    def positions(self) -> ReadPositions:
        return ReadPositions(self.read_upto, dict(self.thread_read))


def _stream_of(entry: Notified) -> int:
    return entry.stream_ordering


_highlight_of = operator.itemgetter(1)  # Notified.highlight


class NotificationCounter:
    """Per (user, room): the notifying events after the read receipt."""

    def __init__(self, store: PushStore, unflushed: UnflushedLookup, ignored_users: IgnoredUsers) -> None:
        self.store = store
        self._unflushed = unflushed
        self._ignored_users = ignored_users
        self._rooms: dict[tuple[str, str], _RoomUnread] = {}
        self._receipt_moved: set[tuple[str, str]] = set()

    def record(self, user_id: str, room_id: str, notified: Notified) -> None:
        """A new notification; runs synchronously in the persist listener."""
        entry = self._rooms.get((user_id, room_id))
        if entry is not None and entry.is_unread(notified):
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

    def forget_room(self, room_id: str) -> None:
        """A purged room counts nothing for anyone."""
        for key in [k for k in self._rooms if k[1] == room_id]:
            del self._rooms[key]
        self._receipt_moved = {k for k in self._receipt_moved if k[1] != room_id}

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

    async def _read_positions(self, user_id: str, room_id: str) -> ReadPositions:
        by_thread = await self.store.read_positions(room_id, user_id)
        position = by_thread.pop(UNTHREADED, 0)
        sent = await self.store.last_sent_after(room_id, user_id, position)
        return ReadPositions(max(position, sent or 0), by_thread)

    @staticmethod
    def _advance(entry: _RoomUnread, read: ReadPositions) -> None:
        entry.advance_read(read.upto)
        for thread_id, position in read.threads.items():
            entry.advance_thread(thread_id, position)

    async def _load(self, key: tuple[str, str]) -> _RoomUnread:
        entry = _RoomUnread()
        # From here on record() adds new notifications to the entry; those written
        # before are in storage or still queued for it (snapshot them now).
        self._rooms[key] = entry
        self._receipt_moved.discard(key)
        try:
            pending = self._unflushed(*key)
            read = await self._read_positions(*key)
            stored = await self.store.notified_after(key[0], key[1], read.upto)
            merged = {n.stream_ordering: n for n in (*stored, *pending, *entry.entries)}
            entry.read_upto = read.upto
            entry.thread_read = read.threads
            entry.entries = sorted(
                (n for s, n in merged.items() if entry.is_unread(n) and s not in entry.forgotten), key=_stream_of
            )
            entry.forgotten.clear()
            entry.recount()
        except BaseException:
            self._rooms.pop(key, None)
            raise
        finally:
            entry.ready.set()
        return entry

    async def read_positions(self, user_id: str, room_id: str) -> ReadPositions:
        entry = await self._entry(user_id, room_id)
        return entry.positions()

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
            self._advance(entry, await self._read_positions(user_id, room_id))
        return entry

    def _evict(self) -> None:
        # Everything evicted is in storage or the write queue; a later use reloads it.
        for key in [k for k, e in self._rooms.items() if e.ready.is_set()]:
            del self._rooms[key]

    async def counts(self, user_id: str, room_id: str, upto: int) -> Counts:
        """The room's counts, threads included (a filter without unread_thread_notifications)."""
        entry = await self._entry(user_id, room_id)
        # Ignoring a user hides their events, so they do not count (spec: modules/ignore_users.md).
        ignored = await self._ignored_users(user_id)
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

    async def thread_counts(self, user_id: str, room_id: str, upto: int) -> tuple[Counts, dict[str, Counts]]:
        """The main timeline's counts and each thread's with unread notifications, by root.

        spec: sync.yaml, unread_notifications / unread_thread_notifications with the
        filter's unread_thread_notifications set.
        """
        entry = await self._entry(user_id, room_id)
        ignored = await self._ignored_users(user_id)
        end = bisect.bisect_right(entry.entries, upto, key=_stream_of)
        main = {"notification_count": 0, "highlight_count": 0}
        threads: dict[str, Counts] = {}
        for notified in entry.entries[:end]:
            if notified.sender in ignored:
                continue
            if notified.thread_id == MAIN_THREAD:
                counts = main
            else:
                counts = threads.setdefault(notified.thread_id, {"notification_count": 0, "highlight_count": 0})
            counts["notification_count"] += 1
            counts["highlight_count"] += notified.highlight
        return main, threads


class UnreadCountsSource:
    """/sync's ``unread_notifications`` (and per thread) for the rooms where counts may have moved.

    Rides on the receipts stream: counts move with new events and the user's own receipts.
    Registered right after the receipts source, so that it fills in the same rooms.
    """

    stream = "receipts"

    def __init__(self, counter: NotificationCounter, receipts: ReceiptService, events: EventService) -> None:
        self.counter = counter
        self.receipts = receipts
        self.events = events

    def current_position(self) -> int:
        return self.receipts.current_position()

    async def contribute(self, ctx: SyncContext) -> SyncContribution:
        out = SyncContribution()
        # Counts travel with receipts: a filter that leaves out m.receipt leaves them out too.
        if not ctx.filter.room.ephemeral.allows_type_and_sender("m.receipt", ""):
            return out
        user_id = ctx.requester.user_id
        if ctx.since is None:
            rooms = list(ctx.joined_room_ids)
        else:
            since_events = ctx.since.events
            own = set()
            if ctx.upto.receipts > ctx.since.receipts:
                own = await self.receipts.own_rooms_changed(user_id, ctx.since.receipts, ctx.upto.receipts)
            rooms = []
            for room_id in ctx.joined_room_ids:
                room = self.events.cached_room(room_id)
                if (
                    room_id in own
                    or room_id in ctx.newly_joined_room_ids
                    or room is None
                    or room.latest_stream > since_events
                ):
                    rooms.append(room_id)
        if ctx.filter.room.timeline.unread_thread_notifications:
            # spec: sync.yaml — then unread_notifications counts the main timeline only.
            for room_id in rooms:
                main, threads = await self.counter.thread_counts(user_id, room_id, ctx.upto.events)
                out.unread[room_id] = main
                out.unread_threads[room_id] = threads
            return out
        for room_id in rooms:
            out.unread[room_id] = await self.counter.counts(user_id, room_id, ctx.upto.events)
        return out
