"""The contract between /sync and the streams that plug into it (``SyncSource``s).

Sources (account data, receipts, typing, presence, to-device, device lists, push
rules, unread counts) live in lower service areas than sync, so what they receive and
answer is declared here, below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from homeserver.core.filtering import SyncFilter
from homeserver.core.requester import Requester
from homeserver.core.stream_token import StreamToken


@dataclass(slots=True)
class SyncContext:
    """What a SyncSource needs to contribute to one sync response."""

    requester: Requester
    filter: SyncFilter
    since: StreamToken | None
    upto: StreamToken
    joined_room_ids: list[str]
    # Rooms that became joined in this sync: sources send their full picture for them.
    newly_joined_room_ids: set[str] = field(default_factory=set)


@dataclass(slots=True)
class SyncContribution:
    # Top-level sections, e.g. {"account_data": {"events": [...]}}.
    top_level: dict[str, Any] = field(default_factory=dict)
    # room_id -> section name -> list of events, for joined rooms ("ephemeral", "account_data").
    rooms: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    # room_id -> {"notification_count": .., "highlight_count": ..}
    unread: dict[str, dict[str, int]] = field(default_factory=dict)
    # room_id -> thread root -> counts, when the filter sets unread_thread_notifications.
    unread_threads: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    # Extra top-level scalars (device_one_time_keys_count, ...), sent even when empty.
    always: dict[str, Any] = field(default_factory=dict)
    # Set when the source sent only part of its stream up to `upto` (e.g. the first
    # 100 to-device messages): next_batch resumes its stream from this position.
    resume_from: int | None = None


class SyncSource(Protocol):
    stream: str  # one of STREAM_NAMES

    def current_position(self) -> int: ...

    async def contribute(self, ctx: SyncContext) -> SyncContribution: ...
