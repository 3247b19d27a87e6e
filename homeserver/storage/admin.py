"""Storage for administration and moderation: listings for the admin API,
registration tokens, content reports, blocked rooms, IP bans, temporary bans
and server notice rooms (migration 007_admin.sql)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import aiosqlite

from homeserver.storage.accounts import UserRecord, _user
from homeserver.storage.database import Database


@dataclass(slots=True)
class RegistrationToken:
    token: str
    uses_allowed: int | None
    completed: int
    expiry_time: int | None


@dataclass(slots=True)
class ContentReport:
    id: int
    received_ts: int
    reporter: str
    room_id: str | None
    event_id: str | None
    reported_user_id: str | None
    reason: str | None
    score: int | None


@dataclass(slots=True)
class TemporaryBan:
    room_id: str
    user_id: str
    banned_by: str
    reason: str | None
    expires_ts: int


@dataclass(slots=True)
class RoomSummaryRow:
    """One room as the admin room list sees it (current state, from SQL)."""

    room_id: str
    version: str
    creator: str | None
    is_public: bool
    joined_members: int
    joined_local_members: int
    state_events: int
    name: str | None
    canonical_alias: str | None
    join_rules: str | None
    guest_access: str | None
    history_visibility: str | None
    encryption: str | None
    room_type: str | None
    federatable: bool


def _token(row: sqlite3.Row) -> RegistrationToken:
    return RegistrationToken(row["token"], row["uses_allowed"], row["completed"], row["expiry_time"])


def _report(row: sqlite3.Row) -> ContentReport:
    return ContentReport(
        row["id"], row["received_ts"], row["reporter"], row["room_id"], row["event_id"],
        row["reported_user_id"], row["reason"], row["score"],
    )


def _temp_ban(row: sqlite3.Row) -> TemporaryBan:
    return TemporaryBan(row["room_id"], row["user_id"], row["banned_by"], row["reason"], row["expires_ts"])


FEDERATE_PATH = '$.content."m.federate"'


def _state_value(key_type: str, path: str) -> str:
    """A sub-select of one JSON field of a current-state event of room r."""
    return (
        f"(SELECT json_extract(e.json, '{path}') FROM current_state cs JOIN events e"
        f" ON e.event_id = cs.event_id WHERE cs.room_id = r.room_id AND cs.type = '{key_type}'"
        " AND cs.state_key = '')"
    )


class AdminStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- users -------------------------------------------------------------------
    async def list_users(
        self, *, offset: int, limit: int, name: str | None, include_deactivated: bool,
        admins: bool | None,
    ) -> tuple[list[UserRecord], int]:
        clauses: list[str] = []
        params: list[Any] = []
        if name:
            clauses.append("(instr(lower(user_id), lower(?)) > 0 OR instr(lower(coalesce(displayname, '')), lower(?)) > 0)")
            params += [name, name]
        if not include_deactivated:
            clauses.append("deactivated = 0")
        if admins is not None:
            clauses.append("is_admin = ?")
            params.append(int(admins))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        total = int(await self.db.fetchval("admin_count_users", f"SELECT COUNT(*) FROM users{where}", params))
        rows = await self.db.fetchall(
            "admin_list_users",
            f"SELECT * FROM users{where} ORDER BY user_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_user(r) for r in rows], total

    async def count_devices(self, user_id: str) -> int:
        return int(
            await self.db.fetchval("admin_count_devices", "SELECT COUNT(*) FROM devices WHERE user_id = ?", (user_id,))
        )

    # --- rooms -------------------------------------------------------------------------
    async def room_summaries(self, server_name: str, room_id: str | None = None) -> list[RoomSummaryRow]:
        local_suffix = f"%:{server_name}"
        where = " WHERE r.room_id = ?" if room_id is not None else ""
        rows = await self.db.fetchall(
            "admin_room_summaries",
            "SELECT r.room_id, r.room_version, r.creator, r.is_public,"
            " (SELECT COUNT(*) FROM room_memberships m WHERE m.room_id = r.room_id AND m.membership = 'join')"
            " AS joined_members,"
            " (SELECT COUNT(*) FROM room_memberships m WHERE m.room_id = r.room_id AND m.membership = 'join'"
            "  AND m.user_id LIKE ?) AS joined_local_members,"
            " (SELECT COUNT(*) FROM current_state cs WHERE cs.room_id = r.room_id) AS state_events,"
            f" {_state_value('m.room.name', '$.content.name')} AS name,"
            f" {_state_value('m.room.canonical_alias', '$.content.alias')} AS canonical_alias,"
            f" {_state_value('m.room.join_rules', '$.content.join_rule')} AS join_rules,"
            f" {_state_value('m.room.guest_access', '$.content.guest_access')} AS guest_access,"
            f" {_state_value('m.room.history_visibility', '$.content.history_visibility')} AS history_visibility,"
            f" {_state_value('m.room.encryption', '$.content.algorithm')} AS encryption,"
            f" {_state_value('m.room.create', '$.content.type')} AS room_type,"
            f" {_state_value('m.room.create', FEDERATE_PATH)} AS federate,"
            f" {_state_value('m.room.create', '$.sender')} AS create_sender"
            f" FROM rooms r{where}",
            (local_suffix, room_id) if room_id is not None else (local_suffix,),
        )
        return [
            RoomSummaryRow(
                room_id=r["room_id"], version=r["room_version"],
                creator=r["creator"] or r["create_sender"], is_public=bool(r["is_public"]),
                joined_members=r["joined_members"], joined_local_members=r["joined_local_members"],
                state_events=r["state_events"], name=r["name"], canonical_alias=r["canonical_alias"],
                join_rules=r["join_rules"], guest_access=r["guest_access"],
                history_visibility=r["history_visibility"], encryption=r["encryption"],
                room_type=r["room_type"], federatable=r["federate"] != 0,
            )
            for r in rows
        ]

    async def event_ids_since(self, room_id: str, since_ts: int, limit: int) -> list[str]:
        """Event IDs of a room sent at or after since_ts (origin_server_ts), oldest first."""
        rows = await self.db.fetchall(
            "admin_events_since",
            "SELECT event_id FROM events WHERE room_id = ? AND outlier = 0 AND origin_server_ts >= ?"
            " ORDER BY stream_ordering LIMIT ?",
            (room_id, since_ts, limit),
        )
        return [r[0] for r in rows]

    # --- registration tokens -------------------------------------------------------------
    async def list_registration_tokens(self) -> list[RegistrationToken]:
        rows = await self.db.fetchall("list_registration_tokens", "SELECT * FROM registration_tokens ORDER BY token")
        return [_token(r) for r in rows]

    async def get_registration_token(self, token: str) -> RegistrationToken | None:
        row = await self.db.fetchone(
            "get_registration_token", "SELECT * FROM registration_tokens WHERE token = ?", (token,)
        )
        return _token(row) if row else None

    async def create_registration_token(self, token: str, uses_allowed: int | None, expiry_time: int | None) -> bool:
        async def run(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO registration_tokens (token, uses_allowed, expiry_time) VALUES (?, ?, ?)",
                (token, uses_allowed, expiry_time),
            )
            return cur.rowcount == 1

        return await self.db.write("create_registration_token", run)

    async def update_registration_token(self, token: str, fields: dict[str, int | None]) -> None:
        assignments = ", ".join(f"{k} = ?" for k in fields if k in ("uses_allowed", "expiry_time"))
        if not assignments:
            return
        await self.db.execute(
            "update_registration_token",
            f"UPDATE registration_tokens SET {assignments} WHERE token = ?",
            (*fields.values(), token),
        )

    async def delete_registration_token(self, token: str) -> bool:
        async def run(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute("DELETE FROM registration_tokens WHERE token = ?", (token,))
            return cur.rowcount == 1

        return await self.db.write("delete_registration_token", run)

    async def complete_registration_token(self, token: str) -> None:
        await self.db.execute(
            "complete_registration_token",
            "UPDATE registration_tokens SET completed = completed + 1 WHERE token = ?",
            (token,),
        )

    async def count_registration_tokens(self) -> int:
        return int(await self.db.fetchval("count_registration_tokens", "SELECT COUNT(*) FROM registration_tokens"))

    # --- content reports -------------------------------------------------------------------
    async def add_report(
        self, *, reporter: str, received_ts: int, room_id: str | None, event_id: str | None,
        reported_user_id: str | None, reason: str | None, score: int | None,
    ) -> int:
        async def run(conn: aiosqlite.Connection) -> int:
            cur = await conn.execute(
                "INSERT INTO content_reports (received_ts, reporter, room_id, event_id, reported_user_id,"
                " reason, score) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (received_ts, reporter, room_id, event_id, reported_user_id, reason, score),
            )
            return int(cur.lastrowid or 0)

        return await self.db.write("add_report", run)

    async def list_reports(
        self, *, offset: int, limit: int, newest_first: bool, room_id: str | None, reporter: str | None,
        events_only: bool,
    ) -> tuple[list[ContentReport], int]:
        clauses: list[str] = []
        params: list[Any] = []
        if events_only:
            clauses.append("event_id IS NOT NULL")
        if room_id is not None:
            clauses.append("room_id = ?")
            params.append(room_id)
        if reporter is not None:
            clauses.append("reporter = ?")
            params.append(reporter)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        total = int(await self.db.fetchval("count_reports", f"SELECT COUNT(*) FROM content_reports{where}", params))
        rows = await self.db.fetchall(
            "list_reports",
            f"SELECT * FROM content_reports{where} ORDER BY id {'DESC' if newest_first else 'ASC'} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_report(r) for r in rows], total

    async def get_report(self, report_id: int) -> ContentReport | None:
        row = await self.db.fetchone("get_report", "SELECT * FROM content_reports WHERE id = ?", (report_id,))
        return _report(row) if row else None

    async def delete_report(self, report_id: int) -> bool:
        async def run(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute("DELETE FROM content_reports WHERE id = ?", (report_id,))
            return cur.rowcount == 1

        return await self.db.write("delete_report", run)

    # --- blocked rooms --------------------------------------------------------------------------
    async def blocked_rooms(self) -> dict[str, str]:
        rows = await self.db.fetchall("blocked_rooms", "SELECT room_id, blocked_by FROM blocked_rooms")
        return {r[0]: r[1] for r in rows}

    async def block_room(self, room_id: str, blocked_by: str, ts: int) -> None:
        await self.db.execute(
            "block_room",
            "INSERT OR REPLACE INTO blocked_rooms (room_id, blocked_by, blocked_ts) VALUES (?, ?, ?)",
            (room_id, blocked_by, ts),
        )

    async def unblock_room(self, room_id: str) -> None:
        await self.db.execute("unblock_room", "DELETE FROM blocked_rooms WHERE room_id = ?", (room_id,))

    # --- IP bans -----------------------------------------------------------------------------------
    async def ip_bans(self) -> list[tuple[str, str | None, int]]:
        rows = await self.db.fetchall("ip_bans", "SELECT address, reason, created_ts FROM ip_bans ORDER BY address")
        return [(r[0], r[1], r[2]) for r in rows]

    async def add_ip_ban(self, address: str, reason: str | None, ts: int) -> None:
        await self.db.execute(
            "add_ip_ban", "INSERT OR REPLACE INTO ip_bans (address, reason, created_ts) VALUES (?, ?, ?)",
            (address, reason, ts),
        )

    async def remove_ip_ban(self, address: str) -> bool:
        async def run(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute("DELETE FROM ip_bans WHERE address = ?", (address,))
            return cur.rowcount == 1

        return await self.db.write("remove_ip_ban", run)

    # --- temporary bans -------------------------------------------------------------------------------
    async def temporary_bans(self) -> list[TemporaryBan]:
        rows = await self.db.fetchall("temporary_bans", "SELECT * FROM temporary_bans ORDER BY expires_ts")
        return [_temp_ban(r) for r in rows]

    async def put_temporary_ban(self, ban: TemporaryBan) -> None:
        await self.db.execute(
            "put_temporary_ban",
            "INSERT OR REPLACE INTO temporary_bans (room_id, user_id, banned_by, reason, expires_ts)"
            " VALUES (?, ?, ?, ?, ?)",
            (ban.room_id, ban.user_id, ban.banned_by, ban.reason, ban.expires_ts),
        )

    async def delete_temporary_ban(self, room_id: str, user_id: str) -> None:
        await self.db.execute(
            "delete_temporary_ban", "DELETE FROM temporary_bans WHERE room_id = ? AND user_id = ?", (room_id, user_id)
        )

    # --- server notices ------------------------------------------------------------------------------
    async def get_server_notice_room(self, user_id: str) -> str | None:
        return await self.db.fetchval(
            "get_server_notice_room", "SELECT room_id FROM server_notice_rooms WHERE user_id = ?", (user_id,)
        )

    async def set_server_notice_room(self, user_id: str, room_id: str) -> None:
        await self.db.execute(
            "set_server_notice_room",
            "INSERT OR REPLACE INTO server_notice_rooms (user_id, room_id) VALUES (?, ?)",
            (user_id, room_id),
        )

    async def server_notice_room_ids(self) -> set[str]:
        rows = await self.db.fetchall("server_notice_room_ids", "SELECT room_id FROM server_notice_rooms")
        return {r[0] for r in rows}
