"""Uploaded sync filters."""

from __future__ import annotations

from typing import Any

import aiosqlite
import orjson

from homeserver.storage.database import Database


class FilterStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_filter(self, user_id: str, filter_json: dict[str, Any]) -> int:
        async def run(conn: aiosqlite.Connection) -> int:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT COALESCE(MAX(filter_id), -1) + 1 FROM filters WHERE user_id = ?", (user_id,)
                )
            )
            filter_id = int(rows[0][0])
            await conn.execute(
                "INSERT INTO filters (user_id, filter_id, json) VALUES (?, ?, ?)",
                (user_id, filter_id, orjson.dumps(filter_json).decode()),
            )
            return filter_id

        return await self.db.write("add_filter", run)

    async def get_filter(self, user_id: str, filter_id: int) -> dict[str, Any] | None:
        raw = await self.db.fetchval(
            "get_filter", "SELECT json FROM filters WHERE user_id = ? AND filter_id = ?", (user_id, filter_id)
        )
        return orjson.loads(raw) if raw is not None else None
