"""State resolution v2 (room versions 2-11) and v2.1 (room version 12); ``resolve_state``
hands version 1 rooms to ``state_res_v1``.

spec: rooms/fragments/v2-state-res.md; rooms/v12.md, "State resolution" for v2.1
(iterative auth checks of power events start from an empty state, and the full
conflicted set also contains the conflicted state subgraph).

Pure: the caller loads into ``event_map`` every event the state sets reference
and every event in their auth chains. A referenced event missing from the map is
a caller bug and raises ``MissingEventError``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable, Mapping, Sequence

from federation.rooms.auth import (
    JOIN_RULES,
    MEMBER,
    POWER_LEVELS,
    POWER_LEVELS_KEY,
    AuthError,
    EventSignatureCheck,
    ThirdPartySignatureCheck,
    auth_types_for_event,
    check_auth_rules,
)
from federation.rooms.events import Event, StateKey
from federation.rooms.power_levels import PowerLevel, user_power_level
from federation.rooms.state_res_v1 import resolve_state_v1
from federation.rooms.versions import RoomVersion, StateResolution


class MissingEventError(LookupError):
    """An event needed for state resolution is not in ``event_map``."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id} is needed for state resolution but was not supplied")
        self.event_id = event_id


def _get(event_map: Mapping[str, Event], event_id: str) -> Event:
    event = event_map.get(event_id)
    if event is None:
        raise MissingEventError(event_id)
    return event


def auth_chain_ids(event_ids: Iterable[str], event_map: Mapping[str, Event]) -> set[str]:
    """The union of the auth chains of ``event_ids``: everything reachable via ``auth_events``.

    As in the spec's definition, a starting event is only included if another
    starting event reaches it.
    """
    return _auth_chain_outside(event_ids, event_map, frozenset())


def _auth_chain_outside(
    event_ids: Iterable[str], event_map: Mapping[str, Event], known_closed: Collection[str]
) -> set[str]:
    """Auth chain of ``event_ids`` minus ``known_closed``, an auth-closed set not walked into."""
    chain: set[str] = set()
    stack = [
        auth_id
        for event_id in event_ids
        for auth_id in _get(event_map, event_id).auth_event_ids
    ]
    while stack:
        event_id = stack.pop()
        if event_id in chain or event_id in known_closed:
            continue
        chain.add(event_id)
        stack.extend(_get(event_map, event_id).auth_event_ids)
    return chain


def split_conflicts(
    state_sets: Sequence[Mapping[StateKey, str]],
) -> tuple[dict[StateKey, str], set[str]]:
    """The unconflicted state map and the conflicted state set (as event IDs)."""
    first, *others = state_sets
    unconflicted: dict[StateKey, str] = {}
    conflicted: set[str] = set()
    all_keys: set[StateKey] = set(first)
    for state in others:
        all_keys.update(state)
    for key in all_keys:
        value = first.get(key)
        if value is not None and all(state.get(key) == value for state in others):
            unconflicted[key] = value
        else:
            for state in state_sets:
                event_id = state.get(key)
                if event_id is not None:
                    conflicted.add(event_id)
    return unconflicted, conflicted


def auth_difference(
    state_sets: Sequence[Mapping[StateKey, str]],
    unconflicted: Mapping[StateKey, str],
    event_map: Mapping[str, Event],
) -> set[str]:
    """∪Cᵢ − ∩Cᵢ over the full auth chains Cᵢ of the state sets.

    Every Cᵢ contains the auth chain U of the unconflicted events, so U cancels out
    and only the chains of each set's conflicted entries, outside U, are walked.
    """
    unconflicted_chain = auth_chain_ids(unconflicted.values(), event_map)
    chains = [
        _auth_chain_outside(
            (event_id for key, event_id in state.items() if key not in unconflicted),
            event_map,
            unconflicted_chain,
        )
        for state in state_sets
    ]
    union: set[str] = set().union(*chains)
    common: set[str] = set.intersection(*chains) if chains else set()
    return union - common


