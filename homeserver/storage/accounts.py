"""Users, devices and access tokens."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import aiosqlite

from homeserver.storage.database import Database


@dataclass(slots=True)
class UserRecord:
    user_id: str
    password_hash: str | None
    created_ts: int
    is_admin: bool
    deactivated: bool
    displayname: str | None
    avatar_url: str | None


@dataclass(slots=True)
class DeviceRecord:
    user_id: str
    device_id: str
    display_name: str | None
    last_seen_ts: int | None
    last_seen_ip: str | None


@dataclass(slots=True)
class AccessTokenRecord:
    user_id: str
    device_id: str
    # Set only for tokens issued with a refresh token (spec: "Refreshing access tokens").
    expires_ts: int | None
    refresh_token_hash: bytes | None


def _user(row: sqlite3.Row) -> UserRecord:
    return UserRecord(
        user_id=row["user_id"],
        password_hash=row["password_hash"],
        created_ts=row["created_ts"],
        is_admin=bool(row["is_admin"]),
        deactivated=bool(row["deactivated"]),
        displayname=row["displayname"],
        avatar_url=row["avatar_url"],
    )


def _device(row: sqlite3.Row) -> DeviceRecord:
    return DeviceRecord(
        row["user_id"], row["device_id"], row["display_name"], row["last_seen_ts"], row["last_seen_ip"]
    )


class AccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- users ---------------------------------------------------------------
    async def create_user(
        self, user_id: str, password_hash: str | None, created_ts: int, displayname: str | None,
        is_admin: bool = False,
    ) -> bool:
        """Insert a user; False if the ID is taken."""

        async def run(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO users (user_id, password_hash, created_ts, displayname, is_admin)"
                " VALUES (?, ?, ?, ?, ?)",
                (user_id, password_hash, created_ts, displayname, int(is_admin)),
            )
            return cur.rowcount == 1

        return await self.db.write("create_user", run)

    async def get_user(self, user_id: str) -> UserRecord | None:
        row = await self.db.fetchone("get_user", "SELECT * FROM users WHERE user_id = ?", (user_id,))
        return _user(row) if row else None

    async def get_user_case_insensitive(self, user_id: str) -> list[UserRecord]:
        rows = await self.db.fetchall(
            "get_user_ci", "SELECT * FROM users WHERE lower(user_id) = lower(?)", (user_id,)
        )
        return [_user(r) for r in rows]

    async def set_password_hash(self, user_id: str, password_hash: str | None) -> None:
        await self.db.execute(
            "set_password_hash",
            "UPDATE users SET password_hash = ? WHERE user_id = ?",
            (password_hash, user_id),
        )

    async def set_deactivated(self, user_id: str, deactivated: bool) -> None:
        await self.db.execute(
            "set_deactivated",
            "UPDATE users SET deactivated = ?, password_hash = CASE WHEN ? THEN NULL ELSE password_hash END"
            " WHERE user_id = ?",
            (int(deactivated), int(deactivated), user_id),
        )

    async def set_admin(self, user_id: str, is_admin: bool) -> None:
        await self.db.execute(
            "set_admin", "UPDATE users SET is_admin = ? WHERE user_id = ?", (int(is_admin), user_id)
        )

    async def set_profile_field(self, user_id: str, field: str, value: str | None) -> None:
        if field not in ("displayname", "avatar_url"):
            raise ValueError(field)
        await self.db.execute(
            "set_profile", f"UPDATE users SET {field} = ? WHERE user_id = ?", (value, user_id)
        )

    async def count_users(self) -> int:
        return int(await self.db.fetchval("count_users", "SELECT COUNT(*) FROM users"))

    # --- devices -----------------------------------------------------------------
    async def upsert_device(
        self, user_id: str, device_id: str, display_name: str | None, ts: int, ip: str | None
    ) -> None:
        await self.db.execute(
            "upsert_device",
            "INSERT INTO devices (user_id, device_id, display_name, last_seen_ts, last_seen_ip)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, device_id) DO UPDATE SET"
            " display_name = COALESCE(excluded.display_name, display_name),"
            " last_seen_ts = excluded.last_seen_ts, last_seen_ip = excluded.last_seen_ip",
            (user_id, device_id, display_name, ts, ip),
        )

    async def get_device(self, user_id: str, device_id: str) -> DeviceRecord | None:
        row = await self.db.fetchone(
            "get_device",
            "SELECT * FROM devices WHERE user_id = ? AND device_id = ?",
            (user_id, device_id),
        )
        return _device(row) if row else None

    async def list_devices(self, user_id: str) -> list[DeviceRecord]:
        rows = await self.db.fetchall(
            "list_devices", "SELECT * FROM devices WHERE user_id = ? ORDER BY device_id", (user_id,)
        )
        return [_device(r) for r in rows]

    async def rename_device(self, user_id: str, device_id: str, display_name: str | None) -> None:
        await self.db.execute(
            "rename_device",
            "UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?",
            (display_name, user_id, device_id),
        )

    async def delete_devices(self, user_id: str, device_ids: list[str]) -> list[bytes]:
        """Delete devices and their tokens; returns the deleted token hashes."""

        async def run(conn: aiosqlite.Connection) -> list[bytes]:
            hashes: list[bytes] = []
            for device_id in device_ids:
                rows = await conn.execute_fetchall(
                    "SELECT token_hash FROM access_tokens WHERE user_id = ? AND device_id = ?",
                    (user_id, device_id),
                )
                hashes.extend(r[0] for r in rows)
            await conn.executemany(
                "DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?",
                [(user_id, d) for d in device_ids],
            )
            await conn.executemany(
                "DELETE FROM refresh_tokens WHERE user_id = ? AND device_id = ?",
                [(user_id, d) for d in device_ids],
            )
            await conn.executemany(
                "DELETE FROM devices WHERE user_id = ? AND device_id = ?",
                [(user_id, d) for d in device_ids],
            )
            return hashes

        return await self.db.write("delete_devices", run)

    # --- access tokens -------------------------------------------------------------
    async def add_access_token(
        self,
        token_hash: bytes,
        user_id: str,
        device_id: str,
        ts: int,
        *,
        expires_ts: int | None = None,
        refresh_token_hash: bytes | None = None,
    ) -> None:
        """Store an access token; with ``refresh_token_hash`` the refresh token too."""

        async def run(conn: aiosqlite.Connection) -> None:
            if refresh_token_hash is not None:
                await conn.execute(
                    "INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts)"
                    " VALUES (?, ?, ?, ?)",
                    (refresh_token_hash, user_id, device_id, ts),
                )
            await conn.execute(
                "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts,"
                " refresh_token_hash) VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash, user_id, device_id, ts, expires_ts, refresh_token_hash),
            )

        await self.db.write("add_access_token", run)

    async def get_access_token(self, token_hash: bytes) -> AccessTokenRecord | None:
        row = await self.db.fetchone(
            "get_access_token",
            "SELECT user_id, device_id, expires_ts, refresh_token_hash FROM access_tokens"
            " WHERE token_hash = ?",
            (token_hash,),
        )
        return AccessTokenRecord(row[0], row[1], row[2], row[3]) if row else None

    async def retire_replaced_refresh_token(self, successor_hash: bytes) -> None:
        """The access token of ``successor_hash`` was used: the refresh token it replaced ends.

        spec: "Refreshing access tokens" — the old refresh token remains valid until
        the new access token (or refresh token) is used.
        """
        await self.db.execute(
            "retire_replaced_refresh_token",
            "DELETE FROM refresh_tokens WHERE replaced_by = ?",
            (successor_hash,),
        )

    async def rotate_refresh_token(
        self,
        refresh_token_hash: bytes,
        new_access_hash: bytes,
        new_refresh_hash: bytes,
        ts: int,
        expires_ts: int,
    ) -> tuple[str, str, list[bytes]] | None:
        """Exchange a refresh token for a new access/refresh pair, in one transaction.

        None if the refresh token is unknown (never issued, revoked or retired).
        Otherwise (user_id, device_id, revoked access token hashes): the access token
        issued with the old refresh token stops working, and so does a pair issued by an
        earlier use of this same refresh token whose access token was never used.
        """

        async def run(conn: aiosqlite.Connection) -> tuple[str, str, list[bytes]] | None:
            rows = list(await conn.execute_fetchall(
                "SELECT user_id, device_id, replaced_by FROM refresh_tokens WHERE token_hash = ?",
                (refresh_token_hash,),
            ))
            if not rows:
                return None
            user_id, device_id, earlier_successor = rows[0]
            superseded = [refresh_token_hash]
            if earlier_successor is not None:
                superseded.append(earlier_successor)
                await conn.execute(
                    "DELETE FROM refresh_tokens WHERE token_hash = ?", (earlier_successor,)
                )
            revoked: list[bytes] = []
            for h in superseded:
                found = await conn.execute_fetchall(
                    "SELECT token_hash FROM access_tokens WHERE refresh_token_hash = ?", (h,)
                )
                revoked.extend(r[0] for r in found)
                await conn.execute("DELETE FROM access_tokens WHERE refresh_token_hash = ?", (h,))
            # Using this refresh token also ends the one it replaced.
            await conn.execute(
                "DELETE FROM refresh_tokens WHERE replaced_by = ?", (refresh_token_hash,)
            )
            await conn.execute(
                "UPDATE refresh_tokens SET replaced_by = ? WHERE token_hash = ?",
                (new_refresh_hash, refresh_token_hash),
            )
            await conn.execute(
                "INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts)"
                " VALUES (?, ?, ?, ?)",
                (new_refresh_hash, user_id, device_id, ts),
            )
            await conn.execute(
                "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts,"
                " refresh_token_hash) VALUES (?, ?, ?, ?, ?, ?)",
                (new_access_hash, user_id, device_id, ts, expires_ts, new_refresh_hash),
            )
            return user_id, device_id, revoked

        return await self.db.write("rotate_refresh_token", run)

    async def get_token_owner(self, token_hash: bytes) -> tuple[str, str] | None:
        row = await self.db.fetchone(
            "get_token_owner",
            "SELECT user_id, device_id FROM access_tokens WHERE token_hash = ?",
            (token_hash,),
        )
        return (row[0], row[1]) if row else None

    async def delete_access_token(self, token_hash: bytes) -> None:
        await self.db.execute(
            "delete_access_token", "DELETE FROM access_tokens WHERE token_hash = ?", (token_hash,)
        )

    async def count_refresh_tokens(self, user_id: str) -> int:
        return int(await self.db.fetchval(
            "count_refresh_tokens", "SELECT COUNT(*) FROM refresh_tokens WHERE user_id = ?", (user_id,)
        ))

    async def delete_sessions_except(
        self, user_id: str, keep_device_id: str | None = None, keep_token_hash: bytes | None = None
    ) -> list[bytes]:
        """Delete a user's access tokens and devices, except one token and one device.

        With nothing kept this logs the user out everywhere (logout/all, deactivation);
        a password change keeps the requesting session. Returns the deleted token hashes.
        """

        async def run(conn: aiosqlite.Connection) -> list[bytes]:
            rows = await conn.execute_fetchall(
                "SELECT token_hash FROM access_tokens WHERE user_id = ?", (user_id,)
            )
            hashes = [r[0] for r in rows if r[0] != keep_token_hash]
            await conn.executemany(
                "DELETE FROM access_tokens WHERE token_hash = ?", [(h,) for h in hashes]
            )
            await conn.execute(
                "DELETE FROM devices WHERE user_id = ? AND device_id IS NOT ?",
                (user_id, keep_device_id),
            )
            await conn.execute(
                "DELETE FROM refresh_tokens WHERE user_id = ? AND device_id IS NOT ?",
                (user_id, keep_device_id),
            )
            return hashes

        return await self.db.write("delete_sessions_except", run)
