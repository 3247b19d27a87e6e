"""What each sliding sync connection has been sent (Synapse's per-connection "room status").

A connection is (user, device, conn_id). Each response's ``pos`` names an immutable
snapshot: the stream token it was computed at, and per room what the client holds.
A request with ``pos`` is computed against that snapshot, so a retried request (the
response was lost) gets the same answer again, and only the rooms that changed since
are sent. Snapshots live in memory: after a restart, or once dropped, a ``pos`` is
unknown and the client starts over (M_UNKNOWN_POS).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from homeserver.core.sliding_sync import Pos, RoomParams
from homeserver.core.stream_token import StreamToken
from homeserver.errors import MatrixError

# A device rarely has more than a couple of connections (Element X: one per process);
# the least recently used beyond this are forgotten.
CONNECTIONS_PER_DEVICE = 10
# Positions a connection keeps besides the one a request came from: the client may
# retry the previous request, nothing older.
POSITIONS_KEPT = 4


@dataclass(frozen=True, slots=True)
class RoomSent:
    """What the client holds of one room on this connection."""

    # The room's timeline was sent up to this events-stream position.
    events_upto: int
    membership: str
    params: RoomParams
    # Members whose m.room.member event was sent because of $LAZY.
    lazy_members: frozenset[str] = frozenset()
    # (notification_count, highlight_count) as last sent.
    unread: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class ListSent:
    count: int
    # Room IDs of each range, in order, as last sent.
    ranges: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    token: StreamToken
    rooms: Mapping[str, RoomSent] = field(default_factory=dict)
    lists: Mapping[str, ListSent] = field(default_factory=dict)


ConnectionKey = tuple[str, str, str]  # (user_id, device_id, conn_id)


@dataclass(slots=True)
class _Connection:
    serial: int
    positions: dict[int, Snapshot]
    next_seq: int = 1


def unknown_pos() -> MatrixError:
    return MatrixError("M_UNKNOWN_POS", 400, "Unknown position: start the connection again without pos")


class SlidingSyncConnections:
    def __init__(self, instance: str) -> None:
        self.instance = instance
        self._connections: OrderedDict[ConnectionKey, _Connection] = OrderedDict()
        self._next_serial = 1

    def snapshot(self, key: ConnectionKey, raw_pos: str | None) -> Snapshot | None:
        """The snapshot ``raw_pos`` names on this connection (None without a pos).

        Raises M_UNKNOWN_POS for a position this server run did not issue to this
        connection, or has dropped."""
        if raw_pos is None:
            return None
        pos = Pos.parse(raw_pos)
        conn = self._connections.get(key)
        if pos is None or conn is None or pos.instance != self.instance or pos.connection != conn.serial:
            raise unknown_pos()
        found = conn.positions.get(pos.seq)
        if found is None:
            raise unknown_pos()
        self._connections.move_to_end(key)
        return found

    def commit(self, key: ConnectionKey, raw_pos: str | None, snapshot: Snapshot) -> str:
        """Record ``snapshot`` as the position after ``raw_pos``; return the new pos.

        Without a pos the connection starts over (earlier positions become unknown)."""
        conn = self._connections.get(key) if raw_pos is not None else None
        if conn is None:
            conn = _Connection(self._next_serial, {})
            self._next_serial += 1
            self._connections[key] = conn
            self._evict(key)
        self._connections.move_to_end(key)
        parsed = Pos.parse(raw_pos) if raw_pos is not None else None
        base = parsed.seq if parsed is not None else 0
        seq = conn.next_seq
        conn.next_seq += 1
        conn.positions[seq] = snapshot
        # The client has moved past what came before ``base``; keep base (a retry) and a
        # few of the newest (answers that may still be in flight).
        for old in sorted(conn.positions):
            if old < base or (old != base and len(conn.positions) > POSITIONS_KEPT + 1):
                del conn.positions[old]
        return Pos(self.instance, conn.serial, seq).serialize()

    def _evict(self, key: ConnectionKey) -> None:
        user_id, device_id, _ = key
        same_device = [k for k in self._connections if k[0] == user_id and k[1] == device_id]
        for old in same_device[: max(0, len(same_device) - CONNECTIONS_PER_DEVICE)]:
            del self._connections[old]

    def forget_device(self, user_id: str, device_id: str) -> None:
        for key in [k for k in self._connections if k[0] == user_id and k[1] == device_id]:
            del self._connections[key]
