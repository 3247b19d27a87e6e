"""Room events: persisting PDUs with their state and graph bookkeeping, and reading them back."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite
import orjson

from federation.rooms.events import Event, StateKey
from federation.rooms.versions import KNOWN_ROOM_VERSIONS, RoomVersion
from homeserver.storage.database import Database, run_in_writer_thread

EVENT_CACHE_SIZE = 20_000


@dataclass(slots=True)
class NewStateGroup:
    group_id: int
    room_id: str
    prev_group: int | None
    delta_depth: int
    # Full state when prev_group is None, otherwise the entries that changed.
    entries: dict[StateKey, str]


@dataclass(slots=True)
class PersistEvent:
    """Everything written, in one transaction, when an event joins a room's graph."""

    event: Event
    state_group_before: int | None
    state_group_after: int | None
    new_state_group: NewStateGroup | None = None
    # forward extremities of the room after this event (replaces the old set)
    forward_extremities: list[str] | None = None
    # current-state changes: key -> event_id
    current_state_updates: dict[StateKey, str] = field(default_factory=dict)
    # (user_id, membership, event_id) for membership changes in current state
    membership_updates: list[tuple[str, str, str]] = field(default_factory=list)
    txn: tuple[str, str, str] | None = None  # (user_id, device_id, txn_id)
    new_room_version: RoomVersion | None = None  # set on the create event
    # Outliers (state and auth events fetched over federation, rejected and
    # soft-failed events) are stored but never shown to clients.
    outlier: bool = False
    soft_failed: bool = False
    # Replace the room's whole current state by ``current_state_updates`` (after
    # state resolution or a remote join) instead of upserting single keys.
    replace_current_state: bool = False
    # The event is already stored as an outlier and now joins the timeline.
    replaces_outlier: bool = False
    # State groups written before ``new_state_group`` (state before a remote event,
    # a room's resolved current state).
    extra_state_groups: list[NewStateGroup] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class GraphFlags:
    outlier: bool
    soft_failed: bool
    rejected: str | None
    state_group: int | None  # state after the event, when known
    state_group_before: int | None


def _row_to_event(row: sqlite3.Row) -> Event:
    pdu = orjson.loads(row["json"])
    version = KNOWN_ROOM_VERSIONS[row["room_version"]]
    return Event(
        row["event_id"], pdu, version, rejected_reason=row["rejected"],
        stream_ordering=row["stream_ordering"],
    )


_EVENT_COLUMNS = "e.stream_ordering, e.event_id, e.json, e.rejected, r.room_version"
_EVENT_FROM = "events e JOIN rooms r ON r.room_id = e.room_id"


# Runs in the writer thread inside the persist transaction (plain sqlite3).
WriteHook = Callable[[sqlite3.Connection, Sequence[PersistEvent]], None]


