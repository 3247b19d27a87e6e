"""MSC4140 delayed events: what clients scheduled, until it is sent or cancelled."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import aiosqlite
import orjson

from homeserver.storage.database import Database

_COLUMNS = "delay_id, user_id, device_id, room_id, event_type, state_key, content, delay_ms, send_ts"


@dataclass(frozen=True, slots=True)
class DelayedEvent:
    delay_id: str
    user_id: str
    device_id: str | None
    room_id: str
    event_type: str
    state_key: str | None
    content: dict[str, Any]
    delay_ms: int
    send_ts: int


def _row(row: sqlite3.Row) -> DelayedEvent:
    return DelayedEvent(
        delay_id=row["delay_id"], user_id=row["user_id"], device_id=row["device_id"],
        room_id=row["room_id"], event_type=row["event_type"], state_key=row["state_key"],
        content=orjson.loads(row["content"]), delay_ms=row["delay_ms"], send_ts=row["send_ts"],
    )


class DelayedEventStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, event: DelayedEvent) -> None:
        await self.db.execute(
            "add_delayed_event",
            f"INSERT INTO delayed_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event.delay_id, event.user_id, event.device_id, event.room_id, event.event_type,
             event.state_key, orjson.dumps(event.content).decode(), event.delay_ms, event.send_ts),
        )

    async def restart(self, delay_id: str, user_id: str, now_ms: int) -> bool:
        """Set the send time to ``now_ms`` + its delay; False if the user has no such event."""

        async def run(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute(
                "UPDATE delayed_events SET send_ts = ? + delay_ms WHERE delay_id = ? AND user_id = ?",
                (now_ms, delay_id, user_id),
            )
            return cur.rowcount > 0

        return await self.db.write("restart_delayed_event", run)

    async def take(self, delay_id: str, user_id: str | None = None) -> DelayedEvent | None:
        """Remove one event and return it, or None if it is gone (already sent or cancelled).

        Removing is how a sender claims an event, so it is sent (or cancelled) at most once.
        """

        async def run(conn: aiosqlite.Connection) -> DelayedEvent | None:
            sql = f"SELECT {_COLUMNS} FROM delayed_events WHERE delay_id = ?"
            params: tuple[str, ...] = (delay_id,)
            if user_id is not None:
                sql += " AND user_id = ?"
                params = (delay_id, user_id)
            cur = await conn.execute(sql, params)
            row = await cur.fetchone()
            if row is None:
                return None
            await conn.execute("DELETE FROM delayed_events WHERE delay_id = ?", (delay_id,))
            return _row(row)

        return await self.db.write("take_delayed_event", run)

    async def take_state(
        self, room_id: str, event_type: str, state_key: str, not_from_user: str
    ) -> list[DelayedEvent]:
        """Remove and return the scheduled state events for one piece of a room's state,
        except those of ``not_from_user``."""

        async def run(conn: aiosqlite.Connection) -> list[DelayedEvent]:
            where = "WHERE room_id = ? AND event_type = ? AND state_key = ? AND user_id != ?"
            params = (room_id, event_type, state_key, not_from_user)
            cur = await conn.execute(f"SELECT {_COLUMNS} FROM delayed_events {where}", params)
            rows = [_row(r) for r in await cur.fetchall()]
            if rows:
                await conn.execute(f"DELETE FROM delayed_events {where}", params)
            return rows

        return await self.db.write("take_delayed_state_events", run)

    async def count_for_user(self, user_id: str) -> int:
        value = await self.db.fetchval(
            "count_delayed_events", "SELECT COUNT(*) FROM delayed_events WHERE user_id = ?", (user_id,)
        )
        return int(value or 0)

    async def for_user(self, user_id: str) -> list[DelayedEvent]:
        rows = await self.db.fetchall(
            "delayed_events_for_user",
            f"SELECT {_COLUMNS} FROM delayed_events WHERE user_id = ? ORDER BY send_ts, delay_id",
            (user_id,),
        )
        return [_row(r) for r in rows]

    async def due(self, now_ms: int) -> list[DelayedEvent]:
        rows = await self.db.fetchall(
            "due_delayed_events",
            f"SELECT {_COLUMNS} FROM delayed_events WHERE send_ts <= ? ORDER BY send_ts, delay_id",
            (now_ms,),
        )
        return [_row(r) for r in rows]

    async def next_send_ts(self) -> int | None:
        value = await self.db.fetchval("next_delayed_event_ts", "SELECT MIN(send_ts) FROM delayed_events")
        return None if value is None else int(value)
