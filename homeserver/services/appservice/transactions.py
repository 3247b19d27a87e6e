"""Pushing events to application services: durable queues, one transaction at a time.

spec: application-service-api.md, "Pushing events"; MSC2409 (ephemeral events and
to-device messages in transactions). Lower services tell this one what happened
through listeners (room events, typing, receipts, presence, to-device deliveries);
each service's share is appended to its queue in SQLite, and one task per service
sends it in order as ``PUT /transactions/{txnId}``. A transaction is recorded before
it is first sent, so retries (with capped exponential back-off, across restarts too)
repeat the same txnId with the same content; rows go only once the service answered
200: at-least-once delivery, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from federation.rooms.events import Event
from homeserver.config import AppServiceTransactionsConfig
from homeserver.core.appservice import AppService, room_aliases
from homeserver.core.event_format import client_event
from homeserver.core.room_state import RoomState
from homeserver.services.appservice.client import AppServiceClient, AppServiceUnavailable
from homeserver.services.graph.events import EventService
from homeserver.services.social.presence import PresenceService
from homeserver.services.social.receipts import ReceiptService
from homeserver.services.social.to_device import ToDeviceService
from homeserver.services.social.typing import TypingService
from homeserver.storage.appservice_queue import AppServiceQueueStore, QueuedItem

logger = logging.getLogger(__name__)

EVENT, EPHEMERAL, TO_DEVICE = "event", "ephemeral", "to_device"

# One pending item: the services it is for (None: work out who is interested first), its
# kind and content.
_Work = tuple[list[str] | None, str, dict[str, Any]]


def transaction_body(items: Iterable[QueuedItem]) -> dict[str, Any]:
    """The JSON of ``PUT /transactions/{txnId}``: events, and the MSC2409 sections asked for."""
    events: list[dict[str, Any]] = []
    ephemeral: list[dict[str, Any]] = []
    to_device: list[dict[str, Any]] = []
    for item in items:
        {EVENT: events, EPHEMERAL: ephemeral, TO_DEVICE: to_device}[item.kind].append(item.content)
    body: dict[str, Any] = {"events": events}
    if ephemeral:
        body["ephemeral"] = ephemeral
        body["de.sorunome.msc2409.ephemeral"] = ephemeral
    if to_device:
        body["de.sorunome.msc2409.to_device"] = to_device
        body["org.matrix.msc2409.to_device"] = to_device
    return body


class AppServiceTransactions:
    def __init__(
        self,
        services: list[AppService],
        store: AppServiceQueueStore,
        client: AppServiceClient,
        *,
        events: EventService,
        typing: TypingService,
        receipts: ReceiptService,
        presence: PresenceService,
        to_device: ToDeviceService,
        config: AppServiceTransactionsConfig,
    ) -> None:
        # Only services with a URL receive anything.
        self.services = [s for s in services if s.url is not None]
        self.store = store
        self.client = client
        self.events = events
        self.typing = typing
        self.receipts = receipts
        self.presence = presence
        self.to_device = to_device
        self.config = config
        self._pending: list[_Work] = []
        self._has_work = asyncio.Event()
        self._wake: dict[str, asyncio.Event] = {s.id: asyncio.Event() for s in self.services}
        self._tasks: list[asyncio.Task[None]] = []
        self._enqueue_task: asyncio.Task[None] | None = None
        self._stopping = False

    def register(self) -> None:
        """Listen to the lower services (before anything is sent)."""
        if not self.services:
            return
        self.events.add_persist_listener(self._on_room_event)
        self.typing.add_update_listener(self._on_typing)
        self.receipts.add_public_receipt_listener(self._on_receipt)
        self.presence.add_change_listener(self._on_presence)
        self.to_device.add_delivery_listener(self._on_to_device)

    async def start(self) -> None:
        if not self.services:
            return
        self._enqueue_task = asyncio.create_task(self._enqueue_loop(), name="appservice-enqueue")
        for service in self.services:
            self._wake[service.id].set()  # anything left from before a restart goes first
            self._tasks.append(asyncio.create_task(self._send_loop(service), name=f"appservice-send-{service.id}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        # The enqueue task is not cancelled (a write it awaits would commit all the same and
        # be queued twice): it writes what the listeners heard, then returns.
        if self._enqueue_task is not None:
            self._stopping = True
            self._has_work.set()
            await self._enqueue_task
            self._enqueue_task = None

    # --- listeners (synchronous: they only note what happened) ---------------------
    def _put(self, work: _Work) -> None:
        self._pending.append(work)
        self._has_work.set()

    def _interested_in_room(self, room: RoomState | None, room_id: str) -> list[AppService]:
        if room is None:
            return [s for s in self.services if s.is_room_in_namespace(room_id)]
        aliases = room_aliases(room.state_content("m.room.canonical_alias"))
        members = room.members_with("join")
        return [s for s in self.services if s.is_interested_in_room(room_id, aliases, members)]

    def _on_room_event(self, room: RoomState, event: Event) -> None:
        pdu = event.pdu
        aliases = room_aliases(room.state_content("m.room.canonical_alias"))
        members = room.members_with("join")
        state_key = pdu.get("state_key")
        wanted = [
            s.id for s in self.services
            if s.is_interested_in_event(
                sender=pdu["sender"], state_key=state_key if isinstance(state_key, str) else None,
                event_type=pdu["type"], room_id=event.room_id, aliases=aliases, members=members,
            )
        ]
        if wanted:
            self._put((wanted, EVENT, client_event(event)))

    def _on_typing(self, room_id: str, user_id: str, typing: bool) -> None:
        wanted = [s.id for s in self._interested_in_room(self.events.cached_room(room_id), room_id)
                  if s.receive_ephemeral]
        if wanted:
            content = {"user_ids": self.typing.typing_users(room_id)}
            self._put((wanted, EPHEMERAL, {"type": "m.typing", "room_id": room_id, "content": content}))

    def _on_receipt(
        self, room_id: str, receipt_type: str, user_id: str, event_id: str, data: dict[str, Any]
    ) -> None:
        wanted = [s.id for s in self._interested_in_room(self.events.cached_room(room_id), room_id)
                  if s.receive_ephemeral]
        if wanted:
            content = {event_id: {receipt_type: {user_id: data}}}
            self._put((wanted, EPHEMERAL, {"type": "m.receipt", "room_id": room_id, "content": content}))

    def _on_presence(self, user_id: str, content: dict[str, Any]) -> None:
        # Who shares a room with the user is found out by the enqueue task.
        if any(s.receive_ephemeral for s in self.services):
            self._put((None, EPHEMERAL, {"type": "m.presence", "sender": user_id, "content": content}))

    def _on_to_device(self, deliveries: list[tuple[str, str, dict[str, Any]]]) -> None:
        for user_id, device_id, message in deliveries:
            wanted = [s.id for s in self.services if s.receive_to_device and s.is_user_in_namespace(user_id)]
            if wanted:
                item = {**message, "to_user_id": user_id, "to_device_id": device_id}
                self._put((wanted, TO_DEVICE, item))

    # --- queueing ----------------------------------------------------------------
    async def _presence_audience(self, user_id: str) -> list[str]:
        """Services with ephemeral events on that share a room with the user (or own it)."""
        services = [s for s in self.services if s.receive_ephemeral]
        wanted = {s.id for s in services if s.is_user_in_namespace(user_id)}
        rooms = await self.events.rooms_for_user(user_id)
        for room_id, membership in rooms.items():
            if membership != "join" or len(wanted) == len(services):
                continue
            room = await self.events.get_room(room_id)
            wanted.update(s.id for s in self._interested_in_room(room, room_id) if s in services)
        return sorted(wanted)

    async def _enqueue_loop(self) -> None:
        while not self._stopping:
            await self._has_work.wait()
            self._has_work.clear()
            try:
                await self._drain()
            except Exception:
                logger.exception("queueing items for application services failed")

    async def _drain(self) -> None:
        """Append what the listeners noted, in order, to the services' queues."""
        while self._pending:
            # Taken off only once written: a stop mid-way leaves them for the final drain.
            batch = list(self._pending)
            rows: list[tuple[str, str, dict[str, Any]]] = []
            for wanted, kind, content in batch:
                if wanted is None:
                    wanted = await self._presence_audience(content["sender"])
                rows.extend((as_id, kind, content) for as_id in wanted)
            await self.store.enqueue(rows)
            del self._pending[:len(batch)]
            for as_id in dict.fromkeys(r[0] for r in rows):
                self._wake[as_id].set()

    async def _send_loop(self, service: AppService) -> None:
        delay_ms = self.config.retry_initial_ms
        wake = self._wake[service.id]
        while True:
            await wake.wait()
            wake.clear()
            while True:
                txn = await self.store.next_transaction(service.id, self.config.max_events_per_transaction)
                if txn is None:
                    break
                try:
                    await self.client.push(service, str(txn.txn_id), transaction_body(txn.items))
                except AppServiceUnavailable as e:
                    logger.warning("transaction %s to application service %s failed, retrying in %d ms: %s",
                                   txn.txn_id, service.id, delay_ms, e)
                    await asyncio.sleep(delay_ms / 1000)
                    delay_ms = min(delay_ms * 2, self.config.retry_max_ms)
                    continue
                delay_ms = self.config.retry_initial_ms
                await self.store.complete_transaction(service.id, txn.txn_id)
