"""Server-side key backup (spec: client-server-api/modules/end_to_end_encryption.md,
"Server-side key backups"; data/api/client-server/key_backup.yaml).

Keys may only be written to the user's current (latest) backup version; writing
to another one is 403 M_WRONG_ROOM_KEYS_VERSION. When a session is uploaded
again, the better key is kept: verified over unverified, then the lower
first_message_index, then the lower forwarded_count.
"""

from __future__ import annotations

from typing import Any

from homeserver.errors import MatrixError, bad_json, invalid_param, not_found
from homeserver.storage.key_backup import BackedUpSession, BackupVersion, KeyBackupStore

JsonObject = dict[str, Any]
ALGORITHMS = {"m.megolm_backup.v1.curve25519-aes-sha2"}


def parse_version(raw: str | None) -> int | None:
    """A version string from a path or query; None if it cannot name a backup."""
    if raw is None or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


def should_replace(old: BackedUpSession, new: BackedUpSession) -> bool:
    """spec: the replacement rules for a session already in the backup."""
    if old.is_verified != new.is_verified:
        return new.is_verified
    if old.first_message_index != new.first_message_index:
        return new.first_message_index < old.first_message_index
    return new.forwarded_count < old.forwarded_count


def parse_session(room_id: str, session_id: str, data: Any) -> BackedUpSession:
    if not isinstance(data, dict):
        raise bad_json("KeyBackupData must be an object")
    fmi, fwd, verified, session_data = (
        data.get("first_message_index"), data.get("forwarded_count"),
        data.get("is_verified"), data.get("session_data"),
    )
    if not isinstance(fmi, int) or isinstance(fmi, bool) or fmi < 0:
        raise bad_json("first_message_index must be a non-negative integer")
    if not isinstance(fwd, int) or isinstance(fwd, bool) or fwd < 0:
        raise bad_json("forwarded_count must be a non-negative integer")
    if not isinstance(verified, bool):
        raise bad_json("is_verified must be a boolean")
    if not isinstance(session_data, dict):
        raise bad_json("session_data must be an object")
    return BackedUpSession(room_id, session_id, fmi, fwd, verified, session_data)


class KeyBackupService:
    def __init__(self, store: KeyBackupStore) -> None:
        self.store = store

    # --- versions -----------------------------------------------------------------------------
    @staticmethod
    def _check_version_body(body: JsonObject) -> tuple[str, JsonObject]:
        algorithm, auth_data = body.get("algorithm"), body.get("auth_data")
        if algorithm is None:
            raise MatrixError("M_MISSING_PARAM", 400, "algorithm is required")
        if not isinstance(algorithm, str):
            raise bad_json("algorithm must be a string")
        if algorithm not in ALGORITHMS:
            raise invalid_param(f"Unsupported backup algorithm {algorithm}")
        if auth_data is None:
            raise MatrixError("M_MISSING_PARAM", 400, "auth_data is required")
        if not isinstance(auth_data, dict):
            raise bad_json("auth_data must be an object")
        return algorithm, auth_data

    async def create_version(self, user_id: str, body: JsonObject) -> str:
        algorithm, auth_data = self._check_version_body(body)
        return str(await self.store.create_version(user_id, algorithm, auth_data))

    async def _version(self, user_id: str, raw: str | None) -> BackupVersion:
        """The named version (latest if ``raw`` is None), or 404."""
        number = None if raw is None else parse_version(raw)
        if raw is not None and number is None:
            raise not_found(f"Unknown backup version {raw}")
        found = await self.store.get_version(user_id, number)
        if found is None:
            raise not_found("No current backup version" if raw is None else f"Unknown backup version {raw}")
        return found

    async def describe_version(self, user_id: str, raw: str | None) -> JsonObject:
        version = await self._version(user_id, raw)
        return {
            "algorithm": version.algorithm,
            "auth_data": version.auth_data,
            "count": await self.store.count(user_id, version.version),
            "etag": str(version.etag),
            "version": str(version.version),
        }

    async def update_version(self, user_id: str, raw: str, body: JsonObject) -> None:
        version = await self._version(user_id, raw)
        algorithm, auth_data = self._check_version_body(body)
        if "version" in body and body["version"] != raw:
            raise invalid_param("version in the body does not match the path")
        if algorithm != version.algorithm:
            raise invalid_param("algorithm cannot change for an existing backup version")
        await self.store.update_auth_data(user_id, version.version, auth_data)

    async def delete_version(self, user_id: str, raw: str) -> None:
        version = await self._version(user_id, raw)
        await self.store.delete_version(user_id, version.version)

    # --- keys -----------------------------------------------------------------------------------
    async def _writable_version(self, user_id: str, raw: str | None) -> BackupVersion:
        if raw is None:
            raise MatrixError("M_MISSING_PARAM", 400, "version is required")
        current = await self.store.get_version(user_id, None)
        if current is None:
            raise not_found("No current backup version")
        if parse_version(raw) != current.version:
            # spec: key_backup.yaml — only the current backup version may be written.
            raise MatrixError(
                "M_WRONG_ROOM_KEYS_VERSION", 403, "Wrong backup version", current_version=str(current.version)
            )
        return current

    async def put_keys(self, user_id: str, raw_version: str | None, sessions: list[BackedUpSession]) -> JsonObject:
        version = await self._writable_version(user_id, raw_version)
        existing = {
            (s.room_id, s.session_id): s for s in await self.store.get_sessions(user_id, version.version)
        } if sessions else {}
        chosen: dict[tuple[str, str], BackedUpSession] = {}
        for new in sessions:
            key = (new.room_id, new.session_id)
            old = chosen.get(key) or existing.get(key)
            if old is None or should_replace(old, new):
                chosen[key] = new
        if chosen:
            await self.store.put_sessions(user_id, version.version, list(chosen.values()))
        return await self._count_and_etag(user_id, version.version)

    async def _count_and_etag(self, user_id: str, version: int) -> JsonObject:
        current = await self.store.get_version(user_id, version)
        etag = current.etag if current is not None else 0
        return {"count": await self.store.count(user_id, version), "etag": str(etag)}

    async def get_keys(
        self, user_id: str, raw_version: str | None, room_id: str | None = None, session_id: str | None = None
    ) -> JsonObject:
        if raw_version is None:
            raise MatrixError("M_MISSING_PARAM", 400, "version is required")
        version = await self._version(user_id, raw_version)
        sessions = await self.store.get_sessions(user_id, version.version, room_id, session_id)
        if session_id is not None:
            if not sessions:
                raise not_found("No such session in the backup")
            return sessions[0].to_json()
        if room_id is not None:
            return {"sessions": {s.session_id: s.to_json() for s in sessions}}
        rooms: dict[str, JsonObject] = {}
        for s in sessions:
            rooms.setdefault(s.room_id, {"sessions": {}})["sessions"][s.session_id] = s.to_json()
        return {"rooms": rooms}

    async def delete_keys(
        self, user_id: str, raw_version: str | None, room_id: str | None = None, session_id: str | None = None
    ) -> JsonObject:
        if raw_version is None:
            raise MatrixError("M_MISSING_PARAM", 400, "version is required")
        version = await self._version(user_id, raw_version)
        await self.store.delete_sessions(user_id, version.version, room_id, session_id)
        return await self._count_and_etag(user_id, version.version)
