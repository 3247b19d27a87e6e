"""Push rules per user, notified events (push actions) and pushers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiosqlite
import orjson

from homeserver.storage.database import Database


@dataclass(frozen=True, slots=True)
class PushAction:
    """One event that notified one user."""

    user_id: str
    room_id: str
    stream_ordering: int
    event_id: str
    sender: str
    actions: list[Any]
    highlight: bool
    ts: int


class Notified(NamedTuple):
    """What an unread count needs of one notification."""

    stream_ordering: int
    highlight: bool
    sender: str


@dataclass(frozen=True, slots=True)
class Pusher:
    user_id: str
    app_id: str
    pushkey: str
    kind: str
    app_display_name: str
    device_display_name: str
    profile_tag: str | None
    lang: str
    data: dict[str, Any]
    device_id: str | None = None  # the device whose access token set it
    updated_ts: int = 0  # when it was last set (ms)

    def to_json(self) -> dict[str, Any]:
        """spec: pusher.yaml, GET /pushers item."""
        out: dict[str, Any] = {
            "pushkey": self.pushkey,
            "kind": self.kind,
            "app_id": self.app_id,
            "app_display_name": self.app_display_name,
            "device_display_name": self.device_display_name,
            "lang": self.lang,
            "data": self.data,
        }
        if self.profile_tag is not None:
            out["profile_tag"] = self.profile_tag
        return out


_PUSHER_COLUMNS = (
    "user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data,"
    " device_id"
)


class PushStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- push rules ----------------------------------------------------------------------
    async def all_user_rules(self) -> dict[str, dict[str, Any]]:
        rows = await self.db.fetchall("push_rules_all", "SELECT user_id, rules FROM push_rules_by_user")
        return {r[0]: orjson.loads(r[1]) for r in rows}

    async def put_user_rules(self, user_id: str, rules: dict[str, Any]) -> None:
        await self.db.execute(
            "put_push_rules",
            "INSERT INTO push_rules_by_user (user_id, rules) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET rules = excluded.rules",
            (user_id, orjson.dumps(rules).decode()),
        )

    # --- push actions ----------------------------------------------------------------------
    async def add_push_actions(self, actions: Sequence[PushAction]) -> None:
        rows = [
            (a.user_id, a.room_id, a.stream_ordering, a.event_id, a.sender, orjson.dumps(a.actions).decode(),
             int(a.highlight), a.ts)
            for a in actions
        ]

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.executemany(
                "INSERT OR IGNORE INTO event_push_actions"
                " (user_id, room_id, stream_ordering, event_id, sender, actions, highlight, ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

        await self.db.write("add_push_actions", run)

    async def delete_push_actions_for_events(self, event_ids: list[str]) -> list[tuple[str, str, int]]:
        """Forget the notifications of (redacted) events; returns (user, room, stream) of each."""

        async def run(conn: aiosqlite.Connection) -> list[tuple[str, str, int]]:
            found: list[tuple[str, str, int]] = []
            for event_id in event_ids:
                rows = await conn.execute_fetchall(
                    "SELECT user_id, room_id, stream_ordering FROM event_push_actions WHERE event_id = ?",
                    (event_id,),
                )
                found.extend((r[0], r[1], r[2]) for r in rows)
                await conn.execute("DELETE FROM event_push_actions WHERE event_id = ?", (event_id,))
            return found

        return await self.db.write("delete_push_actions", run)

    async def notified_after(self, user_id: str, room_id: str, after: int) -> list[Notified]:
        """The user's notifications in the room after ``after``, oldest first."""
        rows = await self.db.fetchall(
            "push_actions_after",
            "SELECT stream_ordering, highlight, sender FROM event_push_actions"
            " WHERE user_id = ? AND room_id = ? AND stream_ordering > ? ORDER BY stream_ordering",
            (user_id, room_id, after),
        )
        return [Notified(r[0], bool(r[1]), r[2]) for r in rows]

    async def last_sent_after(self, room_id: str, user_id: str, after: int) -> int | None:
        """Stream ordering of the user's latest event in the room after ``after``, if any."""
        value = await self.db.fetchval(
            "last_sent_after",
            "SELECT MAX(stream_ordering) FROM events WHERE room_id = ? AND stream_ordering > ? AND sender = ?",
            (room_id, after, user_id),
        )
        return None if value is None else int(value)

    async def notifications(
        self, user_id: str, before: int | None, limit: int, only_highlight: bool
    ) -> list[PushAction]:
        """The user's notifications, newest first, with stream_ordering < ``before``."""
        sql = (
            "SELECT user_id, room_id, stream_ordering, event_id, sender, actions, highlight, ts"
            " FROM event_push_actions WHERE user_id = ? AND stream_ordering < ?"
        )
        if only_highlight:
            sql += " AND highlight = 1"
        sql += " ORDER BY stream_ordering DESC LIMIT ?"
        upper = before if before is not None else 2**62
        rows = await self.db.fetchall("get_notifications", sql, (user_id, upper, limit))
        return [
            PushAction(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5]), bool(r[6]), r[7]) for r in rows
        ]

    # --- pushers ---------------------------------------------------------------------------
    async def pushers_for(self, user_id: str) -> list[Pusher]:
        rows = await self.db.fetchall(
            "get_pushers",
            f"SELECT {_PUSHER_COLUMNS}, created_ts FROM pushers WHERE user_id = ?"
            " ORDER BY created_ts, app_id, pushkey",
            (user_id,),
        )
        return [
            Pusher(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], orjson.loads(r[8]), r[9], r[10])
            for r in rows
        ]

    async def users_with_pushers(self, kind: str) -> set[str]:
        rows = await self.db.fetchall(
            "users_with_pushers", "SELECT DISTINCT user_id FROM pushers WHERE kind = ?", (kind,)
        )
        return {r[0] for r in rows}

    async def set_pusher(self, pusher: Pusher, created_ts: int, append: bool) -> None:
        """Create or update; without ``append`` other users' pushers with this app_id and pushkey go."""
        params = (
            pusher.user_id, pusher.app_id, pusher.pushkey, pusher.kind, pusher.app_display_name,
            pusher.device_display_name, pusher.profile_tag, pusher.lang,
            orjson.dumps(pusher.data).decode(), pusher.device_id, created_ts,
        )

        async def run(conn: aiosqlite.Connection) -> None:
            if not append:
                # spec: pusher.yaml, append — otherwise remove other users' pushers with this key.
                await conn.execute(
                    "DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?",
                    (pusher.app_id, pusher.pushkey, pusher.user_id),
                )
            await conn.execute(
                f"INSERT INTO pushers ({_PUSHER_COLUMNS}, created_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (app_id, pushkey, user_id) DO UPDATE SET kind = excluded.kind,"
                " device_id = excluded.device_id, created_ts = excluded.created_ts,"
                " app_display_name = excluded.app_display_name,"
                " device_display_name = excluded.device_display_name,"
                " profile_tag = excluded.profile_tag, lang = excluded.lang, data = excluded.data",
                params,
            )

        await self.db.write("set_pusher", run)

    async def delete_pushers_of_devices(self, user_id: str, device_ids: list[str]) -> None:
        await self.db.executemany(
            "delete_device_pushers",
            "DELETE FROM pushers WHERE user_id = ? AND device_id = ?",
            [(user_id, d) for d in device_ids],
        )

    async def delete_pusher(self, user_id: str, app_id: str, pushkey: str) -> None:
        await self.db.execute(
            "delete_pusher",
            "DELETE FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?",
            (user_id, app_id, pushkey),
        )
