"""Serving a room's graph to other servers: state at an event, auth chains, history walks.

Behind ``homeserver/api/federation/events.py``. spec: server-server-api.md, "Retrieving
events", "Backfilling and retrieving missing events", "Room State".
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from federation.rooms.events import Event
from federation.rooms.redaction import redact_pdu
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError, not_found
from homeserver.services.graph.events import EventService
from homeserver.storage.events import EventStore
from homeserver.storage.state import StateStore

MAX_HISTORY_EVENTS = 1000


def federation_pdu(event: Event) -> dict[str, Any]:
    """The PDU as served to other servers: our local ``unsigned`` bookkeeping stays here."""
    return {k: v for k, v in event.pdu.items() if k != "unsigned"}


class FederatedHistory:
    def __init__(self, events: EventService, store: EventStore, state_store: StateStore) -> None:
        self.events = events
        self.store = store
        self.state_store = state_store

    # --- who may read --------------------------------------------------------------
    async def require_server_in_room(self, origin: str, room_id: str) -> RoomState:
        """403 unless ``origin`` has a joined member in the room (spec: servers may only
        read the history of rooms they are in)."""
        room = await self.events.get_room(room_id)
        if room is None:
            raise not_found("Unknown room")
        if not any(u.split(":", 1)[1] == origin for u in room.members_with("join")):
            raise MatrixError("M_FORBIDDEN", 403, f"{origin} is not in room {room_id}")
        return room

    async def visible_event(self, event_id: str) -> Event | None:
        """A stored, not rejected event of a room (outliers included)."""
        event = await self.store.get_event(event_id)
        if event is None or event.rejected_reason is not None:
            return None
        return event

    async def filter_for_server(self, origin: str, events: list[Event]) -> list[Event]:
        """Events as ``origin`` may see them: redacted where the room's history visibility
        at the event hid it from that server (no member joined, or invited for "invited")."""
        flags = await self.store.get_graph_flags([e.event_id for e in events])
        out: list[Event] = []
        for event in events:
            group = flags[event.event_id].state_group_before if event.event_id in flags else None
            if group is None or await self._server_could_see(origin, group):
                out.append(event)
            else:
                out.append(Event(event.event_id, redact_pdu(event.pdu, event.room_version),
                                 event.room_version, event.rejected_reason, event.stream_ordering))
        return out

    async def _server_could_see(self, origin: str, state_group: int) -> bool:
        state = await self.state_store.get_state_ids(state_group)
        visibility_id = state.get(("m.room.history_visibility", ""))
        visibility = "shared"
        if visibility_id is not None:
            visibility_event = await self.store.get_event(visibility_id)
            if visibility_event is not None:
                visibility = visibility_event.content.get("history_visibility", "shared")
        if visibility in ("world_readable", "shared"):
            return True
        allowed = ("join", "invite") if visibility == "invited" else ("join",)
        member_ids = [eid for (t, k), eid in state.items()
                      if t == "m.room.member" and k.split(":", 1)[-1] == origin]
        members = await self.store.get_events(member_ids)
        return any(m.membership in allowed for m in members.values())

    # --- state and auth chains -------------------------------------------------------
    async def state_ids_at(self, room: RoomState, event_id: str) -> tuple[list[str], list[str]]:
        """(state before the event, its auth chain): spec GET /state_ids."""
        event = await self.visible_event(event_id)
        if event is None or event.room_id != room.room_id:
            raise not_found("Unknown event")
        flags = (await self.store.get_graph_flags([event_id])).get(event_id)
        if flags is None or flags.state_group_before is None:
            raise not_found("The state at this event is not known here")
        state = await self.state_store.get_state_ids(flags.state_group_before)
        state_ids = list(state.values())
        chain = await self.auth_chain(room, state_ids)
        return state_ids, chain

    async def auth_chain(self, room: RoomState, event_ids: Iterable[str]) -> list[str]:
        """Every event reachable via auth_events; v12 adds the create event, which is in
        every auth chain although never listed (SYNAPSE.md captures: state_ids)."""
        chain: set[str] = set()
        frontier: set[str] = set()
        for event in (await self.store.get_events(event_ids)).values():
            frontier.update(event.auth_event_ids)
        while frontier:
            chain.update(frontier)
            loaded = await self.store.get_events(frontier)
            frontier = {a for ev in loaded.values() for a in ev.auth_event_ids} - chain
        if room.version.hash_room_ids:
            chain.add(room.create_event.event_id)
        return sorted(chain)

    async def events_by_id(self, event_ids: Iterable[str]) -> list[Event]:
        loaded = await self.store.get_events(event_ids)
        return sorted(
            (e for e in loaded.values() if e.rejected_reason is None),
            key=lambda e: (e.depth, e.event_id),
        )

    # --- walking history ----------------------------------------------------------------
    async def backfill(self, room: RoomState, starts: list[str], limit: int) -> list[Event]:
        """The events ``starts`` and their ancestors via prev_events, newest (deepest) first,
        at most ``limit`` (spec: GET /backfill "including the given event(s)")."""
        return await self._walk(room, starts, limit, stop=set(), include_starts=True, min_depth=0)

    async def missing_events(
        self, room: RoomState, earliest: list[str], latest: list[str], limit: int, min_depth: int
    ) -> list[Event]:
        """Ancestors of ``latest`` not at or before ``earliest``, oldest first
        (spec: POST /get_missing_events)."""
        found = await self._walk(room, latest, limit, stop=set(earliest), include_starts=False,
                                 min_depth=min_depth)
        return sorted(found, key=lambda e: (e.depth, e.origin_server_ts, e.event_id))

    async def _walk(
        self, room: RoomState, starts: list[str], limit: int, *, stop: set[str],
        include_starts: bool, min_depth: int,
    ) -> list[Event]:
        limit = min(limit, MAX_HISTORY_EVENTS)
        seen: set[str] = set(stop)
        # max-heap on depth, so the newest events come out first
        heap: list[tuple[int, str, Event]] = []

        async def push(ids: Iterable[str]) -> None:
            fresh = [i for i in ids if i not in seen]
            seen.update(fresh)
            for ev in (await self.store.get_events(fresh)).values():
                if ev.room_id == room.room_id and ev.rejected_reason is None and ev.depth >= min_depth:
                    heapq.heappush(heap, (-ev.depth, ev.event_id, ev))

        if include_starts:
            await push(starts)
        else:
            seen.update(starts)
            starts_loaded = await self.store.get_events(starts)
            await push([p for ev in starts_loaded.values() for p in ev.prev_event_ids])
        out: list[Event] = []
        while heap and len(out) < limit:
            _, _, event = heapq.heappop(heap)
            out.append(event)
            await push(event.prev_event_ids)
        return out
