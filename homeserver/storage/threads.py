"""Threads: reads over ``event_relations`` rows whose rel_type is ``m.thread``.

spec: client-server-api/modules/threading.md. The rows are written with every event
(storage/events.py); this repository only reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from homeserver.storage.database import Database

# A thread reply counts while it is neither rejected nor redacted.
_LIVE_REPLY = (
    "r.rel_type = 'm.thread' AND e.rejected IS NULL AND e.redacted_by IS NULL"
)


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    root_id: str
    count: int
    latest_event_id: str
    latest_stream: int


class ThreadStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_thread_root_ids(self) -> set[str]:
        rows = await self.db.fetchall(
            "get_thread_root_ids",
            "SELECT DISTINCT relates_to_id FROM event_relations WHERE rel_type = 'm.thread'",
        )
        return {r[0] for r in rows}

    async def get_summaries(
        self, root_ids: Sequence[str], excluded_senders: Sequence[str] = ()
    ) -> dict[str, ThreadSummary]:
        """root event_id -> reply count and latest reply (by stream order), leaving out
        replies by ``excluded_senders``."""
        out: dict[str, ThreadSummary] = {}
        excluded = list(excluded_senders)[:500]
        not_excluded = f" AND r.sender NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
        for start in range(0, len(root_ids), 500):
            chunk = list(root_ids[start : start + 500])
            # SQLite: a bare column beside MAX() comes from the row holding the maximum.
            rows = await self.db.fetchall(
                "get_thread_summaries",
                "SELECT r.relates_to_id, COUNT(*), MAX(r.stream_ordering), r.event_id"
                " FROM event_relations r JOIN events e ON e.event_id = r.event_id"
                f" WHERE {_LIVE_REPLY} AND r.relates_to_id IN ({','.join('?' * len(chunk))}){not_excluded}"
                " GROUP BY r.relates_to_id",
                [*chunk, *excluded],
            )
            for root, count, latest_stream, latest_id in rows:
                out[root] = ThreadSummary(root, int(count), latest_id, int(latest_stream))
        return out

    async def get_participated(self, root_ids: Sequence[str], user_id: str) -> set[str]:
        """The roots among ``root_ids`` that ``user_id`` replied to in their thread."""
        out: set[str] = set()
        for start in range(0, len(root_ids), 500):
            chunk = list(root_ids[start : start + 500])
            rows = await self.db.fetchall(
                "get_thread_participation",
                "SELECT DISTINCT r.relates_to_id FROM event_relations r"
                " JOIN events e ON e.event_id = r.event_id"
                f" WHERE {_LIVE_REPLY} AND r.sender = ?"
                f" AND r.relates_to_id IN ({','.join('?' * len(chunk))})",
                [user_id, *chunk],
            )
            out.update(r[0] for r in rows)
        return out

    async def get_roots_by_activity(
        self,
        room_id: str,
        *,
        before: int | None,
        limit: int,
        participant: str | None = None,
    ) -> list[tuple[str, int]]:
        """(root event_id, stream of its latest reply), most recently active first.

        ``before``: only threads whose latest reply is below this stream position.
        ``participant``: only threads that user started or replied in.
        """
        having = ""
        params: list[object] = [room_id]
        where = f"r.room_id = ? AND {_LIVE_REPLY}"
        if participant is not None:
            where += (
                " AND (EXISTS (SELECT 1 FROM events root WHERE root.event_id = r.relates_to_id"
                " AND root.sender = ?) OR EXISTS (SELECT 1 FROM event_relations mine"
                " JOIN events me ON me.event_id = mine.event_id"
                " WHERE mine.relates_to_id = r.relates_to_id AND mine.rel_type = 'm.thread'"
                " AND mine.sender = ? AND me.rejected IS NULL AND me.redacted_by IS NULL))"
            )
            params += [participant, participant]
        if before is not None:
            having = " HAVING MAX(r.stream_ordering) < ?"
            params.append(before)
        params.append(limit)
        rows = await self.db.fetchall(
            "get_thread_roots_by_activity",
            "SELECT r.relates_to_id, MAX(r.stream_ordering) AS latest"
            " FROM event_relations r JOIN events e ON e.event_id = r.event_id"
            f" WHERE {where} GROUP BY r.relates_to_id{having} ORDER BY latest DESC LIMIT ?",
            params,
        )
        return [(r[0], int(r[1])) for r in rows]
