"""Device list changes: one row per change to a user's set of devices (or their keys)."""

from __future__ import annotations

import aiosqlite

from homeserver.storage.database import Database
from homeserver.storage.stream_ids import StreamIdGenerator


class DeviceListStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.stream = StreamIdGenerator()

    async def load(self) -> None:
        current = await self.db.fetchval(
            "device_lists_max_stream", "SELECT COALESCE(MAX(stream_id), 0) FROM device_list_changes"
        )
        self.stream.start_at(int(current))

    async def record_change(self, user_id: str) -> int:
        async def run(conn: aiosqlite.Connection) -> int:
            stream_id = self.stream.allocate()
            await conn.execute(
                "INSERT INTO device_list_changes (stream_id, user_id) VALUES (?, ?)", (stream_id, user_id)
            )
            return stream_id

        stream_id = await self.db.write("record_device_change", run)
        self.stream.committed(stream_id)
        return stream_id

    async def users_changed(self, after: int, upto: int) -> set[str]:
        rows = await self.db.fetchall(
            "device_lists_changed",
            "SELECT DISTINCT user_id FROM device_list_changes WHERE stream_id > ? AND stream_id <= ?",
            (after, upto),
        )
        return {r[0] for r in rows}
