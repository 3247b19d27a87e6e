"""Room state at points of the event graph, for events received over federation.

Loads what the pure state resolution (``federation/rooms/state_res.py``) needs:
the events of several state sets and their whole auth chains, then resolves.
spec: rooms/fragments/v2-state-res.md; rooms/v12.md (v2.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from federation.rooms.events import Event, StateKey
from federation.rooms.state_res import resolve_state
from federation.rooms.versions import RoomVersion

if TYPE_CHECKING:
    from homeserver.storage.events import EventStore

StateIds = dict[StateKey, str]


class MissingAuthEvents(LookupError):
    """Events needed to resolve state are not stored on this server."""

    def __init__(self, event_ids: Iterable[str]) -> None:
        self.event_ids = sorted(event_ids)
        super().__init__(f"missing events: {', '.join(self.event_ids[:5])}")


async def load_auth_closure(
    store: EventStore, event_ids: Iterable[str], known: Mapping[str, Event] | None = None
) -> dict[str, Event]:
    """The events ``event_ids`` and everything reachable from them via ``auth_events``."""
    found: dict[str, Event] = dict(known or {})
    closure: dict[str, Event] = {}
    frontier = set(event_ids)
    while frontier:
        need = [e for e in frontier if e not in found]
        if need:
            loaded = await store.get_events(need)
            missing = set(need) - loaded.keys()
            if missing:
                raise MissingAuthEvents(missing)
            found.update(loaded)
        next_frontier: set[str] = set()
        for event_id in frontier:
            event = found[event_id]
            closure[event_id] = event
            next_frontier.update(event.auth_event_ids)
        frontier = next_frontier - closure.keys()
    return closure


async def resolve_state_sets(
    store: EventStore,
    version: RoomVersion,
    create_event: Event,
    state_sets: Sequence[StateIds],
    known: Mapping[str, Event] | None = None,
) -> StateIds:
    """Resolve several room states into one (state resolution v2 / v2.1)."""
    distinct: list[StateIds] = []
    for state in state_sets:
        if state not in distinct:
            distinct.append(state)
    if len(distinct) == 1:
        return dict(distinct[0])
    ids = {event_id for state in distinct for event_id in state.values()}
    event_map = await load_auth_closure(store, ids, known)
    event_map.setdefault(create_event.event_id, create_event)
    # Signatures were verified on receipt, so a restricted join's authorising server
    # signature is present exactly when it was valid (rooms/v12.md rule 5.3.2.2).
    return resolve_state(
        version, distinct, event_map, create_event,
        is_signed_by=lambda event, server: server in (event.pdu.get("signatures") or {}),
    )


def auth_chain_ids(events: Iterable[Event], loaded: Mapping[str, Event]) -> set[str]:
    """Everything reachable from ``events`` via auth_events, within ``loaded``."""
    chain: set[str] = set()
    stack = [a for e in events for a in e.auth_event_ids]
    while stack:
        event_id = stack.pop()
        if event_id in chain:
            continue
        chain.add(event_id)
        event = loaded.get(event_id)
        if event is not None:
            stack.extend(event.auth_event_ids)
    return chain
