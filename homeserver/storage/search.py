"""The full-text index of room events (SQLite FTS5; migration 006_search.sql)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from homeserver.storage.database import Database


@dataclass(frozen=True, slots=True)
class SearchHit:
    stream_ordering: int
    event_id: str
    room_id: str
    rank: float  # higher is more relevant


class SearchStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def index_in(conn: sqlite3.Connection, rows: Sequence[tuple[int, str, str, str]]) -> None:
        """Add (stream_ordering, room_id, key, text) rows inside the caller's transaction."""
        if rows:
            conn.executemany(
                "INSERT OR REPLACE INTO event_search (rowid, value, key, room_id) VALUES (?, ?, ?, ?)",
                [(stream, text, key, room_id) for stream, room_id, key, text in rows],
            )

    async def remove(self, stream_ordering: int) -> None:
        await self.db.execute(
            "unindex_event", "DELETE FROM event_search WHERE rowid = ?", (stream_ordering,)
        )

    @staticmethod
    def _where(
        room_ids: Collection[str], keys: Collection[str], before: int | None
    ) -> tuple[str, list[object]]:
        rooms = ",".join("?" * len(room_ids))
        key_marks = ",".join("?" * len(keys))
        clauses = [
            "event_search MATCH ?",
            f"event_search.room_id IN ({rooms})",
            f"event_search.key IN ({key_marks})",
        ]
        params: list[object] = [*room_ids, *keys]
        if before is not None:
            clauses.append("event_search.rowid < ?")
            params.append(before)
        return " AND ".join(clauses), params

    async def search(
        self,
        match: str,
        room_ids: Collection[str],
        keys: Collection[str],
        *,
        by_rank: bool,
        limit: int,
        offset: int = 0,
        before: int | None = None,
    ) -> list[SearchHit]:
        """Matching events of those rooms, best (or newest) first; redacted ones excluded."""
        if not room_ids or not keys:
            return []
        where, params = self._where(room_ids, keys, before)
        order = "bm25(event_search)" if by_rank else "event_search.rowid DESC"
        rows = await self.db.fetchall(
            "search_events",
            "SELECT event_search.rowid, e.event_id, event_search.room_id, bm25(event_search)"
            " FROM event_search JOIN events e ON e.stream_ordering = event_search.rowid"
            f" WHERE {where} AND e.redacted_by IS NULL"
            f" ORDER BY {order} LIMIT ? OFFSET ?",
            [match, *params, limit, offset],
        )
        # bm25 is lower for better matches; the spec's rank is higher for better ones.
        return [SearchHit(row[0], row[1], row[2], -float(row[3])) for row in rows]

    async def count(self, match: str, room_ids: Collection[str], keys: Collection[str]) -> int:
        if not room_ids or not keys:
            return 0
        where, params = self._where(room_ids, keys, None)
        value = await self.db.fetchval(
            "count_search_results", f"SELECT COUNT(*) FROM event_search WHERE {where}", [match, *params]
        )
        return int(value or 0)
