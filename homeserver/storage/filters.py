"""Uploaded sync filters."""

from __future__ import annotations

from typing import Any

import aiosqlite
import orjson

from homeserver.storage.database import Database


class FilterStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Filters never change once uploaded, so they are cached for the hot /sync path.
        self._cache: dict[tuple[str, int], dict[str, Any]] = {}

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
        cached = self._cache.get((user_id, filter_id))
        if cached is not None:
            return cached
        raw = await self.db.fetchval(
            "get_filter", "SELECT json FROM filters WHERE user_id = ? AND filter_id = ?", (user_id, filter_id)
        )
        if raw is None:
            return None
        if len(self._cache) > 10_000:
            self._cache.clear()
        value: dict[str, Any] = orjson.loads(raw)
        self._cache[(user_id, filter_id)] = value
        return value
