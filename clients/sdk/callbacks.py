"""Routing sync updates to the application's callbacks."""

from __future__ import annotations

import inspect
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from clients.sdk.rooms import Room
from clients.sdk.state import SyncUpdate

log = logging.getLogger(__name__)

RoomEventCallback = Callable[[Room, dict[str, Any]], Awaitable[None] | None]
SyncCallback = Callable[[dict[str, Any]], Awaitable[None] | None]


class Callbacks:
    """Registered handlers. A handler may be a plain function or a coroutine function.

    - ``on_message``: m.room.message timeline events (room, event)
    - ``on_event(type)``: timeline/state/ephemeral room events of that type (room, event)
    - ``on_invite``: we were invited (room, our m.room.member event)
    - ``on_leave``: we left, were kicked or banned (room, our m.room.member event)
    - ``on_account_data`` / ``on_presence``: (None, event) global events
    - ``on_sync``: the whole response, after the model is updated
    """

    def __init__(self) -> None:
        self._by_kind: dict[str, list[RoomEventCallback]] = defaultdict(list)
        self._by_type: dict[str, list[RoomEventCallback]] = defaultdict(list)
        self._sync: list[SyncCallback] = []

    def on_message(self, fn: RoomEventCallback) -> RoomEventCallback:
        self._by_type["m.room.message"].append(fn)
        return fn

    def on_event(self, event_type: str) -> Callable[[RoomEventCallback], RoomEventCallback]:
        def register(fn: RoomEventCallback) -> RoomEventCallback:
            self._by_type[event_type].append(fn)
            return fn

        return register

    def on_invite(self, fn: RoomEventCallback) -> RoomEventCallback:
        self._by_kind["invite"].append(fn)
        return fn

    def on_leave(self, fn: RoomEventCallback) -> RoomEventCallback:
        self._by_kind["left"].append(fn)
        return fn

    def on_account_data(self, fn: RoomEventCallback) -> RoomEventCallback:
        self._by_kind["account_data"].append(fn)
        return fn

    def on_presence(self, fn: RoomEventCallback) -> RoomEventCallback:
        self._by_kind["presence"].append(fn)
        return fn

    def on_sync(self, fn: SyncCallback) -> SyncCallback:
        self._sync.append(fn)
        return fn

    async def dispatch(self, updates: list[SyncUpdate], response: dict[str, Any]) -> None:
        for update in updates:
            handlers = list(self._by_kind.get(update.kind, ()))
            if update.kind in ("timeline", "state", "ephemeral") and update.room is not None:
                handlers += self._by_type.get(str(update.event.get("type")), [])
            for handler in handlers:
                await _call(handler, update.room, update.event)  # type: ignore[arg-type]
        for sync_handler in self._sync:
            result = sync_handler(response)
            if inspect.isawaitable(result):
                await result


async def _call(handler: RoomEventCallback, room: Room, event: dict[str, Any]) -> None:
    result = handler(room, event)
    if inspect.isawaitable(result):
        await result
