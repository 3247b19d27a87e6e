"""Wakes long-polling /sync requests when something they care about changes.

Each local user has a change counter. A sync request reads the counter, computes
its response, and if that is empty waits for the counter to move (or a timeout).
Nothing polls: producers call ``notify_users`` and only those users' waiters wake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from federation.rooms.events import Event
    from homeserver.core.room_state import RoomState


class Notifier:
    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._room_waiters: dict[str, set[str]] = {}
        self._closed = False

    def forget_room(self, room_id: str) -> None:
        """A purged room has no one left to wake."""
        self._room_waiters.pop(room_id, None)

    def version(self, user_id: str) -> int:
        return self._versions.get(user_id, 0)

    def notify_users(self, user_ids: Iterable[str]) -> None:
        for user_id in user_ids:
            self._versions[user_id] = self._versions.get(user_id, 0) + 1
            waiters = self._waiters.pop(user_id, None)
            if waiters:
                for fut in waiters:
                    if not fut.done():
                        fut.set_result(None)

    def on_room_event(self, room: RoomState, event: Event) -> None:
        """Wake the room's joined members, and the target of a membership change."""
        users = room.members_with("join")
        if event.type == "m.room.member" and event.state_key is not None:
            users.append(event.state_key)
        self.notify_users(users)

    async def wait(self, user_id: str, since_version: int, timeout: float) -> bool:
        """Wait until the user's counter passes ``since_version``; False on timeout."""
        if self._versions.get(user_id, 0) != since_version:
            return True
        if self._closed or timeout <= 0:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(user_id, []).append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(user_id)
            if waiters is not None:
                try:
                    waiters.remove(fut)
                except ValueError:
                    pass
                if not waiters:
                    del self._waiters[user_id]

    def shutdown(self) -> None:
        """Release every waiter (they answer with what they have)."""
        self._closed = True
        for waiters in self._waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
        self._waiters.clear()
