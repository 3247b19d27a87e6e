"""Reads over a room's state history: when a piece of state changed, in stream order.

History visibility needs "what was the history_visibility and the user's
membership when event E was sent" for arbitrary E; the changes of one state key
are few, so they are read as one ordered list and searched in memory.
"""

from __future__ import annotations

from typing import Any

import orjson

from homeserver.storage.database import Database


class RoomHistoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_state_changes(
        self, room_id: str, event_type: str, state_key: str
    ) -> list[tuple[int, dict[str, Any]]]:
        """(stream_ordering, content) of every accepted, non-outlier event of this
        state key in the room, oldest first."""
        rows = await self.db.fetchall(
            "get_state_changes",
            "SELECT stream_ordering, json FROM events"
            " WHERE room_id = ? AND type = ? AND state_key = ?"
            " AND outlier = 0 AND rejected IS NULL ORDER BY stream_ordering",
            (room_id, event_type, state_key),
        )
        out: list[tuple[int, dict[str, Any]]] = []
        for row in rows:
            content = orjson.loads(row[1]).get("content")
            out.append((row[0], content if isinstance(content, dict) else {}))
        return out
