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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from federation.rooms.auth import AuthError, check_auth_rules, check_event_against_auth_events
from federation.rooms.events import Event, StateKey
from federation.rooms.versions import RoomVersion
from homeserver.core.pdu_checks import InvalidPdu, event_from_pdu
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError
from homeserver.services.federation.state import MissingAuthEvents, StateIds, resolve_state_sets
from homeserver.storage.events import NewStateGroup, PersistEvent
from homeserver.storage.state import MAX_DELTA_DEPTH

if TYPE_CHECKING:
    from homeserver.services.federation.events import FederatedEventHandler

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
    new_groups: list[NewStateGroup] = field(default_factory=list)


def state_group_for(
    group_id: int, room_id: str, base_id: int, base: StateIds, base_depth: int, state: StateIds
) -> NewStateGroup:
    """A group holding ``state``: a delta on ``base`` when nothing was removed and the
    delta chain is short enough, else a full snapshot (deltas cannot remove keys)."""
    if base_depth < MAX_DELTA_DEPTH and base.keys() <= state.keys():
        changed = {k: eid for k, eid in state.items() if base.get(k) != eid}
        return NewStateGroup(group_id, room_id, base_id, base_depth + 1, changed)
    return NewStateGroup(group_id, room_id, None, 0, dict(state))


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


