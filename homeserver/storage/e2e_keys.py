"""End-to-end encryption keys: device keys, one-time and fallback keys,
cross-signing keys and the signatures uploaded for them.

spec: client-server-api/modules/end_to_end_encryption.md. Key objects are
stored as the JSON the client uploaded; the services decide what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiosqlite
import orjson

from homeserver.storage.database import Database

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredDeviceKeys:
    user_id: str
    device_id: str
    keys: JsonObject
    display_name: str | None


@dataclass(frozen=True, slots=True)
class NewKey:
    algorithm: str
    key_id: str
    key: JsonObject | str


@dataclass(frozen=True, slots=True)
class StoredSignature:
    target_user_id: str
    target_key_id: str
    signer_user_id: str
    signer_key_id: str
    signature: str


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class E2EKeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- device keys -----------------------------------------------------------------
    async def set_device_keys(self, user_id: str, device_id: str, keys: JsonObject) -> bool:
        """Store a device's keys; True if they differ from what was stored."""
        encoded = _dumps(keys)

        async def run(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute(
                "SELECT key_json FROM e2e_device_keys WHERE user_id = ? AND device_id = ?",
                (user_id, device_id),
            )
            row = await cur.fetchone()
            if row is not None and row[0] == encoded:
                return False
            await conn.execute(
                "INSERT INTO e2e_device_keys (user_id, device_id, key_json) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json",
                (user_id, device_id, encoded),
            )
            return True

        return await self.db.write("set_device_keys", run)

    async def get_device_keys(self, user_id: str, device_ids: list[str] | None = None) -> list[StoredDeviceKeys]:
        """Keys of a user's existing devices (all, or those in ``device_ids``)."""
        rows = await self.db.fetchall(
            "get_device_keys",
            "SELECT k.device_id, k.key_json, d.display_name FROM e2e_device_keys k"
            " JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id"
            " WHERE k.user_id = ? ORDER BY k.device_id",
            (user_id,),
        )
        wanted = set(device_ids) if device_ids else None
        return [
            StoredDeviceKeys(user_id, r[0], orjson.loads(r[1]), r[2])
            for r in rows
            if wanted is None or r[0] in wanted
        ]

    async def delete_keys_of_missing_devices(self, user_id: str) -> None:
        """Drop every key of devices the user no longer has (deleted or logged out)."""

        async def run(conn: aiosqlite.Connection) -> None:
            for table in ("e2e_device_keys", "e2e_one_time_keys", "e2e_fallback_keys"):
                await conn.execute(
                    f"DELETE FROM {table} WHERE user_id = ? AND device_id NOT IN"  # noqa: S608 (fixed names)
                    " (SELECT device_id FROM devices WHERE user_id = ?)",
                    (user_id, user_id),
                )
            await conn.execute(
                "DELETE FROM e2e_signatures WHERE target_user_id = ? AND target_key_id NOT IN"
                " (SELECT device_id FROM devices WHERE user_id = ?)"
                " AND target_key_id NOT IN (SELECT public_key FROM e2e_cross_signing_keys WHERE user_id = ?)",
                (user_id, user_id, user_id),
            )

        await self.db.write("delete_keys_of_missing_devices", run)

    async def device_list_stream_id(self, user_id: str) -> int:
        """The stream_id of the user's last m.device_list_update EDU (0 if none was sent)."""
        value = await self.db.fetchval(
            "device_list_stream_id",
            "SELECT last_stream_id FROM federation_device_list_streams WHERE user_id = ?",
            (user_id,),
        )
        return int(value or 0)

    # --- one-time and fallback keys -----------------------------------------------------
    async def get_one_time_keys(self, user_id: str, device_id: str, ids: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(algorithm, key_id) -> stored JSON for those of ``ids`` already held."""
        if not ids:
            return {}
        rows = await self.db.fetchall(
            "get_one_time_keys",
            "SELECT algorithm, key_id, key_json FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?",
            (user_id, device_id),
        )
        wanted = set(ids)
        return {(r[0], r[1]): r[2] for r in rows if (r[0], r[1]) in wanted}

    async def add_one_time_keys(self, user_id: str, device_id: str, keys: list[NewKey]) -> None:
        await self.db.executemany(
            "add_one_time_keys",
            "INSERT OR IGNORE INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json)"
            " VALUES (?, ?, ?, ?, ?)",
            [(user_id, device_id, k.algorithm, k.key_id, _dumps(k.key)) for k in keys],
        )

    async def set_fallback_keys(self, user_id: str, device_id: str, keys: list[NewKey]) -> None:
        # Re-uploading the same key keeps its used flag; a new key starts unused.
        await self.db.executemany(
            "set_fallback_keys",
            "INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)"
            " VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET"
            " used = CASE WHEN key_json = excluded.key_json THEN used ELSE 0 END,"
            " key_id = excluded.key_id, key_json = excluded.key_json",
            [(user_id, device_id, k.algorithm, k.key_id, _dumps(k.key)) for k in keys],
        )

    async def count_one_time_keys(self, user_id: str, device_id: str) -> dict[str, int]:
        rows = await self.db.fetchall(
            "count_one_time_keys",
            "SELECT algorithm, COUNT(*) FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ?"
            " GROUP BY algorithm",
            (user_id, device_id),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def unused_fallback_key_types(self, user_id: str, device_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "unused_fallback_key_types",
            "SELECT algorithm FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND used = 0"
            " ORDER BY algorithm",
            (user_id, device_id),
        )
        return [r[0] for r in rows]

    async def claim_keys(
        self, wanted: list[tuple[str, str, str]]
    ) -> dict[tuple[str, str], tuple[str, JsonObject | str]]:
        """Claim one key per (user_id, device_id, algorithm): a one-time key, deleted as it
        is handed out, else the fallback key, then marked used. All in one transaction, so
        two claimers never receive the same one-time key.

        Returns (user_id, device_id) -> ("<algorithm>:<key_id>", key).
        """

        async def run(conn: aiosqlite.Connection) -> dict[tuple[str, str], tuple[str, JsonObject | str]]:
            claimed: dict[tuple[str, str], tuple[str, JsonObject | str]] = {}
            for user_id, device_id, algorithm in wanted:
                cur = await conn.execute(
                    "DELETE FROM e2e_one_time_keys WHERE rowid = (SELECT rowid FROM e2e_one_time_keys"
                    " WHERE user_id = ? AND device_id = ? AND algorithm = ? ORDER BY key_id LIMIT 1)"
                    " RETURNING key_id, key_json",
                    (user_id, device_id, algorithm),
                )
                row = await cur.fetchone()
                await cur.close()
                if row is None:
                    cur = await conn.execute(
                        "UPDATE e2e_fallback_keys SET used = 1 WHERE user_id = ? AND device_id = ?"
                        " AND algorithm = ? RETURNING key_id, key_json",
                        (user_id, device_id, algorithm),
                    )
                    row = await cur.fetchone()
                    await cur.close()
                if row is not None:
                    claimed[(user_id, device_id)] = (f"{algorithm}:{row[0]}", orjson.loads(row[1]))
            return claimed

        return await self.db.write("claim_keys", run)

    # --- cross-signing keys ----------------------------------------------------------------
    async def get_cross_signing_keys(self, user_id: str) -> dict[str, JsonObject]:
        """key_type (master, self_signing, user_signing) -> the uploaded key object."""
        rows = await self.db.fetchall(
            "get_cross_signing_keys",
            "SELECT key_type, key_json FROM e2e_cross_signing_keys WHERE user_id = ?",
            (user_id,),
        )
        return {r[0]: orjson.loads(r[1]) for r in rows}

    async def set_cross_signing_keys(self, user_id: str, keys: dict[str, tuple[str, JsonObject]]) -> None:
        """key_type -> (public key, key object); a new master key replaces the others' trust."""
        await self.db.executemany(
            "set_cross_signing_keys",
            "INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id, key_type) DO UPDATE SET public_key = excluded.public_key,"
            " key_json = excluded.key_json",
            [(user_id, key_type, public, _dumps(obj)) for key_type, (public, obj) in keys.items()],
        )

    # --- signatures ---------------------------------------------------------------------------
    async def add_signatures(self, signatures: list[StoredSignature]) -> None:
        await self.db.executemany(
            "add_signatures",
            "INSERT INTO e2e_signatures (target_user_id, target_key_id, signer_user_id, signer_key_id, signature)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id)"
            " DO UPDATE SET signature = excluded.signature",
            [
                (s.target_user_id, s.target_key_id, s.signer_user_id, s.signer_key_id, s.signature)
                for s in signatures
            ],
        )

    async def get_signatures(self, target_user_id: str) -> list[StoredSignature]:
        rows = await self.db.fetchall(
            "get_signatures",
            "SELECT target_key_id, signer_user_id, signer_key_id, signature FROM e2e_signatures"
            " WHERE target_user_id = ?",
            (target_user_id,),
        )
        return [StoredSignature(target_user_id, r[0], r[1], r[2], r[3]) for r in rows]
