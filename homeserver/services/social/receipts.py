"""Read receipts and read markers.

spec: client-server-api/modules/receipts.md and read_markers.md. ``m.read``
receipts go to every member as ``m.receipt`` ephemeral events; ``m.read.private``
ones only to their owner; ``m.fully_read`` is the room account data item of the
same name, not a receipt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from homeserver.clock import Clock
from homeserver.core.sync_source import SyncContext, SyncContribution
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.graph.events import EventService
from homeserver.services.graph.notifier import Notifier
from homeserver.services.social.account_data import FULLY_READ, AccountDataService
from homeserver.storage.receipts import UNTHREADED, Receipt, ReceiptStore

logger = logging.getLogger(__name__)

READ = "m.read"
READ_PRIVATE = "m.read.private"
RECEIPT_TYPES = (READ, READ_PRIVATE, FULLY_READ)


def receipt_event(receipts: list[Receipt]) -> dict[str, Any]:
    """One m.receipt event for a room: event_id -> type -> user_id -> data (no room_id)."""
    content: dict[str, dict[str, dict[str, Any]]] = {}
    for r in receipts:
        content.setdefault(r.event_id, {}).setdefault(r.receipt_type, {})[r.user_id] = r.data
    return {"type": "m.receipt", "content": content}


class ReceiptService:
    stream = "receipts"

    def __init__(
        self,
        store: ReceiptStore,
        events: EventService,
        account_data: AccountDataService,
        notifier: Notifier,
        clock: Clock,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.events = events
        self.account_data = account_data
        self.notifier = notifier
        self.clock = clock
        self.is_mine = is_mine
        # (user_id, room_id) right after a local user's own m.read / m.read.private moved,
        # e.g. for push's unread counts.
        self._own_receipt_listeners: list[Callable[[str, str], None]] = []
        # (room_id, receipt_type, user_id, event_id, data) for each new public receipt of a
        # local user, e.g. for federation's m.receipt.
        self._public_receipt_listeners: list[Callable[[str, str, str, str, dict[str, Any]], None]] = []
        # Where receipts moved since start-up, so that /sync can tell "nothing in your rooms"
        # from memory when receipts move elsewhere: room_id -> its latest receipt position,
        # and local user -> room_id -> their own latest. Positions below `_tracked_from`
        # (before start-up) are asked of storage.
        self._tracked_from = 0
        self._room_moved_at: dict[str, int] = {}
        self._own_moved_at: dict[str, dict[str, int]] = {}

    def add_own_receipt_listener(self, listener: Callable[[str, str], None]) -> None:
        self._own_receipt_listeners.append(listener)

    def add_public_receipt_listener(self, listener: Callable[[str, str, str, str, dict[str, Any]], None]) -> None:
        self._public_receipt_listeners.append(listener)

    async def load(self) -> None:
        await self.store.load()
        self._tracked_from = self.store.stream.current

    def _moved(self, room_id: str, user_id: str, position: int) -> None:
        """Runs right after the upsert returns, before anything can see the new position."""
        self._room_moved_at[room_id] = position
        if self.is_mine(user_id):
            self._own_moved_at.setdefault(user_id, {})[room_id] = position

    def current_position(self) -> int:
        return self.store.stream.current

    async def send_receipt(
        self, user_id: str, room_id: str, receipt_type: str, event_id: str, thread_id: str | None
    ) -> None:
        if receipt_type not in RECEIPT_TYPES:
            raise MatrixError("M_INVALID_PARAM", 400, f"Unknown receipt type {receipt_type!r}")
        if thread_id is not None and (not isinstance(thread_id, str) or not thread_id):
            raise MatrixError("M_INVALID_PARAM", 400, "thread_id field must be a non-empty string")
        if thread_id is not None and receipt_type == FULLY_READ:
            raise MatrixError("M_INVALID_PARAM", 400, "thread_id is not allowed for m.fully_read")
        room = await self.events.get_room(room_id)
        if room is None or room.membership(user_id) != "join":
            raise forbidden("You are not in this room")
        event = await self.events.get_event(event_id)
        if event is None or event.room_id != room_id:
            raise not_found("Event not found in this room")
        if receipt_type == FULLY_READ:
            await self.account_data.put(user_id, room_id, FULLY_READ, {"event_id": event_id})
            return
        data: dict[str, Any] = {"ts": self.clock.time_ms()}
        if thread_id is not None:
            data["thread_id"] = thread_id
        position = await self.store.upsert(
            room_id, receipt_type, user_id, thread_id or UNTHREADED, event_id, data,
            event.stream_ordering or 0,
        )
        if position is None:
            return
        self._moved(room_id, user_id, position)
        for own_listener in self._own_receipt_listeners:
            own_listener(user_id, room_id)
        if receipt_type == READ_PRIVATE:
            self.notifier.notify_users([user_id])
        else:
            self.notifier.notify_users(room.members_with("join"))
            for listener in self._public_receipt_listeners:
                listener(room_id, receipt_type, user_id, event_id, data)

    async def receive_remote(
        self, room_id: str, receipt_type: str, user_id: str, event_id: str, data: dict[str, Any]
    ) -> None:
        """A remote user's receipt from an m.receipt EDU (the caller checked origin and room)."""
        thread_id = data.get("thread_id")
        event = await self.events.get_event(event_id)
        position = await self.store.upsert(
            room_id, receipt_type, user_id, thread_id if isinstance(thread_id, str) and thread_id else UNTHREADED,
            event_id, data, (event.stream_ordering or 0) if event is not None else 0,
        )
        if position is not None:
            self._moved(room_id, user_id, position)
        room = self.events.cached_room(room_id)
        if position is not None and room is not None:
            self.notifier.notify_users(room.members_with("join"))

    async def set_read_markers(self, user_id: str, room_id: str, body: dict[str, Any]) -> None:
        """spec: read_markers.yaml — each key is optional; same as the receipt calls."""
        for key in (FULLY_READ, READ, READ_PRIVATE):
            value = body.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.startswith("$"):
                raise MatrixError("M_INVALID_PARAM", 400, f"{key} must be an event ID")
            await self.send_receipt(user_id, room_id, key, value, None)

    async def contribute(self, ctx: SyncContext) -> SyncContribution:
        out = SyncContribution()
        user_id = ctx.requester.user_id
        upto = ctx.upto.receipts
        ephemeral = ctx.filter.room.ephemeral
        if not ephemeral.allows_type_and_sender("m.receipt", ""):
            return out
        rooms = [r for r in ctx.joined_room_ids if ephemeral.allows_room(r)]
        found: list[Receipt] = []
        if ctx.since is None:
            found = await self.store.for_rooms(rooms, None, upto)
        else:
            since = ctx.since.receipts
            if upto > since:
                changed = await self._rooms_changed(rooms, since, upto)
                if changed:
                    found = await self.store.for_rooms(changed, since, upto)
            newly = [r for r in rooms if r in ctx.newly_joined_room_ids]
            if newly:
                seen = {(r.room_id, r.receipt_type, r.user_id, r.thread_id) for r in found}
                found += [
                    r for r in await self.store.for_rooms(newly, None, upto)
                    if (r.room_id, r.receipt_type, r.user_id, r.thread_id) not in seen
                ]
        by_room: dict[str, list[Receipt]] = {}
        for r in found:
            if r.receipt_type == READ_PRIVATE and r.user_id != user_id:
                continue  # private receipts are only for their owner
            by_room.setdefault(r.room_id, []).append(r)
        for room_id, receipts in by_room.items():
            out.rooms[room_id] = {"ephemeral": [receipt_event(receipts)]}
        return out

    async def _rooms_changed(self, rooms: list[str], since: int, upto: int) -> list[str]:
        """The rooms among ``rooms`` whose receipts moved after ``since`` (maybe past ``upto``)."""
        if since >= self._tracked_from:
            moved_at = self._room_moved_at
            return [r for r in rooms if moved_at.get(r, 0) > since]
        changed = set(await self.store.rooms_changed_since(since, upto))
        return [r for r in rooms if r in changed]

    async def own_rooms_changed(self, user_id: str, since: int, upto: int) -> set[str]:
        """Rooms where the user's own receipts moved after ``since``."""
        if since >= self._tracked_from:
            return {r for r, at in self._own_moved_at.get(user_id, {}).items() if at > since}
        return set(await self.store.user_changed_rooms(user_id, since, upto))
