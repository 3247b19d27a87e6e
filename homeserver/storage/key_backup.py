"""Server-side key backup: backup versions and the encrypted session keys in them.

spec: client-server-api/modules/end_to_end_encryption.md, "Server-side key backups".
The server never sees a room key: ``session_data`` is the client's ciphertext.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiosqlite
import orjson

from homeserver.storage.database import Database


@dataclass(frozen=True, slots=True)
class BackupVersion:
    version: int
    algorithm: str
    auth_data: dict[str, Any]
    etag: int


@dataclass(frozen=True, slots=True)
class BackedUpSession:
    room_id: str
    session_id: str
    first_message_index: int
    forwarded_count: int
    is_verified: bool
    session_data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "first_message_index": self.first_message_index,
            "forwarded_count": self.forwarded_count,
            "is_verified": self.is_verified,
            "session_data": self.session_data,
        }


def _session_from_row(row: Any) -> BackedUpSession:
    return BackedUpSession(row[0], row[1], int(row[2]), int(row[3]), bool(row[4]), orjson.loads(row[5]))


class KeyBackupStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- versions ---------------------------------------------------------------------------
    async def create_version(self, user_id: str, algorithm: str, auth_data: dict[str, Any]) -> int:
        async def run(conn: aiosqlite.Connection) -> int:
            # Version numbers are never reused, even after a deletion.
            cur = await conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM room_key_backup_versions WHERE user_id = ?",
                (user_id,),
            )
            row = await cur.fetchone()
            version = int(row[0]) if row is not None else 1
            await conn.execute(
                "INSERT INTO room_key_backup_versions (user_id, version, algorithm, auth_data)"
                " VALUES (?, ?, ?, ?)",
                (user_id, version, algorithm, orjson.dumps(auth_data).decode()),
            )
            return version

        return await self.db.write("create_backup_version", run)

    async def get_version(self, user_id: str, version: int | None) -> BackupVersion | None:
        """The given version, or the latest one when ``version`` is None (deleted ones excluded)."""
        if version is None:
            row = await self.db.fetchone(
                "get_latest_backup_version",
                "SELECT version, algorithm, auth_data, etag FROM room_key_backup_versions"
                " WHERE user_id = ? AND deleted = 0 ORDER BY version DESC LIMIT 1",
                (user_id,),
            )
        else:
            row = await self.db.fetchone(
                "get_backup_version",
                "SELECT version, algorithm, auth_data, etag FROM room_key_backup_versions"
                " WHERE user_id = ? AND version = ? AND deleted = 0",
                (user_id, version),
            )
        if row is None:
            return None
        return BackupVersion(int(row[0]), row[1], orjson.loads(row[2]), int(row[3]))

    async def update_auth_data(self, user_id: str, version: int, auth_data: dict[str, Any]) -> None:
        await self.db.execute(
            "update_backup_version",
            "UPDATE room_key_backup_versions SET auth_data = ? WHERE user_id = ? AND version = ?",
            (orjson.dumps(auth_data).decode(), user_id, version),
        )

    async def delete_version(self, user_id: str, version: int) -> None:
        async def run(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "UPDATE room_key_backup_versions SET deleted = 1 WHERE user_id = ? AND version = ?",
                (user_id, version),
            )
            await conn.execute(
                "DELETE FROM room_key_backup_sessions WHERE user_id = ? AND version = ?", (user_id, version)
            )

        await self.db.write("delete_backup_version", run)

    async def count(self, user_id: str, version: int) -> int:
        value = await self.db.fetchval(
            "count_backup_sessions",
            "SELECT COUNT(*) FROM room_key_backup_sessions WHERE user_id = ? AND version = ?",
            (user_id, version),
        )
        return int(value or 0)

    # --- sessions ---------------------------------------------------------------------------
    async def get_sessions(
        self, user_id: str, version: int, room_id: str | None = None, session_id: str | None = None
    ) -> list[BackedUpSession]:
        sql = (
            "SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, session_data"
            " FROM room_key_backup_sessions WHERE user_id = ? AND version = ?"
        )
        params: list[Any] = [user_id, version]
        if room_id is not None:
            sql += " AND room_id = ?"
            params.append(room_id)
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        rows = await self.db.fetchall("get_backup_sessions", sql, params)
        return [_session_from_row(r) for r in rows]

    async def put_sessions(self, user_id: str, version: int, sessions: list[BackedUpSession]) -> None:
        """Store sessions (already chosen over the ones they replace) and bump the etag."""

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.executemany(
                "INSERT INTO room_key_backup_sessions (user_id, version, room_id, session_id,"
                " first_message_index, forwarded_count, is_verified, session_data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, version, room_id, session_id)"
                " DO UPDATE SET first_message_index = excluded.first_message_index,"
                " forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified,"
                " session_data = excluded.session_data",
                [
                    (user_id, version, s.room_id, s.session_id, s.first_message_index, s.forwarded_count,
                     int(s.is_verified), orjson.dumps(s.session_data).decode())
                    for s in sessions
                ],
            )
            await self._bump_etag(conn, user_id, version)

        await self.db.write("put_backup_sessions", run)

    async def delete_sessions(
        self, user_id: str, version: int, room_id: str | None = None, session_id: str | None = None
    ) -> None:
        sql = "DELETE FROM room_key_backup_sessions WHERE user_id = ? AND version = ?"
        params: list[Any] = [user_id, version]
        if room_id is not None:
            sql += " AND room_id = ?"
            params.append(room_id)
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)

        async def run(conn: aiosqlite.Connection) -> None:
            cur = await conn.execute(sql, params)
            if cur.rowcount:
                await self._bump_etag(conn, user_id, version)

        await self.db.write("delete_backup_sessions", run)

    @staticmethod
    async def _bump_etag(conn: aiosqlite.Connection, user_id: str, version: int) -> None:
        await conn.execute(
            "UPDATE room_key_backup_versions SET etag = etag + 1 WHERE user_id = ? AND version = ?",
            (user_id, version),
        )
