"""Read receipts: the latest receipt per (room, type, user, thread)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiosqlite
import orjson

from homeserver.storage.database import Database
from homeserver.storage.stream_ids import StreamIdGenerator

UNTHREADED = ""  # thread_id column value of an unthreaded receipt


@dataclass(frozen=True, slots=True)
class Receipt:
    room_id: str
    receipt_type: str
    user_id: str
    thread_id: str
    event_id: str
    data: dict[str, Any]
    stream_id: int


def _receipt(row: Any) -> Receipt:
    return Receipt(row[0], row[1], row[2], row[3], row[4], orjson.loads(row[5]), row[6])


_COLUMNS = "room_id, receipt_type, user_id, thread_id, event_id, data, stream_id"


class ReceiptStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.stream = StreamIdGenerator()

    async def load(self) -> None:
        current = await self.db.fetchval(
            "receipts_max_stream", "SELECT COALESCE(MAX(stream_id), 0) FROM receipts"
        )
        self.stream.start_at(int(current))

    async def upsert(
        self,
        room_id: str,
        receipt_type: str,
        user_id: str,
        thread_id: str,
        event_id: str,
        data: dict[str, Any],
        event_stream: int,
    ) -> int | None:
        """Store a receipt unless the existing one points at a later event.

        Returns the new stream position, or None if nothing changed (receipts
        only move forward, as Synapse does).
        """
        encoded = orjson.dumps(data).decode()

        async def run(conn: aiosqlite.Connection) -> int | None:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT r.event_id, e.stream_ordering FROM receipts r"
                    " LEFT JOIN events e ON e.event_id = r.event_id"
                    " WHERE r.room_id = ? AND r.receipt_type = ? AND r.user_id = ? AND r.thread_id = ?",
                    (room_id, receipt_type, user_id, thread_id),
                )
            )
            if rows:
                old_event, old_stream = rows[0][0], rows[0][1]
                if old_event == event_id or (old_stream is not None and old_stream > event_stream):
                    return None
            stream_id = self.stream.allocate()
            await conn.execute(
                f"INSERT INTO receipts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET"
                " event_id = excluded.event_id, data = excluded.data, stream_id = excluded.stream_id",
                (room_id, receipt_type, user_id, thread_id, event_id, encoded, stream_id),
            )
            return stream_id

        stream_id = await self.db.write("upsert_receipt", run)
        if stream_id is not None:
            self.stream.committed(stream_id)
        return stream_id

    async def for_rooms(
        self, room_ids: list[str], after: int | None, upto: int
    ) -> list[Receipt]:
        """Receipts in the rooms with stream_id in (after, upto] (all current ones if after is None)."""
        out: list[Receipt] = []
        lower = -1 if after is None else after
        for i in range(0, len(room_ids), 500):
            chunk = room_ids[i : i + 500]
            rows = await self.db.fetchall(
                "receipts_for_rooms",
                f"SELECT {_COLUMNS} FROM receipts WHERE stream_id > ? AND stream_id <= ?"
                f" AND room_id IN ({','.join('?' * len(chunk))}) ORDER BY stream_id",
                (lower, upto, *chunk),
            )
            out.extend(_receipt(r) for r in rows)
        return out

    async def rooms_changed_since(self, after: int, upto: int) -> list[str]:
        rows = await self.db.fetchall(
            "receipts_rooms_changed",
            "SELECT DISTINCT room_id FROM receipts WHERE stream_id > ? AND stream_id <= ?",
            (after, upto),
        )
        return [r[0] for r in rows]

    async def read_position(self, room_id: str, user_id: str) -> int | None:
        """Stream ordering of the latest event the user's (public or private) read receipt marks."""
        value = await self.db.fetchval(
            "receipt_read_position",
            "SELECT MAX(e.stream_ordering) FROM receipts r JOIN events e ON e.event_id = r.event_id"
            " WHERE r.user_id = ? AND r.room_id = ? AND r.receipt_type IN ('m.read', 'm.read.private')",
            (user_id, room_id),
        )
        return None if value is None else int(value)

    async def user_changed_rooms(self, user_id: str, after: int, upto: int) -> list[str]:
        """Rooms where the user's own receipts moved in (after, upto]."""
        rows = await self.db.fetchall(
            "receipts_user_changed",
            "SELECT DISTINCT room_id FROM receipts WHERE user_id = ? AND stream_id > ? AND stream_id <= ?",
            (user_id, after, upto),
        )
        return [r[0] for r in rows]


# Unread counting over the events table (read-only; the counter above it decides
# which ranges to count). Highlights follow the mention rules: with m.mentions,
# only its user_ids/room; without, the user ID or display name in the body.
_COUNT_UNREAD = """
SELECT COUNT(*), COALESCE(SUM(CASE
    WHEN json_type(json, '$.content."m.mentions"') = 'object' THEN
        COALESCE(json_extract(json, '$.content."m.mentions".room'), 0) = 1
        OR EXISTS (SELECT 1 FROM json_each(events.json, '$.content."m.mentions".user_ids') WHERE value = :user)
    ELSE
        instr(lower(COALESCE(json_extract(json, '$.content.body'), '')), :user_lower) > 0
        OR (:name != '' AND instr(lower(COALESCE(json_extract(json, '$.content.body'), '')), :name) > 0)
    END), 0)
FROM events
WHERE room_id = :room AND stream_ordering > :after AND stream_ordering <= :upto
  AND sender != :user AND rejected IS NULL AND outlier = 0
  AND type IN ({types})
  AND COALESCE(json_extract(json, '$.content."m.relates_to".rel_type'), '') != 'm.replace'
"""


async def count_notifying_events(
    db: Database,
    room_id: str,
    user_id: str,
    display_name: str | None,
    after: int,
    upto: int,
    types: tuple[str, ...],
) -> tuple[int, int]:
    """(notifications, highlights) among events by others in (after, upto]."""
    params: dict[str, Any] = {
        "room": room_id,
        "user": user_id,
        "user_lower": user_id.lower(),
        "name": (display_name or "").lower(),
        "after": after,
        "upto": upto,
    }
    names = []
    for i, t in enumerate(types):
        params[f"t{i}"] = t
        names.append(f":t{i}")
    row = await db.fetchone("count_unread", _COUNT_UNREAD.format(types=", ".join(names)), params)  # type: ignore[arg-type]
    if row is None:
        return 0, 0
    return int(row[0]), int(row[1])
