"""Backfill: pulling a room's older history from other servers when /messages runs out.

spec: server-server-api.md, "Backfilling and retrieving missing events" and
``GET /_matrix/federation/v1/backfill/{roomId}``. Backfilled events are checked
like any received PDU (format, signatures, hash, auth against their auth events)
and stored as timeline events *below* every existing position, so /messages
continues into them while /sync never shows them as new.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from federation.rooms.auth import AuthError, check_event_against_auth_events
from federation.rooms.events import Event
from homeserver.core.pdu_checks import InvalidPdu, event_from_pdu
from homeserver.core.room_state import RoomState, servers_in_room
from homeserver.errors import MatrixError
from homeserver.storage.events import PersistEvent

if TYPE_CHECKING:
    from homeserver.services.federation.event_source import RemoteEventSource
    from homeserver.services.federation.graph import FederatedGraphWriter
    from homeserver.services.graph.events import EventService
    from homeserver.storage.events import EventStore


class BackfillHost(Protocol):
    """What backfilling uses of the inbound event handler (``FederatedEventHandler``)."""

    events: EventService
    store: EventStore
    graph: FederatedGraphWriter
    remote: RemoteEventSource
    server_name: str

    def room_lock(self, room_id: str) -> asyncio.Lock: ...

    async def check_signatures(self, event: Event) -> None: ...

logger = logging.getLogger(__name__)

MIN_BACKFILL_LIMIT = 50
MAX_BACKFILL_LIMIT = 100


async def backfill_room(handler: BackfillHost, room_id: str, limit: int) -> list[Event]:
    """Fetch, check and store history older than the room's earliest timeline event.

    Returns the newly stored events, newest first (empty when nothing older exists;
    when a concurrent backfill got there first, the new earliest event)."""
    room = await handler.events.get_room(room_id)
    if room is None:
        return []
    servers = servers_in_room(room, exclude=handler.server_name)
    if not servers:
        return []
    earliest = await handler.store.get_earliest_room_event_ids(room_id, 1)
    if not earliest:
        return []
    start = await handler.store.get_event(earliest[0])
    if start is None or not start.prev_event_ids:
        return []  # history starts at the create event
    ask = max(MIN_BACKFILL_LIMIT, min(limit, MAX_BACKFILL_LIMIT))
    for server in servers:
        try:
            # Fetched outside the room lock: live PDUs of the room need not wait for it.
            pdus = await handler.remote.backfill(server, room_id, list(start.prev_event_ids), ask)
        except Exception as e:
            logger.info("backfill of %s from %s failed: %s", room_id, server, e)
            continue
        async with handler.room_lock(room_id):
            now_earliest = await handler.store.get_earliest_room_event_ids(room_id, 1)
            if now_earliest != earliest:
                # A concurrent backfill stored this history meanwhile: report it as found.
                return list((await handler.store.get_events(now_earliest)).values())
            stored = await _store_history(handler, server, room, pdus)
        if stored:
            return stored
    return []


async def _store_history(
    handler: BackfillHost, server: str, room: RoomState, pdus: list[object]
) -> list[Event]:
    parsed: dict[str, Event] = {}
    for raw in pdus:
        try:
            event = event_from_pdu(raw, room.version, room.room_id)[0]
        except InvalidPdu as e:
            logger.info("invalid backfilled PDU from %s: %s", server, e)
            continue
        parsed[event.event_id] = event
    flags = await handler.store.get_graph_flags(list(parsed))
    fresh = [e for eid, e in parsed.items() if eid not in flags or flags[eid].outlier and not (
        flags[eid].rejected or flags[eid].soft_failed)]
    checks = await asyncio.gather(*(handler.check_signatures(e) for e in fresh), return_exceptions=True)
    signed = [e for e, outcome in zip(fresh, checks, strict=True) if not isinstance(outcome, BaseException)]
    # Oldest first, so every event's auth events are stored before it is checked.
    signed.sort(key=lambda e: (e.depth, e.origin_server_ts, e.event_id))
    accepted: list[Event] = []
    for event in signed:
        try:
            await handler.graph.ensure_auth_events(server, room, event)
        except MatrixError as e:
            logger.info("backfilled %s: %s", event.event_id, e.message)
            continue
        auth_list = list((await handler.store.get_events(event.auth_event_ids)).values())
        try:
            check_event_against_auth_events(
                event, auth_list, room.create_event,
                is_signed_by=lambda ev, name: name in ev.pdu.get("signatures", {}),
            )
        except AuthError as e:
            if event.event_id not in flags:
                await handler.graph.store_judged(room, event, rejected=str(e))
            continue
        accepted.append(event)
    # Newest gets the highest of the new positions below all existing ones.
    items: list[PersistEvent] = []
    for event in reversed(accepted):
        event.stream_ordering = handler.events.allocate_backward_stream()
        known = flags.get(event.event_id)
        items.append(
            PersistEvent(
                event=event,
                state_group_before=known.state_group_before if known is not None else None,
                state_group_after=known.state_group if known is not None else None,
                replaces_outlier=known is not None,
            )
        )
    await handler.events.write_quietly(items)
    return [item.event for item in items]