class EventStore:
    def __init__(self, db: Database) -> None:
        self._write_hooks: list[WriteHook] = []
        self.db = db
        self._cache: OrderedDict[str, Event] = OrderedDict()
        # Changes around every redaction write (see ``mark_redacted``).
        self._redaction_epoch = 0

    # --- cache -----------------------------------------------------------------
    def _remember(self, event: Event) -> None:
        self._cache[event.event_id] = event
        if len(self._cache) > EVENT_CACHE_SIZE:
            self._cache.popitem(last=False)

    def invalidate(self, event_id: str) -> None:
        self._cache.pop(event_id, None)

    # --- ids -------------------------------------------------------------------
    async def max_stream_ordering(self) -> int:
        return int(await self.db.fetchval("max_stream", "SELECT COALESCE(MAX(stream_ordering), 0) FROM events"))

    async def min_stream_ordering(self) -> int:
        return int(await self.db.fetchval("min_stream", "SELECT COALESCE(MIN(stream_ordering), 0) FROM events"))

    async def max_state_group(self) -> int:
        return int(await self.db.fetchval("max_state_group", "SELECT COALESCE(MAX(id), 0) FROM state_groups"))

    # --- writes ----------------------------------------------------------------
    def add_write_hook(self, hook: WriteHook) -> None:
        """Run ``hook(conn, items)`` inside every persist transaction, after the events are
        written: derived rows (e.g. the search index) commit with their events, atomically
        and without a write transaction of their own."""
        self._write_hooks.append(hook)

    async def persist(self, items: Sequence[PersistEvent]) -> None:
        """Write events (in stream order) with their state, graph and membership changes."""

        hooks = list(self._write_hooks)

        def run_in_thread(conn: sqlite3.Connection) -> None:
            for item in items:
                self._persist_one(conn, item)
            for hook in hooks:
                hook(conn, items)

        async def run(conn: aiosqlite.Connection) -> None:
            # One hand-off to the writer thread for the whole batch (not one per statement).
            await run_in_writer_thread(conn, run_in_thread)

        await self.db.write("persist_events", run)
        for item in items:
            self._remember(item.event)

    @staticmethod
    def _persist_one(conn: sqlite3.Connection, item: PersistEvent) -> None:
        """Runs in the writer thread: plain sqlite3, one thread hand-off for the batch."""
        ev = item.event
        pdu = ev.pdu
        room_id = ev.room_id
        if item.new_room_version is not None:
            conn.execute(
                "INSERT OR IGNORE INTO rooms (room_id, room_version, creator, created_ts) VALUES (?, ?, ?, ?)",
                (room_id, item.new_room_version.identifier, ev.sender, ev.origin_server_ts),
            )
        row = (
            ev.stream_ordering, ev.event_id, room_id, ev.type, ev.state_key, ev.sender,
            ev.depth, ev.origin_server_ts, item.state_group_after, item.state_group_before,
            ev.rejected_reason, int(item.outlier), int(item.soft_failed), orjson.dumps(pdu).decode(),
        )
        if item.replaces_outlier:
            # An outlier joins the timeline or gains its state: its row is replaced.
            conn.execute("DELETE FROM events WHERE event_id = ? AND outlier = 1", (ev.event_id,))
        # A remote event may be fetched twice (state, auth chain): the first copy wins.
        verb = "INSERT OR IGNORE" if item.outlier else "INSERT"
        conn.execute(
            f"{verb} INTO events (stream_ordering, event_id, room_id, type, state_key, sender, depth,"
            " origin_server_ts, state_group, state_group_before, rejected, outlier, soft_failed, json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        groups = [*item.extra_state_groups, item.new_state_group]
        for group in groups:
            if group is None:
                continue
            conn.execute(
                "INSERT INTO state_groups (id, room_id, prev_group, delta_depth) VALUES (?, ?, ?, ?)",
                (group.group_id, group.room_id, group.prev_group, group.delta_depth),
            )
            conn.executemany(
                "INSERT INTO state_group_entries (group_id, type, state_key, event_id) VALUES (?, ?, ?, ?)",
                [(group.group_id, t, k, eid) for (t, k), eid in group.entries.items()],
            )
        if item.forward_extremities is not None:
            conn.execute("DELETE FROM room_forward_extremities WHERE room_id = ?", (room_id,))
            conn.executemany(
                "INSERT INTO room_forward_extremities (room_id, event_id) VALUES (?, ?)",
                [(room_id, e) for e in item.forward_extremities],
            )
        if item.replace_current_state:
            conn.execute("DELETE FROM current_state WHERE room_id = ?", (room_id,))
        if item.current_state_updates:
            conn.executemany(
                "INSERT OR REPLACE INTO current_state (room_id, type, state_key, event_id) VALUES (?, ?, ?, ?)",
                [(room_id, t, k, eid) for (t, k), eid in item.current_state_updates.items()],
            )
        if item.membership_updates:
            conn.executemany(
                "INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (room_id, user_id) DO UPDATE SET"
                " membership = excluded.membership, event_id = excluded.event_id,"
                " stream_ordering = excluded.stream_ordering, forgotten = 0",
                [(room_id, u, m, eid, ev.stream_ordering) for u, m, eid in item.membership_updates],
            )
        relates = ev.content.get("m.relates_to")
        if isinstance(relates, dict):
            target = relates.get("event_id")
            rel_type = relates.get("rel_type")
            if isinstance(target, str) and isinstance(rel_type, str):
                key = relates.get("key") if isinstance(relates.get("key"), str) else None
                conn.execute(
                    "INSERT OR IGNORE INTO event_relations (event_id, relates_to_id, rel_type,"
                    " aggregation_key, room_id, sender, stream_ordering) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (ev.event_id, target, rel_type, key, room_id, ev.sender, ev.stream_ordering),
                )
        if item.txn is not None:
            conn.execute(
                "INSERT OR IGNORE INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts)"
                " VALUES (?, ?, ?, ?, ?)",
                (*item.txn, ev.event_id, ev.origin_server_ts),
            )

    async def mark_redacted(self, event_id: str, redacted_pdu: dict[str, Any], redaction_id: str) -> None:
        """Replace a redacted event's stored PDU by its redacted form."""
        # A read running meanwhile may fetch the old row: bumping the epoch before and
        # after the write keeps such a read from caching it (see ``get_events``).
        self._redaction_epoch += 1
        self.invalidate(event_id)
        try:
            await self.db.execute(
                "redact_event",
                "UPDATE events SET json = ?, redacted_by = ? WHERE event_id = ?",
                (orjson.dumps(redacted_pdu).decode(), redaction_id, event_id),
            )
        finally:
            self._redaction_epoch += 1
            self.invalidate(event_id)

    # --- reads -----------------------------------------------------------------
    async def get_event(self, event_id: str) -> Event | None:
        cached = self._cache.get(event_id)
        if cached is not None:
            return cached
        events = await self.get_events([event_id])
        return events.get(event_id)

    async def get_events(self, event_ids: Iterable[str]) -> dict[str, Event]:
        found: dict[str, Event] = {}
        missing: list[str] = []
        for eid in event_ids:
            ev = self._cache.get(eid)
            if ev is not None:
                found[eid] = ev
            else:
                missing.append(eid)
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            epoch = self._redaction_epoch
            rows = await self.db.fetchall(
                "get_events",
                f"SELECT {_EVENT_COLUMNS} FROM {_EVENT_FROM} WHERE e.event_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            cacheable = epoch == self._redaction_epoch  # no redaction written meanwhile
            for row in rows:
                ev = _row_to_event(row)
                if cacheable:
                    self._remember(ev)
                found[ev.event_id] = ev
        return found

    async def get_redacted_by(self, event_id: str) -> str | None:
        return await self.db.fetchval(
            "get_redacted_by", "SELECT redacted_by FROM events WHERE event_id = ?", (event_id,)
        )

    async def get_room_events(
        self,
        room_id: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int,
        newest_first: bool,
    ) -> list[Event]:
        """Non-outlier events of a room with after < stream_ordering < before."""
        clauses = ["e.room_id = ?", "e.outlier = 0"]
        params: list[Any] = [room_id]
        if after is not None:
            clauses.append("e.stream_ordering > ?")
            params.append(after)
        if before is not None:
            clauses.append("e.stream_ordering < ?")
            params.append(before)
        order = "DESC" if newest_first else "ASC"
        params.append(limit)
        epoch = self._redaction_epoch
        rows = await self.db.fetchall(
            "get_room_events",
            f"SELECT {_EVENT_COLUMNS} FROM {_EVENT_FROM} WHERE {' AND '.join(clauses)}"
            f" ORDER BY e.stream_ordering {order} LIMIT ?",
            params,
        )
        # As in get_events: a row read while a redaction was written may be the old one,
        # and must not stay in the cache (a page of /messages racing a remote redaction
        # kept serving the unredacted event).
        cacheable = epoch == self._redaction_epoch
        events = []
        for row in rows:
            ev = self._cache.get(row["event_id"])
            if ev is None:
                ev = _row_to_event(row)
                if cacheable:
                    self._remember(ev)
            events.append(ev)
        return events

    async def get_state_groups_of(self, event_id: str) -> tuple[int | None, int | None] | None:
        row = await self.db.fetchone(
            "get_event_state_groups",
            "SELECT state_group_before, state_group FROM events WHERE event_id = ?",
            (event_id,),
        )
        return (row[0], row[1]) if row else None

    async def get_state_group_before_stream(self, room_id: str, stream: int) -> int | None:
        """The state group after the last event at or before ``stream`` in a room."""
        return await self.db.fetchval(
            "state_group_at_stream",
            "SELECT state_group FROM events WHERE room_id = ? AND stream_ordering <= ? AND outlier = 0"
            " AND state_group IS NOT NULL ORDER BY stream_ordering DESC LIMIT 1",
            (room_id, stream),
        )

    async def get_graph_flags(self, event_ids: Sequence[str]) -> dict[str, GraphFlags]:
        """What this server knows about each stored event among ``event_ids``."""
        out: dict[str, GraphFlags] = {}
        ids = list(event_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self.db.fetchall(
                "get_graph_flags",
                "SELECT event_id, outlier, soft_failed, rejected, state_group, state_group_before"
                f" FROM events WHERE event_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for r in rows:
                out[r[0]] = GraphFlags(bool(r[1]), bool(r[2]), r[3], r[4], r[5])
        return out

    async def get_earliest_room_event_ids(self, room_id: str, limit: int) -> list[str]:
        """The oldest timeline (non-outlier) events of a room: where backfill starts."""
        rows = await self.db.fetchall(
            "get_earliest_room_events",
            "SELECT event_id FROM events WHERE room_id = ? AND outlier = 0"
            " ORDER BY stream_ordering ASC LIMIT ?",
            (room_id, limit),
        )
        return [r[0] for r in rows]

    async def write_state_group(self, group: NewStateGroup) -> None:
        """Store a state group not tied to a new event (e.g. a room's resolved state on load)."""

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO state_groups (id, room_id, prev_group, delta_depth) VALUES (?, ?, ?, ?)",
                (group.group_id, group.room_id, group.prev_group, group.delta_depth),
            )
            await conn.executemany(
                "INSERT INTO state_group_entries (group_id, type, state_key, event_id) VALUES (?, ?, ?, ?)",
                [(group.group_id, t, k, eid) for (t, k), eid in group.entries.items()],
            )

        await self.db.write("write_state_group", run)

    async def get_txn_event(self, user_id: str, device_id: str, txn_id: str) -> str | None:
        return await self.db.fetchval(
            "get_txn_event",
            "SELECT event_id FROM event_txn_ids WHERE user_id = ? AND device_id = ? AND txn_id = ?",
            (user_id, device_id, txn_id),
        )

    async def get_txn_ids(self, event_ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """event_id -> (user_id, device_id, txn_id) for events sent with a transaction ID."""
        out: dict[str, tuple[str, str, str]] = {}
        for start in range(0, len(event_ids), 500):
            chunk = list(event_ids[start : start + 500])
            rows = await self.db.fetchall(
                "get_txn_ids",
                "SELECT event_id, user_id, device_id, txn_id FROM event_txn_ids"
                f" WHERE event_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for r in rows:
                out[r[0]] = (r[1], r[2], r[3])
        return out

    async def get_forward_extremities(self, room_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "get_forward_extremities",
            "SELECT event_id FROM room_forward_extremities WHERE room_id = ?",
            (room_id,),
        )
        return [r[0] for r in rows]

    async def get_max_depth(self, room_id: str) -> int:
        return int(
            await self.db.fetchval(
                "get_max_depth", "SELECT COALESCE(MAX(depth), 0) FROM events WHERE room_id = ?", (room_id,)
            )
        )

    async def get_room_latest_stream(self, room_id: str) -> int:
        return int(
            await self.db.fetchval(
                "room_latest_stream",
                "SELECT COALESCE(MAX(stream_ordering), 0) FROM events WHERE room_id = ? AND outlier = 0",
                (room_id,),
            )
        )

    async def get_relations(
        self, event_id: str, rel_type: str | None = None
    ) -> list[tuple[str, str, str | None, str, int]]:
        """(event_id, rel_type, key, sender, stream) of events relating to ``event_id``."""
        sql = (
            "SELECT r.event_id, r.rel_type, r.aggregation_key, r.sender, r.stream_ordering"
            " FROM event_relations r JOIN events e ON e.event_id = r.event_id"
            " WHERE r.relates_to_id = ? AND e.redacted_by IS NULL AND e.rejected IS NULL"
        )
        params: list[Any] = [event_id]
        if rel_type is not None:
            sql += " AND r.rel_type = ?"
            params.append(rel_type)
        rows = await self.db.fetchall("get_relations", sql + " ORDER BY r.stream_ordering", params)
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def get_replaced_event_ids(self) -> set[str]:
        rows = await self.db.fetchall(
            "get_replaced_event_ids",
            "SELECT DISTINCT relates_to_id FROM event_relations WHERE rel_type = 'm.replace'",
        )
        return {r[0] for r in rows}

    async def get_replacement_ids(self, target_ids: Sequence[str]) -> dict[str, list[str]]:
        """target event_id -> ids of events claiming to replace it."""
        out: dict[str, list[str]] = {}
        for start in range(0, len(target_ids), 500):
            chunk = list(target_ids[start : start + 500])
            rows = await self.db.fetchall(
                "get_replacement_ids",
                "SELECT relates_to_id, event_id FROM event_relations WHERE rel_type = 'm.replace'"
                f" AND relates_to_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for target, eid in rows:
                out.setdefault(target, []).append(eid)
        return out

    async def get_relations_page(
        self,
        event_id: str,
        *,
        rel_type: str | None,
        event_type: str | None,
        before: int | None,
        after: int | None,
        limit: int,
        newest_first: bool,
    ) -> list[Event]:
        clauses = ["r.relates_to_id = ?", "e.rejected IS NULL"]
        params: list[Any] = [event_id]
        if rel_type is not None:
            clauses.append("r.rel_type = ?")
            params.append(rel_type)
        if event_type is not None:
            clauses.append("e.type = ?")
            params.append(event_type)
        if before is not None:
            clauses.append("e.stream_ordering < ?")
            params.append(before)
        if after is not None:
            clauses.append("e.stream_ordering > ?")
            params.append(after)
        params.append(limit)
        rows = await self.db.fetchall(
            "get_relations_page",
            "SELECT e.stream_ordering, e.event_id, e.json, e.rejected, ro.room_version"
            " FROM event_relations r JOIN events e ON e.event_id = r.event_id"
            " JOIN rooms ro ON ro.room_id = e.room_id"
            f" WHERE {' AND '.join(clauses)} ORDER BY e.stream_ordering {'DESC' if newest_first else 'ASC'}"
            " LIMIT ?",
            params,
        )
        return [_row_to_event(r) for r in rows]