def conflicted_state_subgraph(conflicted: set[str], event_map: Mapping[str, Event]) -> set[str]:
    """Events on an auth path between two conflicted events, endpoints included (v2.1).

    spec: rooms/v12.md, "Conflicted state subgraph". An event belongs if it is
    reachable from a conflicted event and itself reaches a conflicted event.
    """
    reaches_conflicted: dict[str, bool] = {}
    entered: set[str] = set()
    for start in conflicted:
        stack = [start]
        while stack:
            event_id = stack[-1]
            if event_id in reaches_conflicted:
                stack.pop()
                continue
            auth_ids = _get(event_map, event_id).auth_event_ids
            if event_id not in entered:
                entered.add(event_id)
                stack.extend(a for a in auth_ids if a not in reaches_conflicted)
                continue
            stack.pop()
            reaches_conflicted[event_id] = event_id in conflicted or any(
                reaches_conflicted.get(a, False) for a in auth_ids
            )
    return {event_id for event_id, reaches in reaches_conflicted.items() if reaches}


def is_power_event(event: Event) -> bool:
    """spec: v2-state-res.md, "Power events"."""
    if not event.is_state:
        return False
    if event.type in (POWER_LEVELS, JOIN_RULES):
        return True
    return (
        event.type == MEMBER
        and event.membership in ("leave", "ban")
        and event.sender != event.state_key
    )


def _power_levels_auth_event(event: Event, event_map: Mapping[str, Event]) -> Event | None:
    for auth_id in event.auth_event_ids:
        auth_event = _get(event_map, auth_id)
        if auth_event.type == POWER_LEVELS and auth_event.state_key == "":
            return auth_event
    return None


def _sender_power_level(
    event: Event, event_map: Mapping[str, Event], create_event: Event, version: RoomVersion
) -> PowerLevel:
    # spec: "when looking at their respective auth_events"
    power_levels = _power_levels_auth_event(event, event_map)
    content = power_levels.content if power_levels is not None else None
    return user_power_level(event.sender, content, create_event, version)


