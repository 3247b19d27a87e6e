"""Push rules per user, notified events (push actions) and pushers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiosqlite
import orjson

from homeserver.storage.database import Database

_ROOMS_PER_STATEMENT = 100  # SQLite allows 500 terms in a compound SELECT
MAIN_THREAD = "main"  # spec: client-server-api, "Threaded read receipts": the main timeline


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
    thread_id: str = MAIN_THREAD


class Notified(NamedTuple):
    """What an unread count needs of one notification."""

    stream_ordering: int
    highlight: bool
    sender: str
    thread_id: str = MAIN_THREAD


@dataclass(slots=True)
class EventNotifications:
    """Everyone one event notified: one row of ``event_notifications``.

    ``groups`` holds (actions, highlight, user IDs); members whose rules matched the
    same way share a group, so a 1,000-member room usually has one or two.
    """

    room_id: str
    stream_ordering: int
    event_id: str
    sender: str
    thread_id: str
    ts: int
    groups: list[tuple[list[Any], bool, list[str]]]

    def row(self) -> tuple[int, str, str, str, str, int, str, str, str]:
        actions = [group[0] for group in self.groups]
        notified = [group[2] for group in self.groups]
        highlighted = [u for _, highlight, users in self.groups if highlight for u in users]
        return (
            self.stream_ordering, self.room_id, self.event_id, self.sender, self.thread_id, self.ts,
            orjson.dumps(actions).decode(), orjson.dumps(notified).decode(), orjson.dumps(highlighted).decode(),
        )


def _actions_of(actions_json: str, notified_json: str, user_id: str) -> list[Any] | None:
    """The user's actions in a packed row, or None if the row did not notify them."""
    for actions, users in zip(orjson.loads(actions_json), orjson.loads(notified_json), strict=True):
        if user_id in users:
            found: list[Any] = actions
            return found
    return None


def _quoted(user_id: str) -> str:
    """The user ID as a JSON string. ``notified`` and ``highlighted`` hold nothing but
    JSON strings of local user IDs (no quotes or backslashes in them), so instr() of
    this finds exactly the rows that name the user."""
    return orjson.dumps(user_id).decode()


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

    # --- notifications (one row per notifying event) ---------------------------------
    async def add_event_notifications(self, events: Sequence[EventNotifications]) -> None:
        rows = [e.row() for e in events]

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.executemany(
                "INSERT OR IGNORE INTO event_notifications (stream_ordering, room_id, event_id, sender,"
                " thread_id, ts, actions, notified, highlighted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

        await self.db.write("add_event_notifications", run)

    async def delete_notifications_for_events(self, event_ids: list[str]) -> list[tuple[str, str, int]]:
        """Forget the notifications of (redacted) events; returns (user, room, stream) of each."""

        async def run(conn: aiosqlite.Connection) -> list[tuple[str, str, int]]:
            found: list[tuple[str, str, int]] = []
            for event_id in event_ids:
                rows = await conn.execute_fetchall(
                    "SELECT room_id, stream_ordering, notified FROM event_notifications WHERE event_id = ?",
                    (event_id,),
                )
                for room_id, stream, notified in rows:
                    found.extend((user_id, room_id, stream) for users in orjson.loads(notified) for user_id in users)
                await conn.execute("DELETE FROM event_notifications WHERE event_id = ?", (event_id,))
            return found

        return await self.db.write("delete_event_notifications", run)

    async def notified_after(self, user_id: str, room_id: str, after: int) -> list[Notified]:
        """The user's notifications in the room after ``after``, oldest first (no JSON decoding:
        a load after a restart may cover many rows of big rooms)."""
        quoted = _quoted(user_id)
        rows = await self.db.fetchall(
            "notified_after",
            "SELECT stream_ordering, instr(highlighted, ?) > 0, sender, thread_id FROM event_notifications"
            " WHERE room_id = ? AND stream_ordering > ? AND instr(notified, ?) > 0 ORDER BY stream_ordering",
            (quoted, room_id, after, quoted),
        )
        return [Notified(r[0], bool(r[1]), r[2], r[3]) for r in rows]

    async def read_positions(self, room_id: str, user_id: str) -> dict[str, int]:
        """thread_id ('' unthreaded, 'main', a thread root) -> stream ordering its latest
        m.read/m.read.private receipt marks. spec: client-server-api, "Threaded read receipts"."""
        rows = await self.db.fetchall(
            "receipt_read_positions",
            "SELECT r.thread_id, MAX(e.stream_ordering) FROM receipts r JOIN events e ON e.event_id = r.event_id"
            " WHERE r.user_id = ? AND r.room_id = ? AND r.receipt_type IN ('m.read', 'm.read.private')"
            " GROUP BY r.thread_id",
            (user_id, room_id),
        )
        return {r[0]: int(r[1]) for r in rows if r[1] is not None}

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
        """The user's notifications, newest first, with stream_ordering < ``before``.

        Rows are per event, so the user's are found in the rooms they have a membership
        in (invites included): in each room the index is walked newest first until
        ``limit`` rows naming the user are found (rooms in one compound statement per
        chunk), and the newest ``limit`` of all are kept.
        """
        column = "highlighted" if only_highlight else "notified"
        rooms = [r[0] for r in await self.db.fetchall(
            "notification_rooms", "SELECT DISTINCT room_id FROM room_memberships WHERE user_id = ?", (user_id,)
        )]
        arm = (
            "SELECT * FROM (SELECT room_id, stream_ordering, event_id, sender, thread_id, ts, actions, notified,"
            " instr(highlighted, ?) > 0"
            f" FROM event_notifications WHERE room_id = ? AND stream_ordering < ? AND instr({column}, ?) > 0"
            " ORDER BY stream_ordering DESC LIMIT ?)"
        )
        quoted = _quoted(user_id)
        upper = before if before is not None else 2**62
        rows: list[Any] = []
        for i in range(0, len(rooms), _ROOMS_PER_STATEMENT):
            chunk = rooms[i : i + _ROOMS_PER_STATEMENT]
            sql = " UNION ALL ".join([arm] * len(chunk))
            params = [p for room_id in chunk for p in (quoted, room_id, upper, quoted, limit)]
            rows.extend(await self.db.fetchall("get_notifications", sql, params))
        rows.sort(key=lambda r: r[1], reverse=True)
        found: list[PushAction] = []
        for room_id, stream, event_id, sender, thread_id, ts, actions, notified, highlight in rows[:limit]:
            user_actions = _actions_of(actions, notified, user_id)
            if user_actions is not None:
                found.append(PushAction(user_id, room_id, stream, event_id, sender, user_actions,
                                        bool(highlight), ts, thread_id))
        return found

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