class FederatedGraphWriter:
    def __init__(self, handler: FederatedEventHandler) -> None:
        self.handler = handler
        self.events = handler.events
        self.store = handler.store
        self.state_store = handler.state_store

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
            *(self.handler.check_signatures(e) for e in todo), return_exceptions=True
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
            chain = await self.handler.remote.get_event_auth(origin, room.room_id, event.event_id)
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
        resolved_group = state_group_for(self.events.allocate_state_group(), room.room_id,
                                         groups[0], sets[0], base_depth, resolved)
        self.state_store.remember(resolved_group.group_id, resolved)
        return StateBefore(resolved, resolved_group.group_id, resolved_group.delta_depth, [resolved_group])

    async def _existing(self, group_id: int) -> StateBefore:
        state = await self.state_store.get_state_ids(group_id)
        return StateBefore(dict(state), group_id, await self.state_store.get_delta_depth(group_id))

    async def _fetch_state_after(self, origin: str, room: RoomState, prev_id: str) -> int:
        """A gap we cannot walk: ask for the state at a missing prev event (/state_ids),
        fetch the events we lack, and store the prev event as an outlier with state."""
        remote = self.handler.remote
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
            extra_state_groups=list(before.new_groups) if before is not None else [],
        )
        await self.events.write_quietly([item])

    # --- accepted events ------------------------------------------------------------------
    def apply_accepted(
        self,
        room: RoomState,
        event: Event,
        before: StateBefore,
        new_current: StateIds,
        loaded: dict[str, Event],
    ) -> PersistEvent:
        """Fold an accepted remote event into the room; no await (see EventService._apply)."""
        event.stream_ordering = self.events.allocate_stream()
        groups = list(before.new_groups)
        after_id = before.group_id
        after_depth = before.delta_depth
        new_group: NewStateGroup | None = None
        state_after = dict(before.state)
        if event.is_state:
            key = event.state_tuple
            state_after[key] = event.event_id
            after_id = self.events.allocate_state_group()
            if before.delta_depth >= MAX_DELTA_DEPTH:
                new_group = NewStateGroup(after_id, room.room_id, None, 0, state_after)
                after_depth = 0
            else:
                after_depth = before.delta_depth + 1
                new_group = NewStateGroup(after_id, room.room_id, before.group_id, after_depth,
                                          {key: event.event_id})
            self.state_store.remember(after_id, state_after)
        current = {k: ev.event_id for k, ev in room.state.items()}
        if new_current == state_after:
            room.state_group, room.delta_depth = after_id, after_depth
        elif new_current != current:
            group = state_group_for(self.events.allocate_state_group(), room.room_id,
                                    room.state_group, current, room.delta_depth, new_current)
            groups.append(group)
            self.state_store.remember(group.group_id, dict(new_current))
            room.state_group, room.delta_depth = group.group_id, group.delta_depth
        removed = current.keys() - new_current.keys()
        updates = dict(new_current) if removed else {
            k: eid for k, eid in new_current.items() if current.get(k) != eid
        }
        memberships: list[tuple[str, str, str]] = []
        for (event_type, state_key), eid in updates.items():
            membership = loaded[eid].membership
            if event_type == "m.room.member" and membership is not None:
                memberships.append((state_key, membership, eid))
                self.events.note_membership(room.room_id, state_key, membership)
        room.state = {k: loaded[eid] for k, eid in new_current.items()}
        prevs = set(event.prev_event_ids)
        room.extremities = [e for e in room.extremities if e not in prevs] + [event.event_id]
        room.max_depth = max(room.max_depth, event.depth)
        room.add_recent(event)
        return PersistEvent(
            event=event, state_group_before=before.group_id, state_group_after=after_id,
            new_state_group=new_group, forward_extremities=list(room.extremities),
            current_state_updates=updates, membership_updates=memberships,
            replace_current_state=bool(removed), extra_state_groups=groups,
        )

    def apply_linear(self, room: RoomState, event: Event) -> PersistEvent:
        """``apply_accepted`` for an event whose state before is the room's current state
        (its prev_events are exactly the room's single forward extremity): the new
        current state is the state after the event, and nothing else changes. O(1) for
        message events, like a local send (EventService._apply); no await."""
        event.stream_ordering = self.events.allocate_stream()
        before_id = room.state_group
        after_id = before_id
        new_group: NewStateGroup | None = None
        updates: dict[StateKey, str] = {}
        memberships: list[tuple[str, str, str]] = []
        if event.is_state:
            key = event.state_tuple
            state_after = {k: ev.event_id for k, ev in room.state.items()}
            state_after[key] = event.event_id
            after_id = self.events.allocate_state_group()
            if room.delta_depth >= MAX_DELTA_DEPTH:
                new_group = NewStateGroup(after_id, room.room_id, None, 0, dict(state_after))
                room.delta_depth = 0
            else:
                room.delta_depth += 1
                new_group = NewStateGroup(after_id, room.room_id, before_id, room.delta_depth,
                                          {key: event.event_id})
            self.state_store.remember(after_id, state_after)
            room.state[key] = event
            room.state_group = after_id
            updates[key] = event.event_id
            if event.type == "m.room.member" and event.membership is not None:
                assert event.state_key is not None
                memberships.append((event.state_key, event.membership, event.event_id))
                self.events.note_membership(room.room_id, event.state_key, event.membership)
        room.extremities = [event.event_id]
        room.max_depth = max(room.max_depth, event.depth)
        room.add_recent(event)
        return PersistEvent(
            event=event, state_group_before=before_id, state_group_after=after_id,
            new_state_group=new_group, forward_extremities=[event.event_id],
            current_state_updates=updates, membership_updates=memberships,
        )

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
        await self.handler.check_signatures(join)
        auth_list = list((await self.store.get_events(join.auth_event_ids)).values())
        try:
            check_event_against_auth_events(join, auth_list, create, is_signed_by=_carries_signature)
            check_auth_rules(join, state_events, create, is_signed_by=_carries_signature)
        except AuthError as e:
            raise PduRejected(join.event_id, f"join not allowed: {e}") from None
        state: StateIds = {k: ev.event_id for k, ev in state_events.items()}
        join.stream_ordering = self.events.allocate_stream()
        before_id = self.events.allocate_state_group()
        after_id = self.events.allocate_state_group()
        key = join.state_tuple
        state_after = {**state, key: join.event_id}
        self.state_store.remember(before_id, state)
        self.state_store.remember(after_id, state_after)
        all_state: dict[StateKey, Event] = {**state_events, key: join}
        room = RoomState(
            room_id=room_id, version=version, create_event=create, state=all_state,
            state_group=after_id, delta_depth=1, extremities=[join.event_id],
            max_depth=max(join.depth, existing.max_depth if existing is not None else 0),
            latest_stream=join.stream_ordering, recent_floor=join.stream_ordering - 1,
        )
        room.add_recent(join)
        memberships = [
            (k[1], ev.membership, ev.event_id)
            for k, ev in all_state.items()
            if k[0] == "m.room.member" and ev.membership is not None
        ]
        for user_id, membership, _ in memberships:
            self.events.note_membership(room_id, user_id, membership)
        item = PersistEvent(
            event=join, state_group_before=before_id, state_group_after=after_id,
            new_state_group=NewStateGroup(after_id, room_id, before_id, 1, {key: join.event_id}),
            extra_state_groups=[NewStateGroup(before_id, room_id, None, 0, state)],
            forward_extremities=[join.event_id], current_state_updates=state_after,
            replace_current_state=True, membership_updates=memberships, replaces_outlier=True,
        )
        self.events.install_room(room)
        await self.events.write(room, item)
        return join


def _carries_signature(event: Event, server_name: str) -> bool:
    signatures = event.pdu.get("signatures")
    return isinstance(signatures, dict) and server_name in signatures
