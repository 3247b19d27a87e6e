"""Writing remote events into a room's graph: outliers, state groups, accepted events, joins.

Used by ``FederatedEventHandler``. Outliers (auth chains, state fetched with
/state_ids, rejected and soft-failed events) get positions below every timeline
event, so they never reach /sync or /messages. spec: server-server-api.md,
"Checks performed on receipt of a PDU", "Soft failure", "Joining Rooms".
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from federation.rooms.auth import AuthError, check_auth_rules, check_event_against_auth_events
from federation.rooms.events import Event
from federation.rooms.versions import RoomVersion
from homeserver.core.pdu_checks import InvalidPdu, event_from_pdu
from homeserver.core.room_fold import ResolvedState, StateGroupDelta, delta_or_snapshot
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError
from homeserver.services.federation.event_source import RemoteEventSource
from homeserver.services.federation.state import MissingAuthEvents, StateIds, resolve_state_sets
from homeserver.services.graph.events import EventService, stored_group
from homeserver.storage.events import EventStore, NewStateGroup, PersistEvent
from homeserver.storage.state import MAX_DELTA_DEPTH, StateStore

logger = logging.getLogger(__name__)

FETCH_CONCURRENCY = 10


class PduRejected(MatrixError):
    """The event failed a check on receipt (dropped or stored as rejected)."""

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__("M_FORBIDDEN", 403, f"{event_id}: {reason}")
        self.event_id = event_id


class PduNotProcessed(MatrixError):
    """The event could not be checked yet (missing events, unreachable servers)."""

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__("M_UNKNOWN", 502, f"{event_id}: {reason}")
        self.event_id = event_id


@dataclass(slots=True)
class StateBefore:
    """The room state before an event, with the group holding it."""

    state: StateIds
    group_id: int
    delta_depth: int
    # groups to write with the event (a resolved state not stored yet)
    new_groups: list[StateGroupDelta] = field(default_factory=list)

    def resolved(self, new_current: StateIds, events: dict[str, Event]) -> ResolvedState:
        """What ``EventService.apply_remote`` folds for an event with this state before it."""
        return ResolvedState(self.state, self.group_id, self.delta_depth, new_current, events,
                             self.new_groups)


def _auth_order(events: Sequence[Event]) -> list[Event]:
    """Events ordered so that each comes after its auth events within the batch
    (Kahn's algorithm; ties by depth then ID)."""
    by_id = {e.event_id: e for e in events}
    waiting = {e.event_id: len({a for a in e.auth_event_ids if a in by_id}) for e in events}
    dependants: dict[str, list[str]] = {eid: [] for eid in by_id}
    for event in events:
        for auth_id in {a for a in event.auth_event_ids if a in by_id}:
            dependants[auth_id].append(event.event_id)
    ready = [(by_id[eid].depth, eid) for eid, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[Event] = []
    while ready:
        _, event_id = heapq.heappop(ready)
        ordered.append(by_id[event_id])
        for dependant in dependants[event_id]:
            waiting[dependant] -= 1
            if waiting[dependant] == 0:
                heapq.heappush(ready, (by_id[dependant].depth, dependant))
    placed = {e.event_id for e in ordered}
    ordered.extend(e for e in events if e.event_id not in placed)  # cycles: rejected later
    return ordered


SignatureCheck = Callable[[Event], Awaitable[None]]


class FederatedGraphWriter:
    """Stores what ``FederatedEventHandler`` judged; room state changes go through
    ``EventService`` (``apply_remote``, ``persist_remote_join``)."""

    def __init__(
        self,
        events: EventService,
        store: EventStore,
        state_store: StateStore,
        remote: Callable[[], RemoteEventSource],
        check_signatures: SignatureCheck,
    ) -> None:
        self.events = events
        self.store = store
        self.state_store = state_store
        # The handler's current source (tests replace it after construction).
        self._remote = remote
        self.check_signatures = check_signatures

    # --- outliers ---------------------------------------------------------------------
    async def persist_outliers(
        self,
        origin: str,
        version: RoomVersion,
        room_id: str,
        create_event: Event | None,
        raw_pdus: Sequence[Any],
        *,
        new_room: bool = False,
    ) -> dict[str, Event]:
        """Check and store events outside the timeline; returns every valid event given
        (stored now or before), with ``rejected_reason`` set on rejected ones."""
        parsed: dict[str, Event] = {}
        for raw in raw_pdus:
            try:
                event = event_from_pdu(raw, version, room_id)[0]
            except InvalidPdu as e:
                logger.info("invalid outlier from %s in %s: %s", origin, room_id, e)
                continue
            parsed[event.event_id] = event
        stored = await self.store.get_events(parsed)
        todo = [e for eid, e in parsed.items() if eid not in stored]
        checks = await asyncio.gather(
            *(self.check_signatures(e) for e in todo), return_exceptions=True
        )
        signed: list[Event] = []
        for event, outcome in zip(todo, checks, strict=True):
            if isinstance(outcome, BaseException):
                logger.info("dropping outlier %s: %s", event.event_id, outcome)
            else:
                signed.append(event)
        if create_event is None:
            create_event = next((e for e in signed if e.type == "m.room.create"), None)
        needed = {a for e in signed for a in e.auth_event_ids} - {e.event_id for e in signed}
        known: dict[str, Event] = dict(await self.store.get_events(needed))
        items: list[PersistEvent] = []
        for event in _auth_order(signed):
            auth_list = [known[a] for a in event.auth_event_ids if a in known]
            reason: str | None = None
            if len(auth_list) != len(event.auth_event_ids):
                reason = "auth events are missing"
            else:
                try:
                    check_event_against_auth_events(
                        event, auth_list, create_event, is_signed_by=_carries_signature
                    )
                except AuthError as e:
                    reason = str(e)
            judged = Event(
                event.event_id, event.pdu, version, rejected_reason=reason,
                stream_ordering=self.events.allocate_backward_stream(),
            )
            known[event.event_id] = judged
            stored[event.event_id] = judged
            is_create = event.type == "m.room.create"
            items.append(
                PersistEvent(
                    event=judged, state_group_before=None, state_group_after=None, outlier=True,
                    new_room_version=version if (new_room and is_create) else None,
                )
            )
        await self.events.write_quietly(items)
        return {eid: stored[eid] for eid in parsed if eid in stored}

    async def ensure_auth_events(self, origin: str, room: RoomState, event: Event) -> None:
        """Fetch the event's auth chain from ``origin`` if some auth events are unknown."""
        flags = await self.store.get_graph_flags(event.auth_event_ids)
        if all(a in flags for a in event.auth_event_ids):
            return
        try:
            chain = await self._remote().get_event_auth(origin, room.room_id, event.event_id)
        except Exception as e:
            raise PduNotProcessed(event.event_id, f"cannot fetch auth events: {e}") from None
        await self.persist_outliers(origin, room.version, room.room_id, room.create_event, chain)
        flags = await self.store.get_graph_flags(event.auth_event_ids)
        if not all(a in flags for a in event.auth_event_ids):
            raise PduNotProcessed(event.event_id, "auth events are missing")

    # --- state before an event --------------------------------------------------------
    async def state_before(self, origin: str, room: RoomState, event: Event) -> StateBefore:
        """spec: the state before E is the resolution of the states after its prev_events."""
        flags = await self.store.get_graph_flags(event.prev_event_ids)
        groups: list[int] = []
        for prev_id in event.prev_event_ids:
            f = flags.get(prev_id)
            group = f.state_group if f is not None else None
            if group is None:
                group = await self._fetch_state_after(origin, room, prev_id)
            if group not in groups:
                groups.append(group)
        if not groups:
            raise PduRejected(event.event_id, "no prev_events")
        if len(groups) == 1:
            return await self._existing(groups[0])
        sets = [await self.state_store.get_state_ids(g) for g in groups]
        known = {ev.event_id: ev for ev in room.recent}
        known.update((ev.event_id, ev) for ev in room.state.values())
        try:
            resolved = await resolve_state_sets(self.store, room.version, room.create_event, sets, known)
        except MissingAuthEvents as e:
            raise PduNotProcessed(event.event_id, str(e)) from None
        for group, state in zip(groups, sets, strict=True):
            if state == resolved:
                return await self._existing(group)
        base_depth = await self.state_store.get_delta_depth(groups[0])
        resolved_group = delta_or_snapshot(self.events.allocate_state_group(), groups[0], sets[0],
                                           base_depth, resolved, MAX_DELTA_DEPTH)
        self.state_store.remember(resolved_group.group_id, resolved)
        return StateBefore(resolved, resolved_group.group_id, resolved_group.delta_depth, [resolved_group])

    async def _existing(self, group_id: int) -> StateBefore:
        state = await self.state_store.get_state_ids(group_id)
        return StateBefore(dict(state), group_id, await self.state_store.get_delta_depth(group_id))

    async def _fetch_state_after(self, origin: str, room: RoomState, prev_id: str) -> int:
        """A gap we cannot walk: ask for the state at a missing prev event (/state_ids),
        fetch the events we lack, and store the prev event as an outlier with state."""
        remote = self._remote()
        try:
            pdu_ids, auth_ids = await remote.get_state_ids(origin, room.room_id, prev_id)
        except Exception as e:
            raise PduNotProcessed(prev_id, f"cannot fetch the state at a missing event: {e}") from None
        wanted = list(dict.fromkeys([*auth_ids, *pdu_ids, prev_id]))
        flags = await self.store.get_graph_flags(wanted)
        limiter = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def fetch(event_id: str) -> Any:
            async with limiter:
                return await remote.get_event(origin, event_id)

        need = [i for i in wanted if i not in flags or i == prev_id]
        fetched = await asyncio.gather(*(fetch(i) for i in need), return_exceptions=True)
        raws = [r for r in fetched if not isinstance(r, BaseException)]
        events = await self.persist_outliers(origin, room.version, room.room_id, room.create_event, raws)
        prev = events.get(prev_id) or await self.store.get_event(prev_id)
        if prev is None:
            raise PduNotProcessed(prev_id, "cannot fetch a missing prev event")
        loaded = await self.store.get_events(pdu_ids)
        state: StateIds = {
            ev.state_tuple: eid for eid, ev in loaded.items() if ev.is_state and ev.rejected_reason is None
        }
        before_id = self.events.allocate_state_group()
        groups = [NewStateGroup(before_id, room.room_id, None, 0, state)]
        after_id = before_id
        new_group: NewStateGroup | None = None
        if prev.is_state and prev.rejected_reason is None:
            after_id = self.events.allocate_state_group()
            new_group = NewStateGroup(after_id, room.room_id, before_id, 1, {prev.state_tuple: prev_id})
        item = PersistEvent(
            event=Event(prev_id, prev.pdu, room.version, prev.rejected_reason,
                        self.events.allocate_backward_stream()),
            state_group_before=before_id, state_group_after=after_id, new_state_group=new_group,
            outlier=True, replaces_outlier=True, extra_state_groups=groups,
        )
        await self.events.write_quietly([item])
        self.state_store.remember(before_id, state)
        if prev.type == "m.room.redaction":
            # Stored off the timeline, but a redaction still takes effect (the target's
            # content must not stay readable because its redaction came in by a gap).
            await self.events.redact_if_allowed(room, item.event)
        return after_id

    # --- judged events ------------------------------------------------------------------
    async def store_judged(
        self,
        room: RoomState,
        event: Event,
        *,
        rejected: str | None = None,
        soft_failed: bool = False,
        before: StateBefore | None = None,
    ) -> None:
        """Store a rejected or soft-failed event as an outlier (with its state when known)."""
        judged = Event(event.event_id, event.pdu, event.room_version, rejected,
                       self.events.allocate_backward_stream())
        group_before = before.group_id if before is not None else None
        group_after = group_before
        new_group: NewStateGroup | None = None
        if before is not None and rejected is None and event.is_state:
            group_after = self.events.allocate_state_group()
            new_group = NewStateGroup(group_after, room.room_id, before.group_id,
                                      before.delta_depth + 1, {event.state_tuple: event.event_id})
        item = PersistEvent(
            event=judged, state_group_before=group_before, state_group_after=group_after,
            new_state_group=new_group, outlier=True, soft_failed=soft_failed, replaces_outlier=True,
            extra_state_groups=[stored_group(room.room_id, g) for g in before.new_groups]
            if before is not None else [],
        )
        await self.events.write_quietly([item])

    # --- joining a room held by another server -------------------------------------------------
    async def apply_join(
        self,
        origin: str,
        version: RoomVersion,
        room_id: str,
        join: Event,
        state_pdus: Sequence[Any],
        auth_chain_pdus: Sequence[Any],
    ) -> Event:
        existing = await self.events.get_room(room_id)
        create_hint = existing.create_event if existing is not None else None
        events = await self.persist_outliers(
            origin, version, room_id, create_hint, [*auth_chain_pdus, *state_pdus],
            new_room=existing is None,
        )
        state_ids: list[str] = []
        for raw in state_pdus:
            try:
                state_ids.append(event_from_pdu(raw, version, room_id)[0].event_id)
            except InvalidPdu:
                continue
        state_events = {
            ev.state_tuple: ev
            for eid in state_ids
            if (ev := events.get(eid)) is not None and ev.is_state and ev.rejected_reason is None
        }
        create = state_events.get(("m.room.create", ""))
        if create is None:
            raise PduNotProcessed(join.event_id, "the send_join state has no valid m.room.create")
        await self.check_signatures(join)
        auth_list = list((await self.store.get_events(join.auth_event_ids)).values())
        try:
            check_event_against_auth_events(join, auth_list, create, is_signed_by=_carries_signature)
            check_auth_rules(join, state_events, create, is_signed_by=_carries_signature)
        except AuthError as e:
            raise PduRejected(join.event_id, f"join not allowed: {e}") from None
        await self.events.persist_remote_join(version, create, state_events, join, existing)
        return join


def _carries_signature(event: Event, server_name: str) -> bool:
    signatures = event.pdu.get("signatures")
    return isinstance(signatures, dict) and server_name in signatures
