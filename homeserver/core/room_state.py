"""The in-memory picture of one room as of its latest persisted (or persisting) event.

Local event creation reads and updates this without awaiting, which is what
keeps a room's event graph linear and sends fast: the build, the auth check and
the cache update for one event happen in one uninterrupted step.
"""

from __future__ import annotations

from collections import deque
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
