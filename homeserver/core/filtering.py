"""Sync and pagination filters (spec: client-server-api, "Filtering").

Parsing accepts only the documented shapes (wrong types -> M_BAD_JSON at upload
or use); matching is pure and cheap because it runs on every synced event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from federation.rooms.events import Event
from homeserver.errors import MatrixError

DEFAULT_TIMELINE_LIMIT = 10
MAX_LIMIT = 1000


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")


def _matches_any(value: str, patterns: tuple[str, ...]) -> bool:
    for p in patterns:
        if "*" in p:
            if _glob(p).match(value):
                return True
        elif p == value:
            return True
    return False


def _str_list(obj: dict[str, Any], key: str) -> tuple[str, ...] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MatrixError("M_BAD_JSON", 400, f"filter: {key} must be a list of strings")
    return tuple(value)


def _object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MatrixError("M_BAD_JSON", 400, f"filter: {key} must be an object")
    return value


def _bool(obj: dict[str, Any], key: str, default: bool = False) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise MatrixError("M_BAD_JSON", 400, f"filter: {key} must be a boolean")
    return value


@dataclass(frozen=True, slots=True)
class EventFilter:
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    limit: int | None = None
    contains_url: bool | None = None
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    unread_thread_notifications: bool = False  # only /sync reads it

    @classmethod
    def parse(cls, obj: Any) -> EventFilter:
        if obj is None:
            return cls()
        if not isinstance(obj, dict):
            raise MatrixError("M_BAD_JSON", 400, "filter must be an object")
        limit = obj.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise MatrixError("M_BAD_JSON", 400, "filter: limit must be a non-negative integer")
        contains_url = obj.get("contains_url")
        if contains_url is not None and not isinstance(contains_url, bool):
            raise MatrixError("M_BAD_JSON", 400, "filter: contains_url must be a boolean")
        return cls(
            types=_str_list(obj, "types"),
            not_types=_str_list(obj, "not_types") or (),
            senders=_str_list(obj, "senders"),
            not_senders=_str_list(obj, "not_senders") or (),
            rooms=_str_list(obj, "rooms"),
            not_rooms=_str_list(obj, "not_rooms") or (),
            limit=min(limit, MAX_LIMIT) if limit is not None else None,
            contains_url=contains_url,
            lazy_load_members=_bool(obj, "lazy_load_members"),
            include_redundant_members=_bool(obj, "include_redundant_members"),
            unread_thread_notifications=_bool(obj, "unread_thread_notifications"),
        )

    @property
    def is_noop(self) -> bool:
        return (
            self.types is None and not self.not_types and self.senders is None
            and not self.not_senders and self.contains_url is None
        )

    def allows_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    def allows_type_and_sender(self, event_type: str, sender: str) -> bool:
        if self.not_types and _matches_any(event_type, self.not_types):
            return False
        if self.types is not None and not _matches_any(event_type, self.types):
            return False
        if sender in self.not_senders:
            return False
        return self.senders is None or sender in self.senders

    def allows(self, event: Event) -> bool:
        if not self.allows_type_and_sender(event.type, event.sender):
            return False
        if self.contains_url is not None:
            has_url = isinstance(event.content.get("url"), str)
            if has_url != self.contains_url:
                return False
        return True


@dataclass(frozen=True, slots=True)
class RoomFilter:
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    include_leave: bool = False
    timeline: EventFilter = field(default_factory=EventFilter)
    state: EventFilter = field(default_factory=EventFilter)
    ephemeral: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)

    def allows_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms


@dataclass(frozen=True, slots=True)
class SyncFilter:
    room: RoomFilter = field(default_factory=RoomFilter)
    presence: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)
    event_fields: tuple[str, ...] | None = None
    event_format: str = "client"

    @property
    def timeline_limit(self) -> int:
        limit = self.room.timeline.limit
        return DEFAULT_TIMELINE_LIMIT if limit is None else limit

    @classmethod
    def parse(cls, obj: Any) -> SyncFilter:
        if obj is None:
            return cls()
        if not isinstance(obj, dict):
            raise MatrixError("M_BAD_JSON", 400, "filter must be a JSON object")
        room = _object(obj, "room")
        event_format = obj.get("event_format", "client")
        if event_format not in ("client", "federation"):
            raise MatrixError("M_BAD_JSON", 400, "filter: event_format must be client or federation")
        return cls(
            room=RoomFilter(
                rooms=_str_list(room, "rooms"),
                not_rooms=_str_list(room, "not_rooms") or (),
                include_leave=_bool(room, "include_leave"),
                timeline=EventFilter.parse(room.get("timeline")),
                state=EventFilter.parse(room.get("state")),
                ephemeral=EventFilter.parse(room.get("ephemeral")),
                account_data=EventFilter.parse(room.get("account_data")),
            ),
            presence=EventFilter.parse(obj.get("presence")),
            account_data=EventFilter.parse(obj.get("account_data")),
            event_fields=_str_list(obj, "event_fields"),
            event_format=event_format,
        )
