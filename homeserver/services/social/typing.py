"""Typing notifications: in memory, each entry expiring on its own timer.

spec: client-server-api/modules/typing_notifications.md. A room's typing set
changes when someone starts or stops typing or a timeout passes; each change
takes the next position of the ``typing`` stream and wakes the room's members.
Nothing polls: an entry's expiry is a ``loop.call_at`` handle, cancelled when
the user types again, stops, or the server shuts down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from homeserver.core.sync_source import SyncContext, SyncContribution
from homeserver.errors import forbidden
from homeserver.services.graph.events import EventService
from homeserver.services.graph.notifier import Notifier

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 30_000
MAX_TIMEOUT_MS = 120_000


class TypingService:
    stream = "typing"

    def __init__(self, events: EventService, notifier: Notifier) -> None:
        self.events = events
        self.notifier = notifier
        self._position = 0
        # room_id -> user_id -> expiry timer
        self._typing: dict[str, dict[str, asyncio.TimerHandle]] = {}
        # room_id -> stream position of the room's last change
        self._changed_at: dict[str, int] = {}
        # (room_id, user_id, typing) after every update, e.g. for federation's m.typing.
        self._update_listeners: list[Callable[[str, str, bool], None]] = []

    def add_update_listener(self, listener: Callable[[str, str, bool], None]) -> None:
        self._update_listeners.append(listener)

    def _tell_listeners(self, room_id: str, user_id: str, typing: bool) -> None:
        for listener in self._update_listeners:
            try:
                listener(room_id, user_id, typing)
            except Exception:
                logger.exception("typing listener failed for %s in %s", user_id, room_id)

    def forget_room(self, room_id: str) -> None:
        """A purged room: nobody types there any more (no update is sent)."""
        for timer in self._typing.pop(room_id, {}).values():
            timer.cancel()
        self._changed_at.pop(room_id, None)

    def current_position(self) -> int:
        return self._position

    def typing_users(self, room_id: str) -> list[str]:
        return sorted(self._typing.get(room_id, {}))

    async def set_typing(self, user_id: str, room_id: str, typing: bool, timeout_ms: int | None) -> None:
        room = await self.events.get_room(room_id)
        if room is None or room.membership(user_id) != "join":
            raise forbidden("You are not in this room")
        users = self._typing.setdefault(room_id, {})
        previous = users.pop(user_id, None)
        if previous is not None:
            previous.cancel()
        if typing:
            timeout = DEFAULT_TIMEOUT_MS if timeout_ms is None else min(max(timeout_ms, 0), MAX_TIMEOUT_MS)
            loop = asyncio.get_running_loop()
            users[user_id] = loop.call_later(timeout / 1000, self._expire, room_id, user_id)
        if not users:
            del self._typing[room_id]
        if (previous is None) == typing:  # started, or stopped while typing
            self._changed(room_id)
        self._tell_listeners(room_id, user_id, typing)

    def _expire(self, room_id: str, user_id: str) -> None:
        users = self._typing.get(room_id)
        if users is None or users.pop(user_id, None) is None:
            return
        if not users:
            del self._typing[room_id]
        self._changed(room_id)
        self._tell_listeners(room_id, user_id, False)

    def _changed(self, room_id: str) -> None:
        self._position += 1
        self._changed_at[room_id] = self._position
        room = self.events.cached_room(room_id)
        if room is not None:
            self.notifier.notify_users(room.members_with("join"))

    def event_for(self, room_id: str) -> dict[str, Any]:
        # spec: m.typing in /sync carries no room_id.
        return {"type": "m.typing", "content": {"user_ids": self.typing_users(room_id)}}

    async def contribute(self, ctx: SyncContext) -> SyncContribution:
        out = SyncContribution()
        since = ctx.since.typing if ctx.since is not None else None
        if since is not None and since >= self._position and not ctx.newly_joined_room_ids:
            return out
        ephemeral = ctx.filter.room.ephemeral
        if not ephemeral.allows_type_and_sender("m.typing", ""):
            return out
        for room_id in ctx.joined_room_ids:
            if not ephemeral.allows_room(room_id):
                continue
            full = since is None or room_id in ctx.newly_joined_room_ids
            if full:
                if room_id not in self._typing:
                    continue
            elif self._changed_at.get(room_id, 0) <= since:  # type: ignore[operator]
                continue
            out.rooms[room_id] = {"ephemeral": [self.event_for(room_id)]}
        return out

    def stop(self) -> None:
        for users in self._typing.values():
            for handle in users.values():
                handle.cancel()
        self._typing.clear()
