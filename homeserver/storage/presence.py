"""Presence of local users, written in batches by the presence service."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from homeserver.storage.database import Database


@dataclass(slots=True)
class PresenceRecord:
    user_id: str
    state: str  # online | unavailable | offline
    status_msg: str | None
    last_active_ts: int
    currently_active: bool
    stream_id: int


class PresenceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def load_all(self) -> list[PresenceRecord]:
        rows = await self.db.fetchall(
            "load_presence",
            "SELECT user_id, state, status_msg, last_active_ts, currently_active, stream_id FROM presence",
        )
        return [PresenceRecord(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    async def save(self, records: list[PresenceRecord]) -> None:
        """Upsert many records in one transaction."""
        rows = [
            (r.user_id, r.state, r.status_msg, r.last_active_ts, int(r.currently_active), r.stream_id)
            for r in records
        ]

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.executemany(
                "INSERT INTO presence (user_id, state, status_msg, last_active_ts, currently_active, stream_id)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET state = excluded.state,"
                " status_msg = excluded.status_msg, last_active_ts = excluded.last_active_ts,"
                " currently_active = excluded.currently_active, stream_id = excluded.stream_id",
                rows,
            )

        await self.db.write("save_presence", run)
