"""Pure pieces of Simplified Sliding Sync (MSC4186): room ordering, range windows,
required_state matching, list filters and the opaque ``pos`` token.

The per-connection memory of what was sent lives in ``sliding_sync_connections``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from federation.rooms.events import StateKey

# The event types that count as activity and move a room's bump_stamp (the same set as
# Synapse's SLIDING_SYNC_DEFAULT_BUMP_EVENT_TYPES): state changes and reactions do not.
BUMP_EVENT_TYPES = frozenset({
    "m.room.create",
    "m.room.message",
    "m.room.encrypted",
    "m.sticker",
    "m.call.invite",
    "m.poll.start",
    "m.beacon_info",
})

WILDCARD = "*"
LAZY = "$LAZY"
ME = "$ME"
MEMBER = "m.room.member"


# --- required_state --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequiredState:
    """A room's required_state: [event type, state key] pairs, ORed together.

    ``*`` matches any type or any state key, ``$ME`` the requesting user, and
    ``$LAZY`` (for m.room.member) the senders of the timeline events being sent.
    """

    pairs: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def of(cls, pairs: Iterable[Sequence[str]]) -> RequiredState:
        return cls(frozenset((p[0], p[1]) for p in pairs))

    def merged(self, other: RequiredState) -> RequiredState:
        return RequiredState(self.pairs | other.pairs)

    @property
    def lazy_members(self) -> bool:
        return (MEMBER, LAZY) in self.pairs

    def wants(self, key: StateKey, me: str, lazy_users: Collection[str] = ()) -> bool:
        event_type, state_key = key
        for want_type, want_key in self.pairs:
            if want_type != WILDCARD and want_type != event_type:
                continue
            if want_key == WILDCARD or want_key == state_key:
                return True
            if want_key == ME and state_key == me:
                return True
            if want_key == LAZY and event_type == MEMBER and state_key in lazy_users:
                return True
        return False

    def select(self, keys: Iterable[StateKey], me: str, lazy_users: Collection[str] = ()) -> list[StateKey]:
        """The keys (in the given order) that this required_state asks for."""
        if not self.pairs:
            return []
        return [k for k in keys if self.wants(k, me, lazy_users)]


@dataclass(frozen=True, slots=True)
class RoomParams:
    """What a room's entry carries; a room in several lists and subscriptions gets
    the union of required_state and the largest timeline_limit (as Synapse does)."""

    timeline_limit: int = 0
    required_state: RequiredState = RequiredState()

    def merged(self, other: RoomParams) -> RoomParams:
        return RoomParams(
            max(self.timeline_limit, other.timeline_limit),
            self.required_state.merged(other.required_state),
        )


# --- ordering and windows --------------------------------------------------------------


def sort_by_recency(bump_stamps: Mapping[str, int]) -> list[str]:
    """Room IDs, most recent activity first; ties broken by room ID so the order is stable."""
    return sorted(bump_stamps, key=lambda room_id: (-bump_stamps[room_id], room_id))


def range_slices(
    room_ids: Sequence[str], ranges: Sequence[Sequence[int]] | None
) -> list[tuple[tuple[int, int], list[str]]]:
    """Each inclusive [start, end] range with the room IDs it covers (fewer at the end of
    the list). No ranges means one range over the whole list."""
    if ranges is None:
        return [((0, max(len(room_ids) - 1, 0)), list(room_ids))] if room_ids else []
    return [((start, end), list(room_ids[start:end + 1])) for start, end in ranges]


def window(room_ids: Sequence[str], ranges: Sequence[Sequence[int]] | None) -> list[str]:
    """The room IDs inside any of the ranges, in list order, each once."""
    if ranges is None:
        return list(room_ids)
    seen: set[str] = set()
    out: list[str] = []
    for _, ids in sorted(range_slices(room_ids, ranges)):
        for room_id in ids:
            if room_id not in seen:
                seen.add(room_id)
                out.append(room_id)
    return out


# --- list filters ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomFacts:
    """What the list filters look at, for one room."""

    is_dm: bool
    is_encrypted: bool
    is_invite: bool
    room_type: str | None
    # Spaces (among those a filter names) that list this room as a child.
    parent_spaces: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ListFilter:
    """A list's filters, ANDed together; None means "do not filter on this"."""

    is_dm: bool | None = None
    is_encrypted: bool | None = None
    is_invite: bool | None = None
    room_types: tuple[str | None, ...] | None = None
    not_room_types: tuple[str | None, ...] = ()
    spaces: tuple[str, ...] | None = None

    def allows(self, room: RoomFacts) -> bool:
        if self.is_dm is not None and room.is_dm != self.is_dm:
            return False
        if self.is_encrypted is not None and room.is_encrypted != self.is_encrypted:
            return False
        if self.is_invite is not None and room.is_invite != self.is_invite:
            return False
        # not_room_types wins over room_types (MSC4186).
        if room.room_type in self.not_room_types:
            return False
        if self.room_types is not None and room.room_type not in self.room_types:
            return False
        if self.spaces is not None and not room.parent_spaces.intersection(self.spaces):
            return False
        return True


# --- pos -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pos:
    """Where a connection is: the server run that issued it (positions live in memory,
    so a restart forgets them), the connection's serial and the position's number."""

    instance: str
    connection: int
    seq: int

    def serialize(self) -> str:
        return f"{self.instance}.{self.connection}.{self.seq}"

    @classmethod
    def parse(cls, raw: str) -> Pos | None:
        parts = raw.split(".")
        if len(parts) != 3 or not parts[0] or not all(p.isdigit() and len(p) < 19 for p in parts[1:]):
            return None
        return cls(parts[0], int(parts[1]), int(parts[2]))