def reverse_topological_power_order(
    event_ids: set[str],
    event_map: Mapping[str, Event],
    create_event: Event,
    version: RoomVersion,
) -> list[Event]:
    """Kahn's algorithm over the auth DAG restricted to ``event_ids``, earliest first,
    choosing among ready events by (higher sender power, lower ts, lower event ID)."""
    waiting_on: dict[str, int] = {}
    dependants: dict[str, list[str]] = {event_id: [] for event_id in event_ids}
    for event_id in event_ids:
        auth_in_set = [a for a in set(_get(event_map, event_id).auth_event_ids) if a in event_ids]
        waiting_on[event_id] = len(auth_in_set)
        for auth_id in auth_in_set:
            dependants[auth_id].append(event_id)

    def sort_key(event_id: str) -> tuple[PowerLevel, int, str]:
        event = event_map[event_id]
        level = _sender_power_level(event, event_map, create_event, version)
        return (-level, event.origin_server_ts, event_id)

    ready = [sort_key(event_id) for event_id, count in waiting_on.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[Event] = []
    while ready:
        event_id = heapq.heappop(ready)[2]
        ordered.append(event_map[event_id])
        for dependant in dependants[event_id]:
            waiting_on[dependant] -= 1
            if waiting_on[dependant] == 0:
                heapq.heappush(ready, sort_key(dependant))
    return ordered


def mainline_order(
    events: Iterable[Event], power_levels: Event | None, event_map: Mapping[str, Event]
) -> list[Event]:
    """spec: v2-state-res.md, "Mainline ordering" based on the power levels event ``power_levels``."""
    mainline_position: dict[str, int] = {}
    position = 0
    current = power_levels
    while current is not None:
        mainline_position[current.event_id] = position
        position += 1
        current = _power_levels_auth_event(current, event_map)

    # mainline position of events whose power-levels chain passes through a given event
    found: dict[str, float] = {}

    def position_of(event: Event) -> float:
        walked: list[str] = []
        result: float = math.inf
        current_event = _power_levels_auth_event(event, event_map)
        while current_event is not None:
            event_id = current_event.event_id
            if event_id in mainline_position:
                result = mainline_position[event_id]
                break
            if event_id in found:
                result = found[event_id]
                break
            walked.append(event_id)
            current_event = _power_levels_auth_event(current_event, event_map)
        for event_id in walked:
            found[event_id] = result
        return result

    def sort_key(event: Event) -> tuple[float, int, str]:
        return (-position_of(event), event.origin_server_ts, event.event_id)

    return sorted(events, key=sort_key)


def iterative_auth_checks(
    events: Iterable[Event],
    state: dict[StateKey, Event],
    event_map: Mapping[str, Event],
    create_event: Event,
    *,
    is_signed_by: EventSignatureCheck | None = None,
    is_third_party_signed: ThirdPartySignatureCheck | None = None,
) -> None:
    """Apply each event to ``state`` (in place) if the auth rules allow it.

    spec: v2-state-res.md, "Iterative auth checks": a key the rules need that is
    missing from the state is taken from the event's own auth events, unless that
    auth event was rejected.
    """
    for event in events:
        auth_state: dict[StateKey, Event] = {}
        needed = auth_types_for_event(
            event.room_version, event.type, event.state_key, event.sender, event.content
        )
        for key in needed:
            state_event = state.get(key)
            if state_event is not None:
                auth_state[key] = state_event
        if len(auth_state) < len(needed):
            for auth_id in event.auth_event_ids:
                auth_event = _get(event_map, auth_id)
                if auth_event.rejected_reason is not None or not auth_event.is_state:
                    continue
                key = auth_event.state_tuple
                if key in needed and key not in auth_state:
                    auth_state[key] = auth_event
        try:
            check_auth_rules(
                event,
                auth_state,
                create_event,
                is_signed_by=is_signed_by,
                is_third_party_signed=is_third_party_signed,
            )
        except AuthError:
            continue  # not allowed: the spec says the event is ignored
        state[event.state_tuple] = event


def resolve_state(
    room_version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    event_map: Mapping[str, Event],
    create_event: Event,
    *,
    is_signed_by: EventSignatureCheck | None = None,
    is_third_party_signed: ThirdPartySignatureCheck | None = None,
) -> dict[StateKey, str]:
    """Resolve room states {S₁, S₂, …} into one, per the room version's algorithm
    (v1, v2 or v2.1).

    The signature callbacks are handed to the auth rules (see auth.py); without them,
    member events carrying ``join_authorised_via_users_server`` or a third-party
    invite cannot pass the iterative auth checks.
    """
    if room_version.state_resolution is StateResolution.V1:
        return resolve_state_v1(
            room_version, state_sets, event_map,
            is_signed_by=is_signed_by, is_third_party_signed=is_third_party_signed,
        )
    if not state_sets:
        return {}
    unconflicted, conflicted = split_conflicts(state_sets)
    if not conflicted:
        return unconflicted

    full_conflicted = conflicted | auth_difference(state_sets, unconflicted, event_map)
    if room_version.state_res_v2_1:
        full_conflicted |= conflicted_state_subgraph(conflicted, event_map)

    # step 1: power events and the part of their auth chains in the full conflicted set
    power_events = {e for e in full_conflicted if is_power_event(_get(event_map, e))}
    power_set = power_events | (auth_chain_ids(power_events, event_map) & full_conflicted)
    power_ordered = reverse_topological_power_order(
        power_set, event_map, create_event, room_version
    )

    # step 2 (v2.1: from an empty state map; v2: from the unconflicted state map)
    if room_version.state_res_v2_1:
        resolved: dict[StateKey, Event] = {}
    else:
        resolved = {key: _get(event_map, event_id) for key, event_id in unconflicted.items()}
    iterative_auth_checks(
        power_ordered,
        resolved,
        event_map,
        create_event,
        is_signed_by=is_signed_by,
        is_third_party_signed=is_third_party_signed,
    )

    # step 3: everything else, in mainline order of the partially resolved power levels
    others = [event_map[e] for e in full_conflicted - power_set]
    others_ordered = mainline_order(others, resolved.get(POWER_LEVELS_KEY), event_map)

    # step 4
    iterative_auth_checks(
        others_ordered,
        resolved,
        event_map,
        create_event,
        is_signed_by=is_signed_by,
        is_third_party_signed=is_third_party_signed,
    )

    # step 5: the unconflicted state map wins
    result = {key: event.event_id for key, event in resolved.items()}
    result.update(unconflicted)
    return result
