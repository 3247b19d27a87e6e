"""Removing a room from this server's database (admin room deletion with ``purge``).

Everything the server holds about one room goes in a single write transaction, so a
crash mid-way leaves either the whole room or none of it. Only ``blocked_rooms`` is
kept: a blocked room stays blocked after its purge (Synapse behaves the same).

Tables keyed by the room ID are cleared directly; tables keyed by event ID
(``event_txn_ids``, ``federation_outbound_queue``) through the room's events, and
state group entries through the room's state groups. When a migration adds a table
that names a room or its events, add it here (tests/integration/test_admin_room_purge.py
scans every table for the room ID after a purge).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import aiosqlite

from homeserver.storage.database import Database

logger = logging.getLogger(__name__)

# Tables with a room_id column whose rows belong to the room, in deletion order.
# `account_data` rows with this room_id are the room's account data and tags; global
# account data (room_id '') is the user's own and is left alone.
ROOM_KEYED_TABLES: tuple[str, ...] = (
    "event_notifications",
    "event_relations",
    "receipts",
    "account_data",
    "room_aliases",
    "current_state",
    "room_memberships",
    "room_forward_extremities",
    "out_of_band_memberships",
    "temporary_bans",
    "content_reports",
    "server_notice_rooms",
    "room_key_backup_sessions",
    "delayed_events",
    "event_search",
    "events",
    "rooms",
)

# EDUs queued for other servers that speak about one room (typing, read receipts).
ROOM_EDU_TYPES: tuple[str, ...] = ("m.typing", "m.receipt")


@dataclass(slots=True)
class PurgeResult:
    """What a purge removed: row counts per table and the IDs that caches may hold."""

    rows_deleted: dict[str, int] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)
    state_groups: list[int] = field(default_factory=list)


class RoomPurgeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def purge_room(self, room_id: str) -> PurgeResult:
        """Delete every row about ``room_id`` (except its block) in one transaction."""

        async def run(conn: aiosqlite.Connection) -> PurgeResult:
            result = PurgeResult()
            cur = await conn.execute("SELECT event_id FROM events WHERE room_id = ?", (room_id,))
            result.event_ids = [r[0] for r in await cur.fetchall()]
            cur = await conn.execute("SELECT id FROM state_groups WHERE room_id = ?", (room_id,))
            result.state_groups = [r[0] for r in await cur.fetchall()]

            # Through the room's events and state groups first: those lists come from
            # tables deleted below.
            result.rows_deleted["event_txn_ids"] = await _delete(
                conn,
                "DELETE FROM event_txn_ids WHERE event_id IN (SELECT event_id FROM events WHERE room_id = ?)",
                (room_id,),
            )
            pdus = await _delete(
                conn,
                "DELETE FROM federation_outbound_queue WHERE event_id IN"
                " (SELECT event_id FROM events WHERE room_id = ?)",
                (room_id,),
            )
            # instr, not LIKE: '_' in a room ID would be a LIKE wildcard.
            edus = await _delete(
                conn,
                "DELETE FROM federation_outbound_queue WHERE edu_json IS NOT NULL"
                f" AND json_extract(edu_json, '$.edu_type') IN ({','.join('?' * len(ROOM_EDU_TYPES))})"
                " AND instr(edu_json, ?) > 0",
                (*ROOM_EDU_TYPES, room_id),
            )
            result.rows_deleted["federation_outbound_queue"] = pdus + edus
            result.rows_deleted["state_group_entries"] = await _delete(
                conn,
                "DELETE FROM state_group_entries WHERE group_id IN (SELECT id FROM state_groups WHERE room_id = ?)",
                (room_id,),
            )
            result.rows_deleted["state_groups"] = await _delete(
                conn, "DELETE FROM state_groups WHERE room_id = ?", (room_id,)
            )
            for table in ROOM_KEYED_TABLES:
                result.rows_deleted[table] = await _delete(
                    conn, f"DELETE FROM {table} WHERE room_id = ?", (room_id,)
                )
            return result

        result = await self.db.write("purge_room", run)
        logger.info(
            "purged room %s: %s", room_id,
            ", ".join(f"{t}={n}" for t, n in result.rows_deleted.items() if n),
        )
        return result

    async def room_exists(self, room_id: str) -> bool:
        """Whether any row of ``rooms`` or ``events`` still names the room."""
        row = await self.db.fetchone(
            "room_purge_exists",
            "SELECT 1 FROM rooms WHERE room_id = ? UNION ALL SELECT 1 FROM events WHERE room_id = ? LIMIT 1",
            (room_id, room_id),
        )
        return row is not None

    async def undelivered_events(self, event_ids: list[str]) -> list[tuple[str, str]]:
        """(destination, event_id) of the given events still queued for other servers."""
        if not event_ids:
            return []
        rows = await self.db.fetchall(
            "room_purge_undelivered",
            "SELECT destination, event_id FROM federation_outbound_queue"
            f" WHERE event_id IN ({','.join('?' * len(event_ids))})",
            event_ids,
        )
        return [(r[0], r[1]) for r in rows]


async def _delete(conn: aiosqlite.Connection, sql: str, params: tuple[object, ...]) -> int:
    cur = await conn.execute(sql, params)
    return cur.rowcount if cur.rowcount is not None and cur.rowcount >= 0 else 0
