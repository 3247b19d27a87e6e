"""Send-to-device messages queued per device until the device acknowledges them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiosqlite
import orjson

from homeserver.storage.database import Database
from homeserver.storage.stream_ids import StreamIdGenerator

STREAM = "to_device"


@dataclass(frozen=True, slots=True)
class ToDeviceMessage:
    stream_id: int
    message: dict[str, Any]  # {"sender", "type", "content"}


class ToDeviceStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.stream = StreamIdGenerator()

    async def load(self) -> None:
        # Rows are deleted once acknowledged, so MAX(stream_id) alone could move
        # backwards across a restart; the high-water mark is kept beside them.
        current = await self.db.fetchval(
            "to_device_max_stream",
            "SELECT MAX(COALESCE((SELECT MAX(stream_id) FROM to_device_messages), 0),"
            " COALESCE((SELECT position FROM stream_positions WHERE stream = ?), 0))",
            (STREAM,),
        )
        self.stream.start_at(int(current))

    async def add_messages(
        self,
        sender: tuple[str, str],
        txn_id: str,
        now_ms: int,
        deliveries: list[tuple[str, str, dict[str, Any]]],
    ) -> int | None:
        """Queue (user_id, device_id, message) triples under the sender's transaction ID.

        Returns the last stream position, or None if the transaction was seen before.
        """

        async def run(conn: aiosqlite.Connection) -> int | None:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO to_device_txns (user_id, device_id, txn_id, created_ts)"
                " VALUES (?, ?, ?, ?)",
                (sender[0], sender[1], txn_id, now_ms),
            )
            if cur.rowcount != 1:
                return None
            last = self.stream.current
            rows = []
            for user_id, device_id, message in deliveries:
                last = self.stream.allocate()
                rows.append((last, user_id, device_id, orjson.dumps(message).decode()))
            await conn.executemany(
                "INSERT INTO to_device_messages (stream_id, user_id, device_id, message) VALUES (?, ?, ?, ?)",
                rows,
            )
            await conn.execute(
                "INSERT INTO stream_positions (stream, position) VALUES (?, ?)"
                " ON CONFLICT (stream) DO UPDATE SET position = MAX(position, excluded.position)",
                (STREAM, last),
            )
            return last

        last = await self.db.write("add_to_device", run)
        if last is not None:
            self.stream.committed(last)
        return last

    async def pending(
        self, user_id: str, device_id: str, after: int, upto: int, limit: int = -1
    ) -> list[ToDeviceMessage]:
        """The device's messages in (after, upto], oldest first (at most ``limit``; -1: all)."""
        rows = await self.db.fetchall(
            "to_device_pending",
            "SELECT stream_id, message FROM to_device_messages WHERE user_id = ? AND device_id = ?"
            " AND stream_id > ? AND stream_id <= ? ORDER BY stream_id LIMIT ?",
            (user_id, device_id, after, upto, limit),
        )
        return [ToDeviceMessage(r[0], orjson.loads(r[1])) for r in rows]

    async def acknowledge(self, user_id: str, device_id: str, upto: int) -> None:
        """Delete the device's messages up to ``upto`` (delivered in a sync it moved past)."""
        await self.db.execute(
            "ack_to_device",
            "DELETE FROM to_device_messages WHERE user_id = ? AND device_id = ? AND stream_id <= ?",
            (user_id, device_id, upto),
        )

    async def delete_for_device(self, user_id: str, device_id: str) -> None:
        await self.db.execute(
            "delete_device_inbox",
            "DELETE FROM to_device_messages WHERE user_id = ? AND device_id = ?",
            (user_id, device_id),
        )
