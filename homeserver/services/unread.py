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

from federation.rooms.events import Event
from homeserver.storage.receipts import count_notifying_events

if TYPE_CHECKING:
    from homeserver.server import Homeserver

NOTIFYING_TYPES = ("m.room.message", "m.room.encrypted", "m.sticker")
CACHE_LIMIT = 100_000


def count_in_memory(events: list[Event], user_id: str, display_name: str | None) -> tuple[int, int]:
    """(notifications, highlights) among ``events``; the same rules as the SQL count."""
    notifications = highlights = 0
    user_lower = user_id.lower()
    name = (display_name or "").lower()
    for event in events:
        pdu = event.pdu
        if pdu.get("type") not in NOTIFYING_TYPES or pdu.get("sender") == user_id:
            continue
        if event.rejected_reason is not None:
            continue
        content = pdu.get("content") or {}
        relates = content.get("m.relates_to")
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
            continue
        notifications += 1
        mentions = content.get("m.mentions")
        if isinstance(mentions, dict):
            user_ids = mentions.get("user_ids")
            if mentions.get("room") is True or (isinstance(user_ids, list) and user_id in user_ids):
                highlights += 1
        else:
            body = content.get("body")
            text = body.lower() if isinstance(body, str) else ""
            if user_lower in text or (name and name in text):
                highlights += 1
    return notifications, highlights


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
            recent = room.recent_since(cached.upto, upto) if room is not None else None
            if recent is not None:
                # The common case, a client keeping up: count from memory.
                n, h = count_in_memory(recent, user_id, display_name)
            else:
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
