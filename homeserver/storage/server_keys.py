"""Server signing keys: other servers' verify keys and responses, and our own key history."""

from __future__ import annotations

from typing import Any

import aiosqlite
import orjson

from federation.keys import OwnSigningKey, StoredVerifyKey
from homeserver.storage.database import Database


class ServerKeyStore:
    """The key ring's repository (``federation.keys.ServerKeyRepository``), on SQLite."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- other servers ------------------------------------------------------------
    async def get_verify_keys(self, server_name: str) -> dict[str, StoredVerifyKey]:
        rows = await self.db.fetchall(
            "get_server_verify_keys",
            "SELECT key_id, verify_key, valid_until_ts, expired_ts, fetched_ts"
            " FROM server_verify_keys WHERE server_name = ?",
            (server_name,),
        )
        return {
            row["key_id"]: StoredVerifyKey(
                server_name, row["key_id"], row["verify_key"], row["valid_until_ts"],
                row["expired_ts"], row["fetched_ts"],
            )
            for row in rows
        }

    async def store_server_keys(
        self, server_name: str, response: dict[str, Any], keys: list[StoredVerifyKey]
    ) -> None:
        """Remember a verified key response and the keys it lists.

        A key already known from a response that is valid for longer is kept:
        a replayed older response must not shorten a key's validity.
        """
        response_json = orjson.dumps(response).decode()
        valid_until_ts = int(response["valid_until_ts"])

        async def run(conn: aiosqlite.Connection) -> None:
            for key in keys:
                await conn.execute(
                    "INSERT INTO server_verify_keys"
                    " (server_name, key_id, verify_key, valid_until_ts, expired_ts, fetched_ts)"
                    " VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (server_name, key_id) DO UPDATE SET"
                    "  verify_key = excluded.verify_key, valid_until_ts = excluded.valid_until_ts,"
                    "  expired_ts = excluded.expired_ts, fetched_ts = excluded.fetched_ts"
                    " WHERE excluded.valid_until_ts >= server_verify_keys.valid_until_ts",
                    (server_name, key.key_id, key.verify_key, key.valid_until_ts, key.expired_ts,
                     key.fetched_ts),
                )
                await conn.execute(
                    "INSERT INTO server_key_responses (server_name, key_id, valid_until_ts, response_json)"
                    " VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (server_name, key_id) DO UPDATE SET"
                    "  valid_until_ts = excluded.valid_until_ts, response_json = excluded.response_json"
                    " WHERE excluded.valid_until_ts >= server_key_responses.valid_until_ts",
                    (server_name, key.key_id, valid_until_ts, response_json),
                )

        await self.db.write("store_server_keys", run)

    async def get_key_responses(self, server_name: str) -> list[dict[str, Any]]:
        """The distinct stored signed responses of a server, newest validity first."""
        rows = await self.db.fetchall(
            "get_server_key_responses",
            "SELECT DISTINCT response_json, valid_until_ts FROM server_key_responses"
            " WHERE server_name = ? ORDER BY valid_until_ts DESC",
            (server_name,),
        )
        return [orjson.loads(row["response_json"]) for row in rows]

    # --- our own keys -------------------------------------------------------------
    async def get_own_keys(self) -> list[OwnSigningKey]:
        rows = await self.db.fetchall(
            "get_own_signing_keys",
            "SELECT key_id, verify_key, first_used_ts, expired_ts FROM own_signing_keys"
            " ORDER BY first_used_ts",
        )
        return [
            OwnSigningKey(row["key_id"], row["verify_key"], row["first_used_ts"], row["expired_ts"])
            for row in rows
        ]

    async def record_current_own_key(self, key_id: str, verify_key: str, now_ts: int) -> None:
        """Make ``key_id`` the current key; any other current key expires now."""

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "UPDATE own_signing_keys SET expired_ts = ? WHERE expired_ts IS NULL AND key_id != ?",
                (now_ts, key_id),
            )
            await conn.execute(
                "INSERT INTO own_signing_keys (key_id, verify_key, first_used_ts, expired_ts)"
                " VALUES (?, ?, ?, NULL)"
                " ON CONFLICT (key_id) DO UPDATE SET verify_key = excluded.verify_key, expired_ts = NULL",
                (key_id, verify_key, now_ts),
            )

        await self.db.write("record_own_signing_key", run)
