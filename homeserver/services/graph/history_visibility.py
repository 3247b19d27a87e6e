"""Which events of a room a user may read, per m.room.history_visibility.

spec: client-server-api/modules/history_visibility.md, "Server behaviour". The
rules use the room's state *at each event*: the history_visibility in force and
the reader's membership when the event was sent. Both change rarely, so the
changes are kept as short ordered lists and each event is placed among them by
its stream position (bisect).

Callers still bound former members to the events before they left (see
``_visible_room`` in the client API); this service decides event by event.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence

from federation.rooms.events import Event
from homeserver.core.room_state import RoomState
from homeserver.storage.room_history import RoomHistoryStore

HISTORY_VISIBILITY = "m.room.history_visibility"
DEFAULT_VISIBILITY = "shared"
KNOWN_VISIBILITIES = frozenset({"world_readable", "shared", "invited", "joined"})
# Visibilities under which a current member may read every event of the room.
_OPEN = frozenset({"world_readable", "shared"})


def _visibility_of(content: dict[str, object]) -> str:
    value = content.get("history_visibility")
    # spec: "if the value is not understood, the visibility is assumed to be shared".
    return value if isinstance(value, str) and value in KNOWN_VISIBILITIES else DEFAULT_VISIBILITY


def _membership_of(content: dict[str, object]) -> str | None:
    value = content.get("membership")
    return value if isinstance(value, str) else None


def _value_before(changes: Sequence[tuple[int, str | None]], stream: int, default: str | None) -> str | None:
    """The value set by the last change strictly before ``stream``."""
    i = bisect_left(changes, stream, key=lambda change: change[0]) - 1
    return changes[i][1] if i >= 0 else default


def may_see(visibility: str, membership: str | None, joined_later: bool) -> bool:
    """The spec's five rules for one (visibility, membership) pair at an event."""
    if visibility == "world_readable":
        return True
    if membership == "join":
        return True
    if visibility == "shared" and joined_later:
        return True
    return membership == "invite" and visibility == "invited"


class HistoryVisibilityService:
    def __init__(self, store: RoomHistoryStore) -> None:
        self.store = store
        # room_id -> [(stream, visibility)], oldest first; filled on first use.
        self._changes: dict[str, list[tuple[int, str | None]]] = {}

    def on_persisted(self, room: RoomState, event: Event) -> None:
        """Persist listener (registered on EventService by the wiring): keeps loaded
        visibility histories current."""
        if event.type != HISTORY_VISIBILITY or event.state_key != "" or event.rejected_reason:
            return
        changes = self._changes.get(room.room_id)
        if changes is not None and event.stream_ordering is not None:
            insort(changes, (event.stream_ordering, _visibility_of(event.content)), key=lambda c: c[0])

    def forget_room(self, room_id: str) -> None:
        """A purged room's history is gone."""
        self._changes.pop(room_id, None)

    async def visibility_changes(self, room_id: str) -> list[tuple[int, str | None]]:
        changes = self._changes.get(room_id)
        if changes is None:
            rows = await self.store.get_state_changes(room_id, HISTORY_VISIBILITY, "")
            changes = [(stream, _visibility_of(content)) for stream, content in rows]
            # A listener may have filled it while we awaited; keep the fuller list.
            changes = self._changes.setdefault(room_id, changes)
        return changes

    async def is_always_open(self, room_id: str) -> bool:
        """True when the room never had `invited` or `joined` history visibility,
        so a current member may read all of it without per-event checks."""
        return all(v in _OPEN for _, v in await self.visibility_changes(room_id))

    async def filter_events(
        self, user_id: str, room_id: str, events: Sequence[Event], *, current_membership: str | None
    ) -> list[Event]:
        """The events of ``room_id`` that ``user_id`` may read, in the given order."""
        if not events:
            return []
        vis_changes = await self.visibility_changes(room_id)
        if current_membership == "join" and all(v in _OPEN for _, v in vis_changes):
            return list(events)
        rows = await self.store.get_state_changes(room_id, "m.room.member", user_id)
        mem_changes = [(stream, _membership_of(content)) for stream, content in rows]
        join_streams = [stream for stream, m in mem_changes if m == "join"]
        last_join = join_streams[-1] if join_streams else None
        return [
            e for e in events
            if self._allowed(e, user_id, vis_changes, mem_changes, last_join)
        ]

    @staticmethod
    def _allowed(
        event: Event,
        user_id: str,
        vis_changes: list[tuple[int, str | None]],
        mem_changes: list[tuple[int, str | None]],
        last_join: int | None,
    ) -> bool:
        stream = event.stream_ordering
        if stream is None:
            return False
        visibility = _value_before(vis_changes, stream, DEFAULT_VISIBILITY) or DEFAULT_VISIBILITY
        membership = _value_before(mem_changes, stream, None)
        visibilities = {visibility}
        memberships = {membership}
        # spec: a history_visibility event is visible if the setting before *or*
        # after it allows; likewise the reader's own membership events.
        if event.type == HISTORY_VISIBILITY and event.state_key == "":
            visibilities.add(_visibility_of(event.content))
        if event.type == "m.room.member" and event.state_key == user_id:
            memberships.add(_membership_of(event.content))
        joined_later = last_join is not None and last_join > stream
        return any(may_see(v, m, joined_later) for v in visibilities for m in memberships)
