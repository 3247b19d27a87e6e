"""Unread notification counts for /sync's ``unread_notifications``.

A stand-in for push-rule evaluation (a later issue replaces it behind the same
``UnreadCounter`` interface): messages, encrypted events and stickers from
others after the user's latest read receipt notify; they highlight when they
mention the user (spec: modules/mentions.md — ``m.mentions`` when present,
else the user ID or display name in the body).

Counting is incremental: per (user, room) the last answer is cached with the
range it covered, so a sync only counts the events that arrived since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from homeserver.storage.receipts import count_notifying_events

if TYPE_CHECKING:
    from homeserver.server import Homeserver

NOTIFYING_TYPES = ("m.room.message", "m.room.encrypted", "m.sticker")
CACHE_LIMIT = 100_000


class UnreadCounter(Protocol):
    async def counts(self, user_id: str, room_id: str, upto: int) -> dict[str, int]: ...

    def receipt_moved(self, user_id: str, room_id: str) -> None: ...


@dataclass(slots=True)
class _Cached:
    after: int  # read position the counts start from
    upto: int  # stream position they cover up to
    display_name: str | None
    notifications: int
    highlights: int


class SimpleUnreadCounter:
    def __init__(self, hs: Homeserver) -> None:
        self.hs = hs
        self._cache: dict[tuple[str, str], _Cached] = {}

    def receipt_moved(self, user_id: str, room_id: str) -> None:
        self._cache.pop((user_id, room_id), None)

    async def _read_position(self, user_id: str, room_id: str) -> int:
        position = await self.hs.receipt_store.read_position(room_id, user_id)
        if position is not None:
            return position
        # Never read anything: count from when the user joined.
        membership = await self.hs.room_store.get_membership(room_id, user_id)
        return membership[2] if membership is not None else 0

    async def counts(self, user_id: str, room_id: str, upto: int) -> dict[str, int]:
        room = self.hs.events.cached_room(room_id) or await self.hs.events.get_room(room_id)
        display_name: str | None = None
        if room is not None:
            member = room.state.get(("m.room.member", user_id))
            if member is not None and isinstance(member.content.get("displayname"), str):
                display_name = member.content["displayname"]
        key = (user_id, room_id)
        cached = self._cache.get(key)
        if cached is None or cached.display_name != display_name or cached.upto > upto:
            after = await self._read_position(user_id, room_id)
            cached = _Cached(after, after, display_name, 0, 0)
        if upto > cached.upto:
            n, h = await count_notifying_events(
                self.hs.db, room_id, user_id, display_name, cached.upto, upto, NOTIFYING_TYPES
            )
            cached.notifications += n
            cached.highlights += h
            cached.upto = upto
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = cached
        return {"notification_count": cached.notifications, "highlight_count": cached.highlights}
