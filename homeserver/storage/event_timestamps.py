"""Finding a room's event closest to a timestamp (spec: MSC3030, GET /timestamp_to_event)."""

from __future__ import annotations

from homeserver.storage.database import Database

# Events in the room's live timeline: not outliers, rejected or soft-failed.
_IN_TIMELINE = "room_id = ? AND outlier = 0 AND soft_failed = 0 AND rejected IS NULL"


class EventTimestampStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def closest_event(
        self, room_id: str, ts: int, *, forwards: bool, before_stream: int | None = None
    ) -> tuple[str, int] | None:
        """(event_id, origin_server_ts) of the first event at or after ``ts`` going forwards,
        or at or before it going backwards; equal timestamps are ordered topologically
        (depth, then arrival)."""
        params: list[object] = [room_id, ts]
        where = _IN_TIMELINE + (" AND origin_server_ts >= ?" if forwards else " AND origin_server_ts <= ?")
        if before_stream is not None:
            where += " AND stream_ordering < ?"
            params.append(before_stream)
        order = "ASC" if forwards else "DESC"
        row = await self.db.fetchone(
            "closest_event_to_timestamp",
            f"SELECT event_id, origin_server_ts FROM events WHERE {where}"
            f" ORDER BY origin_server_ts {order}, depth {order}, stream_ordering {order} LIMIT 1",
            params,
        )
        return None if row is None else (row[0], int(row[1]))

    async def earliest_timeline_event(self, room_id: str) -> tuple[str, str] | None:
        """(event_id, type) of the first event of the room's timeline held here."""
        row = await self.db.fetchone(
            "earliest_timeline_event",
            f"SELECT event_id, type FROM events WHERE {_IN_TIMELINE} ORDER BY stream_ordering LIMIT 1",
            [room_id],
        )
        return None if row is None else (row[0], row[1])

    async def in_timeline(self, room_id: str, event_id: str) -> bool:
        row = await self.db.fetchone(
            "event_in_timeline",
            f"SELECT 1 FROM events WHERE {_IN_TIMELINE} AND event_id = ?",
            [room_id, event_id],
        )
        return row is not None
