"""MSC4140 delayed events: a client schedules an event to be sent later unless it says otherwise.

Element Call (and ``clients/voice/room.py``) schedule their own "left the call" member state
this way and restart the timer while connected, so a client that crashes or loses its
network has its call membership cleared by its own homeserver: no other server could send
its state events. Scheduled events live in the ``delayed_events`` table until sent or
cancelled, so they survive a restart and fire after it. One owned task sends them when due.

spec: MSC4140 (org.matrix.msc4140), shapes as Synapse's ``synapse/handlers/delayed_events.py``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
from typing import Any

from federation.rooms.events import Event
from homeserver.clock import Clock
from homeserver.core.requester import Requester
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError, forbidden, invalid_param, not_found
from homeserver.services.graph.events import EventService
from homeserver.services.rooms.rooms import RoomService
from homeserver.storage.delayed_events import DelayedEvent, DelayedEventStore

logger = logging.getLogger(__name__)

MSC4140 = "org.matrix.msc4140"
# Scheduled events one user may have at a time (a call client needs one per device and room).
MAX_SCHEDULED_PER_USER = 100
# How long shutdown waits for an event being sent to be committed.
STOP_WAIT_S = 5.0
_ID_ALPHABET = string.ascii_letters


class DelayedEventService:
    """Schedules, restarts, cancels and sends users' delayed events."""

    def __init__(
        self, store: DelayedEventStore, events: EventService, rooms: RoomService, clock: Clock,
        max_delay_ms: int,
    ) -> None:
        self.store = store
        self.events = events
        self.rooms = rooms
        self.clock = clock
        self.max_delay_ms = max_delay_ms
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # (room, type, state_key, sender) of persisted state events, for the task to cancel
        # the other users' delayed state events aimed at them (a listener cannot await).
        self._overwritten: list[tuple[str, str, str, str]] = []
        # Held while those are cancelled and while an event is scheduled, so state set
        # before a schedule never cancels the event scheduled after it.
        self._overwrite_lock = asyncio.Lock()

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="delayed-events")

    async def stop(self) -> None:
        # Let an event being sent reach its commit (it was already taken from the table),
        # then end the task; cancel it only if that takes too long.
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, STOP_WAIT_S)
            except TimeoutError:
                logger.warning("delayed events: the sender did not stop within %s s", STOP_WAIT_S)
            self._task = None

    # --- the client API ---------------------------------------------------------------
    def check_delay(self, delay_ms: int) -> None:
        if self.max_delay_ms == 0:
            raise invalid_param("Delayed events are not enabled on this server")
        if delay_ms < 0:
            raise invalid_param(f"{MSC4140}.delay must be a non-negative integer")
        if delay_ms > self.max_delay_ms:
            # Synapse's answer, errcode included: matrix-js-sdk (Element Call) retries with
            # org.matrix.msc4140.max_delay only when errcode is M_UNKNOWN and the
            # org.matrix.msc4140.errcode is M_MAX_DELAY_EXCEEDED.
            raise MatrixError(
                "M_UNKNOWN", 400, "The requested delay exceeds the allowed maximum.",
                **{f"{MSC4140}.errcode": "M_MAX_DELAY_EXCEEDED", f"{MSC4140}.max_delay": self.max_delay_ms},
            )

    async def schedule(
        self, requester: Requester, room_id: str, event_type: str, content: dict[str, Any],
        state_key: str | None, delay_ms: int,
    ) -> str:
        """Store an event to be sent as ``requester`` after ``delay_ms``; returns its delay_id."""
        self.check_delay(delay_ms)
        room = await self.events.require_room(room_id)
        if state_key is not None and event_type == "m.room.create":
            raise MatrixError("M_BAD_JSON", 400, "m.room.create cannot be sent to an existing room")
        member = room.state.get(("m.room.member", requester.user_id))
        if member is None or member.content.get("membership") != "join":
            raise forbidden(f"{requester.user_id} is not in the room")
        delay_id = "pld_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))
        async with self._overwrite_lock:
            await self._cancel_overwritten()
            if await self.store.count_for_user(requester.user_id) >= MAX_SCHEDULED_PER_USER:
                # Synapse's answer (storage/databases/main/delayed_events.py, add_delayed_event).
                raise MatrixError(
                    "M_UNKNOWN", 400, "The maximum number of delayed events has been reached.",
                    **{f"{MSC4140}.errcode": "M_MAX_DELAY_UNSUPPORTED"},
                )
            await self.store.add(DelayedEvent(
                delay_id=delay_id, user_id=requester.user_id, device_id=requester.device_id,
                room_id=room_id, event_type=event_type, state_key=state_key, content=content,
                delay_ms=delay_ms, send_ts=self.clock.time_ms() + delay_ms,
            ))
        self._wake.set()
        return delay_id

    async def restart(self, requester: Requester, delay_id: str) -> None:
        if not await self.store.restart(delay_id, requester.user_id, self.clock.time_ms()):
            raise not_found("Delayed event not found")
        self._wake.set()

    async def cancel(self, requester: Requester, delay_id: str) -> None:
        if await self.store.take(delay_id, requester.user_id) is None:
            raise not_found("Delayed event not found")
        self._wake.set()

    async def send_now(self, requester: Requester, delay_id: str) -> None:
        delayed = await self.store.take(delay_id, requester.user_id)
        if delayed is None:
            raise not_found("Delayed event not found")
        await self._send(delayed)

    async def scheduled_for(self, requester: Requester) -> list[dict[str, Any]]:
        """The user's scheduled events, shaped as Synapse's GET /delayed_events entries."""
        out = []
        for d in await self.store.for_user(requester.user_id):
            entry: dict[str, Any] = {"delay_id": d.delay_id, "room_id": d.room_id, "type": d.event_type}
            if d.state_key is not None:
                entry["state_key"] = d.state_key
            entry.update({"delay": d.delay_ms, "running_since": d.send_ts - d.delay_ms, "content": d.content})
            out.append(entry)
        return out

    # --- sending ----------------------------------------------------------------------
    async def _send(self, delayed: DelayedEvent) -> Event:
        """Send through the normal event path, as the user who scheduled it."""
        content = delayed.content
        if delayed.event_type == "m.room.member" and delayed.state_key is not None:
            room = await self.events.require_room(delayed.room_id)
            content = await self.rooms.member_content_from_client(
                room, delayed.user_id, delayed.state_key, content
            )
        return await self.events.send(
            delayed.room_id, delayed.user_id, delayed.event_type, content, delayed.state_key
        )

    def on_persisted(self, room: RoomState, event: Event) -> None:
        """The persist listener (registered by the wiring)."""
        # As Synapse (handlers/delayed_events.py, _handle_state_deltas): state set by someone
        # else (here or over federation) replaces what a delayed state event would have set,
        # so it is cancelled; the user's own state sends keep their delayed events, since a
        # call client schedules its leave and then sends its join.
        if event.state_key is None:
            return
        self._overwritten.append((event.room_id, event.type, event.state_key, event.sender))
        self._wake.set()

    async def _cancel_overwritten(self) -> None:
        """Cancel what ``_on_persisted`` queued; the caller holds ``_overwrite_lock``."""
        keys, self._overwritten = self._overwritten, []
        for room_id, event_type, state_key, sender in dict.fromkeys(keys):
            for d in await self.store.take_state(room_id, event_type, state_key, sender):
                logger.info("delayed events: %s of %s in %s cancelled: %s set %s/%s",
                            d.delay_id, d.user_id, room_id, sender, event_type, state_key)

    async def _send_due(self) -> None:
        for due in await self.store.due(self.clock.time_ms()):
            if self._stopping:
                return  # still in the table: sent after the next start
            delayed = await self.store.take(due.delay_id)
            if delayed is None:
                continue  # cancelled or sent meanwhile
            try:
                await self._send(delayed)
            except MatrixError as e:
                # Like Synapse, a delayed event that cannot be sent any more is dropped.
                logger.info("delayed events: %s of %s in %s not sent: %s %s",
                            delayed.delay_id, delayed.user_id, delayed.room_id, e.errcode, e.message)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                async with self._overwrite_lock:
                    await self._cancel_overwritten()
                await self._send_due()
                next_ts = await self.store.next_send_ts()
            except Exception:
                logger.exception("delayed events: sending failed; trying again in a second")
                next_ts = self.clock.time_ms() + 1000
            timeout = None if next_ts is None else max(0, next_ts - self.clock.time_ms()) / 1000
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
