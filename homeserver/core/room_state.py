"""The in-memory picture of one room as of its latest persisted (or persisting) event.

Local event creation reads and updates this without awaiting, which is what
keeps a room's event graph linear and sends fast: the build, the auth check and
the cache update for one event happen in one uninterrupted step.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from federation.rooms.events import Event, StateKey
from federation.rooms.versions import RoomVersion

RECENT_EVENTS_KEPT = 200


@dataclass(slots=True)
class RoomState:
    room_id: str
    version: RoomVersion
    create_event: Event
    state: dict[StateKey, Event]
    state_group: int
    delta_depth: int
    extremities: list[str]
    max_depth: int
    latest_stream: int
    # Events of the room, oldest first; complete for streams > recent_floor.
    recent: deque[Event] = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS_KEPT))
    recent_floor: int = 0
    # Reference hashes of the forward extremities: room versions 1 and 2 list them next
    # to the IDs in prev_events. Kept only in those versions (see ``set_extremities``).
    extremity_hashes: dict[str, str] = field(default_factory=dict)

    def set_extremities(self, extremities: list[str], new_event: Event | None = None) -> None:
        """The forward extremities are now ``extremities`` (``new_event`` among them)."""
        self.extremities = extremities
        if self.version.event_id_in_pdu:
            hashes = {e: h for e, h in self.extremity_hashes.items() if e in extremities}
            if new_event is not None:
                hashes[new_event.event_id] = new_event.reference_hash
            self.extremity_hashes = hashes

    def reference_hashes(self, auth_events: Iterable[Event]) -> dict[str, str] | None:
        """Event ID -> reference hash of the forward extremities and ``auth_events``, for
        building an event in a room version 1/2 room; None in later versions."""
        if not self.version.event_id_in_pdu:
            return None
        hashes = dict(self.extremity_hashes)
        for event in auth_events:
            hashes[event.event_id] = event.reference_hash
        return hashes

    def add_recent(self, event: Event) -> None:
        if len(self.recent) == self.recent.maxlen:
            dropped = self.recent[0]
            assert dropped.stream_ordering is not None
            self.recent_floor = dropped.stream_ordering
        self.recent.append(event)
        assert event.stream_ordering is not None
        self.latest_stream = event.stream_ordering

    def recent_since(self, after: int, upto: int) -> list[Event] | None:
        """Events with after < stream <= upto, or None if the cache cannot tell."""
        if after < self.recent_floor:
            return None
        # Walk back from the newest: /sync asks for the last few events, not all 200.
        found: list[Event] = []
        for e in reversed(self.recent):
            stream = e.stream_ordering
            assert stream is not None
            if stream <= after:
                break
            if stream <= upto:
                found.append(e)
        found.reverse()
        return found

    def membership(self, user_id: str) -> str | None:
        ev = self.state.get(("m.room.member", user_id))
        return ev.membership if ev is not None else None

    def members_with(self, *memberships: str) -> list[str]:
        return [
            k for (t, k), ev in self.state.items()
            if t == "m.room.member" and ev.membership in memberships
        ]

    def state_content(self, event_type: str, state_key: str = "") -> dict:
        ev = self.state.get((event_type, state_key))
        return ev.content if ev is not None else {}


def servers_in_room(room: RoomState, exclude: str) -> list[str]:
    """Servers with joined members in the room's current state, most members first."""
    counts: dict[str, int] = {}
    for user_id in room.members_with("join"):
        server = user_id.split(":", 1)[1]
        if server != exclude:
            counts[server] = counts.get(server, 0) + 1
    return sorted(counts, key=lambda s: (-counts[s], s))
