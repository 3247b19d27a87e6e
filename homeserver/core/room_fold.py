"""Applying one accepted event to a room's in-memory state: the one fold.

Local sends, remote events that extend the room's single forward extremity
("linear") and remote events whose new current state came from state resolution
all go through ``fold_event``. It updates the ``RoomState`` in place and returns
what must be written with the event (state groups, forward extremities, current
state and membership changes). It never awaits, so a room's graph cannot change
between the read of its state and the update.

The caller gives the event its stream position first and hands in an allocator
for state group IDs (the event service owns both counters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from federation.rooms.events import Event, StateKey
from homeserver.core.room_state import RoomState

StateIds = dict[StateKey, str]


@dataclass(slots=True)
class StateGroupDelta:
    """A state group to store: the entries changed since ``prev_group``, or the full
    state when ``prev_group`` is None."""

    group_id: int
    prev_group: int | None
    delta_depth: int
    entries: StateIds


@dataclass(slots=True)
class ResolvedState:
    """A remote event whose state before it is not the room's current state: that state
    (already stored as ``before_group``) and the room's new current state."""

    before: StateIds
    before_group: int
    before_depth: int
    new_current: StateIds
    # The events of ``new_current`` by ID (the event itself included).
    events: Mapping[str, Event]
    # Groups to write before the event's own (the state before it, when resolved).
    before_groups: list[StateGroupDelta] = field(default_factory=list)


@dataclass(slots=True)
class Fold:
    """What applying an event changed, to be persisted with it."""

    state_group_before: int
    state_group_after: int
    new_state_group: StateGroupDelta | None
    forward_extremities: list[str]
    current_state_updates: StateIds
    # (user_id, membership, event_id) of membership changes in the current state
    membership_updates: list[tuple[str, str, str]]
    # ``current_state_updates`` is the whole current state (keys were removed)
    replace_current_state: bool = False
    # groups written before ``new_state_group`` (resolved states); tuples by default so
    # that a message event's fold allocates nothing more than it needs
    extra_state_groups: Sequence[StateGroupDelta] = ()
    # (group ID, full state) for groups whose full state the fold built anyway
    full_states: Sequence[tuple[int, StateIds]] = ()


def delta_or_snapshot(
    group_id: int, base_id: int, base: StateIds, base_depth: int, state: StateIds, max_delta_depth: int
) -> StateGroupDelta:
    """A group holding ``state``: a delta on ``base`` when nothing was removed and the
    delta chain is short enough, else a full snapshot (deltas cannot remove keys)."""
    if base_depth < max_delta_depth and base.keys() <= state.keys():
        changed = {k: eid for k, eid in state.items() if base.get(k) != eid}
        return StateGroupDelta(group_id, base_id, base_depth + 1, changed)
    return StateGroupDelta(group_id, None, 0, dict(state))


def fold_event(
    room: RoomState,
    event: Event,
    next_group: Callable[[], int],
    max_delta_depth: int,
    resolved: ResolvedState | None = None,
    *,
    full_state_after: bool = False,
) -> Fold:
    """Apply ``event`` (which has its stream position) to ``room``.

    Without ``resolved`` the state before the event is the room's current state (a
    local send, or a remote event on the single forward extremity): O(1) for message
    events. ``full_state_after`` also returns the full state after a state event
    (for callers that cache it).
    """
    if resolved is not None:
        return _fold_resolved(room, event, next_group, max_delta_depth, resolved)
    before = room.state_group
    after = before
    new_group: StateGroupDelta | None = None
    updates: StateIds = {}
    memberships: list[tuple[str, str, str]] = []
    full_states: Sequence[tuple[int, StateIds]] = ()
    if event.is_state:
        key = event.state_tuple
        after = next_group()
        full: StateIds | None = None
        if room.delta_depth >= max_delta_depth or full_state_after:
            full = {k: ev.event_id for k, ev in room.state.items()}
            full[key] = event.event_id
            if full_state_after:
                full_states = [(after, full)]
        if full is not None and room.delta_depth >= max_delta_depth:
            new_group = StateGroupDelta(after, None, 0, dict(full) if full_state_after else full)
            room.delta_depth = 0
        else:
            room.delta_depth += 1
            new_group = StateGroupDelta(after, before, room.delta_depth, {key: event.event_id})
        room.state[key] = event
        room.state_group = after
        updates[key] = event.event_id
        if event.type == "m.room.member" and event.membership is not None:
            assert event.state_key is not None
            memberships.append((event.state_key, event.membership, event.event_id))
    room.set_extremities([event.event_id], event)
    room.max_depth = max(room.max_depth, event.depth)
    room.add_recent(event)
    # positional: this runs for every local send
    return Fold(before, after, new_group, [event.event_id], updates, memberships, False, (), full_states)


def _fold_resolved(
    room: RoomState, event: Event, next_group: Callable[[], int], max_delta_depth: int,
    resolved: ResolvedState,
) -> Fold:
    groups = list(resolved.before_groups)
    full_states: list[tuple[int, StateIds]] = []
    after_id = resolved.before_group
    after_depth = resolved.before_depth
    new_group: StateGroupDelta | None = None
    state_after = dict(resolved.before)
    if event.is_state:
        key = event.state_tuple
        state_after[key] = event.event_id
        after_id = next_group()
        if resolved.before_depth >= max_delta_depth:
            new_group = StateGroupDelta(after_id, None, 0, state_after)
            after_depth = 0
        else:
            after_depth = resolved.before_depth + 1
            new_group = StateGroupDelta(after_id, resolved.before_group, after_depth, {key: event.event_id})
        full_states.append((after_id, state_after))
    new_current = resolved.new_current
    current = {k: ev.event_id for k, ev in room.state.items()}
    if new_current == state_after:
        room.state_group, room.delta_depth = after_id, after_depth
    elif new_current != current:
        group = delta_or_snapshot(next_group(), room.state_group, current, room.delta_depth,
                                  new_current, max_delta_depth)
        groups.append(group)
        full_states.append((group.group_id, dict(new_current)))
        room.state_group, room.delta_depth = group.group_id, group.delta_depth
    removed = current.keys() - new_current.keys()
    updates = dict(new_current) if removed else {
        k: eid for k, eid in new_current.items() if current.get(k) != eid
    }
    events = resolved.events
    memberships: list[tuple[str, str, str]] = []
    for (event_type, state_key), eid in updates.items():
        membership = events[eid].membership
        if event_type == "m.room.member" and membership is not None:
            memberships.append((state_key, membership, eid))
    room.state = {k: events[eid] for k, eid in new_current.items()}
    prevs = set(event.prev_event_ids)
    room.set_extremities([e for e in room.extremities if e not in prevs] + [event.event_id], event)
    room.max_depth = max(room.max_depth, event.depth)
    room.add_recent(event)
    return Fold(
        state_group_before=resolved.before_group, state_group_after=after_id, new_state_group=new_group,
        forward_extremities=list(room.extremities), current_state_updates=updates,
        membership_updates=memberships, replace_current_state=bool(removed),
        extra_state_groups=groups, full_states=full_states,
    )
