"""Per-user account data (global and per room) and the ignored-users index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiosqlite
import orjson

from homeserver.storage.database import Database
from homeserver.storage.stream_ids import StreamIdGenerator

GLOBAL = ""  # room_id of global account data rows


@dataclass(frozen=True, slots=True)
class AccountDataItem:
    room_id: str  # "" for global account data
    type: str
    content: dict[str, Any]
    stream_id: int


class AccountDataStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.stream = StreamIdGenerator()

    async def load(self) -> None:
        current = await self.db.fetchval(
            "account_data_max_stream", "SELECT COALESCE(MAX(stream_id), 0) FROM account_data"
        )
        self.stream.start_at(int(current))

    async def put(
        self,
        user_id: str,
        room_id: str,
        data_type: str,
        content: dict[str, Any],
        *,
        ignored_users: list[str] | None = None,
    ) -> int:
        """Store one item; with ``ignored_users`` also rewrite that user's ignore list."""
        encoded = orjson.dumps(content).decode()

        async def run(conn: aiosqlite.Connection) -> int:
            stream_id = self.stream.allocate()
            await conn.execute(
                "INSERT INTO account_data (user_id, room_id, type, content, stream_id)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, room_id, type) DO UPDATE SET"
                " content = excluded.content, stream_id = excluded.stream_id",
                (user_id, room_id, data_type, encoded, stream_id),
            )
            if ignored_users is not None:
                await conn.execute("DELETE FROM ignored_users WHERE user_id = ?", (user_id,))
                await conn.executemany(
                    "INSERT OR IGNORE INTO ignored_users (user_id, ignored_user_id) VALUES (?, ?)",
                    [(user_id, u) for u in ignored_users],
                )
            return stream_id

        stream_id = await self.db.write("put_account_data", run)
        self.stream.committed(stream_id)
        return stream_id

    async def get(self, user_id: str, room_id: str, data_type: str) -> dict[str, Any] | None:
        raw = await self.db.fetchval(
            "get_account_data",
            "SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?",
            (user_id, room_id, data_type),
        )
        return None if raw is None else orjson.loads(raw)

    async def max_stream_for_user(self, user_id: str) -> int:
        return int(
            await self.db.fetchval(
                "account_data_user_max",
                "SELECT COALESCE(MAX(stream_id), 0) FROM account_data WHERE user_id = ?",
                (user_id,),
            )
        )

    async def changed(self, user_id: str, after: int, upto: int) -> list[AccountDataItem]:
        """Items whose stream_id is in (after, upto], oldest first."""
        rows = await self.db.fetchall(
            "account_data_changed",
            "SELECT room_id, type, content, stream_id FROM account_data"
            " WHERE user_id = ? AND stream_id > ? AND stream_id <= ? ORDER BY stream_id",
            (user_id, after, upto),
        )
        return [AccountDataItem(r[0], r[1], orjson.loads(r[2]), r[3]) for r in rows]

    async def for_rooms(self, user_id: str, room_ids: list[str], upto: int) -> list[AccountDataItem]:
        """Global items (room "") and the given rooms' items, up to ``upto``."""
        wanted = [GLOBAL, *room_ids]
        out: list[AccountDataItem] = []
        # SQLite caps bound parameters; chunk long room lists.
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = await self.db.fetchall(
                "account_data_for_rooms",
                "SELECT room_id, type, content, stream_id FROM account_data WHERE user_id = ?"
                f" AND stream_id <= ? AND room_id IN ({','.join('?' * len(chunk))}) ORDER BY stream_id",
                (user_id, upto, *chunk),
            )
            out.extend(AccountDataItem(r[0], r[1], orjson.loads(r[2]), r[3]) for r in rows)
        return out

    async def get_ignored_users(self, user_id: str) -> frozenset[str]:
        rows = await self.db.fetchall(
            "get_ignored_users",
            "SELECT ignored_user_id FROM ignored_users WHERE user_id = ?",
            (user_id,),
        )
        return frozenset(r[0] for r in rows)
