"""State resolution v1 (room version 1).

spec: rooms/v1.md, "State resolution". The spec's prose is followed as Synapse
implements it (synapse/state/v1.py), since that is what every other server in a
version 1 room computes:

* Only keys with *different* event IDs in two state sets conflict; a key present
  in some sets only is taken as it is.
* The auth events for the checks come from the unconflicted state (only the keys
  the conflicted events' auth rules need), then from the resolved power levels,
  join rules and memberships, pass by pass.
* Conflicted m.room.power_levels, then m.room.join_rules, then m.room.member
  events are ordered by ascending depth, then descending SHA-1 of the event ID;
  the first is taken and each next one replaces it while it passes the auth
  rules with its predecessor in place; the first one that fails ends the pass.
* Any other conflicted key takes the event with the highest depth (lowest SHA-1)
  that passes the auth rules, or the one with the lowest depth if none does.

Pure. Events missing from ``event_map`` are left out of the resolution, as Synapse
does (version 1 rooms tolerate gaps); known to reset state in some histories,
which is why version 2 replaced it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from federation.rooms.auth import (
    JOIN_RULES,
    MEMBER,
    POWER_LEVELS_KEY,
    AuthError,
    EventSignatureCheck,
    ThirdPartySignatureCheck,
    auth_types_for_event,
    check_auth_rules,
)
from federation.rooms.events import Event, StateKey
from federation.rooms.versions import RoomVersion


def separate_v1(
    state_sets: Sequence[Mapping[StateKey, str]],
) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """The unconflicted state and, per conflicted key, the conflicting event IDs."""
    first, *others = state_sets
    unconflicted: dict[StateKey, str] = dict(first)
    conflicted: dict[StateKey, set[str]] = {}
    for state in others:
        for key, event_id in state.items():
            current = unconflicted.get(key)
            if current is None:
                if key in conflicted:
                    conflicted[key].add(event_id)
                else:
                    unconflicted[key] = event_id
            elif current != event_id:
                conflicted[key] = {current, event_id}
                del unconflicted[key]
    return unconflicted, conflicted


def _auth_types(event: Event) -> list[StateKey]:
    return auth_types_for_event(
        event.room_version, event.type, event.state_key, event.sender, event.content
    )


def _ordered(events: Iterable[Event]) -> list[Event]:
    """Highest depth first, then lowest SHA-1 of the event ID (hex, as Synapse compares)."""
    return sorted(
        events, key=lambda e: (-e.depth, hashlib.sha1(e.event_id.encode("utf-8")).hexdigest())
    )


class _Checker:
    def __init__(
        self,
        is_signed_by: EventSignatureCheck | None,
        is_third_party_signed: ThirdPartySignatureCheck | None,
    ) -> None:
        self.is_signed_by = is_signed_by
        self.is_third_party_signed = is_third_party_signed

    def allowed(self, event: Event, auth_events: Mapping[StateKey, Event]) -> bool:
        try:
            check_auth_rules(
                event,
                auth_events,
                is_signed_by=self.is_signed_by,
                is_third_party_signed=self.is_third_party_signed,
            )
        except AuthError:
            return False
        return True

    def resolve_auth_events(
        self, events: Sequence[Event], auth_events: Mapping[StateKey, Event]
    ) -> Event:
        """Power levels, join rules, memberships: the last of the ascending run that passes."""
        ascending = list(reversed(_ordered(events)))
        needed = {key for event in events for key in _auth_types(event)}
        running = {key: auth_events[key] for key in needed if key in auth_events}
        previous = ascending[0]
        for event in ascending[1:]:
            running[previous.state_tuple] = previous
            if not self.allowed(event, running):
                return previous
            previous = event
        return previous

    def resolve_normal_events(
        self, events: Sequence[Event], auth_events: Mapping[StateKey, Event]
    ) -> Event:
        ordered = _ordered(events)
        for event in ordered:
            if self.allowed(event, auth_events):
                return event
        return ordered[-1]


def resolve_state_v1(
    room_version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    event_map: Mapping[str, Event],
    *,
    is_signed_by: EventSignatureCheck | None = None,
    is_third_party_signed: ThirdPartySignatureCheck | None = None,
) -> dict[StateKey, str]:
    """Resolve room states {S₁, S₂, …} of a version 1 room into one."""
    del room_version  # one algorithm; the events carry their version for the auth rules
    if not state_sets:
        return {}
    unconflicted, conflicted_ids = separate_v1(state_sets)
    if not conflicted_ids:
        return unconflicted

    # Auth events for the conflicted events, taken from the unconflicted state.
    auth_events: dict[StateKey, Event] = {}
    for event_ids in conflicted_ids.values():
        for event_id in event_ids:
            event = event_map.get(event_id)
            if event is None:
                continue
            for key in _auth_types(event):
                if key not in auth_events and key in unconflicted:
                    auth_event = event_map.get(unconflicted[key])
                    if auth_event is not None:
                        auth_events[key] = auth_event

    resolved_ids = dict(unconflicted)
    conflicted: dict[StateKey, list[Event]] = {}
    for key, event_ids in conflicted_ids.items():
        events = [event_map[e] for e in sorted(event_ids) if e in event_map]
        if len(events) > 1:
            conflicted[key] = events
        elif events:
            resolved_ids[key] = events[0].event_id

    checker = _Checker(is_signed_by, is_third_party_signed)
    resolved: dict[StateKey, Event] = {}
    if POWER_LEVELS_KEY in conflicted:
        resolved[POWER_LEVELS_KEY] = checker.resolve_auth_events(
            conflicted[POWER_LEVELS_KEY], auth_events
        )
    auth_events.update(resolved)
    for event_type in (JOIN_RULES, MEMBER):
        for key, events in conflicted.items():
            if key[0] == event_type:
                resolved[key] = checker.resolve_auth_events(events, auth_events)
        auth_events.update(resolved)
    for key, events in conflicted.items():
        if key not in resolved:
            resolved[key] = checker.resolve_normal_events(events, auth_events)

    resolved_ids.update((key, event.event_id) for key, event in resolved.items())
    return resolved_ids
