"""Media metadata: local uploads, cached remote media and thumbnails.

The bytes live on disk (``homeserver.services.media.files``); these rows say
which hash a media ID points at, who uploaded it and when it was last read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiosqlite

from homeserver.storage.database import Database


@dataclass(frozen=True, slots=True)
class LocalMedia:
    media_id: str
    user_id: str
    content_type: str | None
    upload_name: str | None
    size: int | None
    sha256: str | None  # None while a created ID awaits its upload
    created_ts: int
    last_access_ts: int
    unused_expires_at: int | None

    @property
    def uploaded(self) -> bool:
        return self.sha256 is not None


@dataclass(frozen=True, slots=True)
class RemoteMedia:
    origin: str
    media_id: str
    content_type: str | None
    upload_name: str | None
    size: int
    sha256: str
    created_ts: int
    last_access_ts: int


@dataclass(frozen=True, slots=True)
class Thumbnail:
    source_sha256: str
    width: int
    height: int
    method: str
    animated: bool
    content_type: str
    size: int
    sha256: str


_LOCAL = (
    "media_id, user_id, content_type, upload_name, size, sha256, created_ts, last_access_ts,"
    " unused_expires_at"
)
_REMOTE = "origin, media_id, content_type, upload_name, size, sha256, created_ts, last_access_ts"
_THUMB = "source_sha256, width, height, method, animated, content_type, size, sha256"


def _local(row: Any) -> LocalMedia:
    return LocalMedia(*row)


def _remote(row: Any) -> RemoteMedia:
    return RemoteMedia(*row)


def _thumbnail(row: Any) -> Thumbnail:
    return Thumbnail(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7])


class MediaStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- local media ---------------------------------------------------------------
    async def get_local(self, media_id: str) -> LocalMedia | None:
        row = await self.db.fetchone(
            "get_local_media", f"SELECT {_LOCAL} FROM local_media WHERE media_id = ?", (media_id,)
        )
        return None if row is None else _local(row)

    async def insert_local(
        self,
        media_id: str,
        user_id: str,
        content_type: str,
        upload_name: str | None,
        size: int,
        sha256: str,
        now_ms: int,
    ) -> None:
        await self.db.execute(
            "insert_local_media",
            f"INSERT INTO local_media ({_LOCAL}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (media_id, user_id, content_type, upload_name, size, sha256, now_ms, now_ms),
        )

    async def insert_pending(self, media_id: str, user_id: str, now_ms: int, expires_at: int) -> None:
        await self.db.execute(
            "insert_pending_media",
            f"INSERT INTO local_media ({_LOCAL}) VALUES (?, ?, NULL, NULL, NULL, NULL, ?, ?, ?)",
            (media_id, user_id, now_ms, now_ms, expires_at),
        )

    async def complete_pending(
        self,
        media_id: str,
        content_type: str,
        upload_name: str | None,
        size: int,
        sha256: str,
        now_ms: int,
    ) -> bool:
        """Fill in a created ID; False if it was already uploaded or is gone."""

        async def run(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE local_media SET content_type = ?, upload_name = ?, size = ?, sha256 = ?,"
                " last_access_ts = ?, unused_expires_at = NULL"
                " WHERE media_id = ? AND sha256 IS NULL",
                (content_type, upload_name, size, sha256, now_ms, media_id),
            )
            return cursor.rowcount == 1

        return await self.db.write("complete_pending_media", run)

    async def count_pending(self, user_id: str, now_ms: int) -> int:
        value = await self.db.fetchval(
            "count_pending_media",
            "SELECT COUNT(*) FROM local_media WHERE user_id = ? AND sha256 IS NULL AND unused_expires_at > ?",
            (user_id, now_ms),
        )
        return int(value or 0)

    async def bytes_used_by(self, user_id: str) -> int:
        value = await self.db.fetchval(
            "media_bytes_used",
            "SELECT COALESCE(SUM(size), 0) FROM local_media WHERE user_id = ? AND sha256 IS NOT NULL",
            (user_id,),
        )
        return int(value or 0)

    async def touch_local(self, media_id: str, now_ms: int) -> None:
        await self.db.execute(
            "touch_local_media",
            "UPDATE local_media SET last_access_ts = ? WHERE media_id = ?",
            (now_ms, media_id),
        )

    # --- remote media ------------------------------------------------------------------
    async def get_remote(self, origin: str, media_id: str) -> RemoteMedia | None:
        row = await self.db.fetchone(
            "get_remote_media",
            f"SELECT {_REMOTE} FROM remote_media_cache WHERE origin = ? AND media_id = ?",
            (origin, media_id),
        )
        return None if row is None else _remote(row)

    async def upsert_remote(self, media: RemoteMedia) -> None:
        await self.db.execute(
            "upsert_remote_media",
            f"INSERT OR REPLACE INTO remote_media_cache ({_REMOTE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                media.origin,
                media.media_id,
                media.content_type,
                media.upload_name,
                media.size,
                media.sha256,
                media.created_ts,
                media.last_access_ts,
            ),
        )

    async def touch_remote(self, origin: str, media_id: str, now_ms: int) -> None:
        await self.db.execute(
            "touch_remote_media",
            "UPDATE remote_media_cache SET last_access_ts = ? WHERE origin = ? AND media_id = ?",
            (now_ms, origin, media_id),
        )

    # --- thumbnails -----------------------------------------------------------------------
    async def get_thumbnail(
        self, source_sha256: str, width: int, height: int, method: str, animated: bool
    ) -> Thumbnail | None:
        row = await self.db.fetchone(
            "get_media_thumbnail",
            f"SELECT {_THUMB} FROM media_thumbnails WHERE source_sha256 = ? AND width = ?"
            " AND height = ? AND method = ? AND animated = ?",
            (source_sha256, width, height, method, int(animated)),
        )
        return None if row is None else _thumbnail(row)

    async def insert_thumbnail(self, thumb: Thumbnail) -> None:
        await self.db.execute(
            "insert_media_thumbnail",
            f"INSERT OR REPLACE INTO media_thumbnails ({_THUMB}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                thumb.source_sha256,
                thumb.width,
                thumb.height,
                thumb.method,
                int(thumb.animated),
                thumb.content_type,
                thumb.size,
                thumb.sha256,
            ),
        )

    # --- retention ------------------------------------------------------------------------
    async def delete_stale(
        self, local_before: int | None, remote_before: int | None, pending_expired_at: int
    ) -> list[str]:
        """Delete media not read since the cut-offs and expired unused IDs.

        Thumbnails of content no longer referenced go too. Returns the hashes
        whose last reference may have gone (candidates for file deletion).
        """

        async def run(conn: aiosqlite.Connection) -> list[str]:
            hashes: set[str] = set()
            if local_before is not None:
                rows = await conn.execute_fetchall(
                    "DELETE FROM local_media WHERE sha256 IS NOT NULL AND last_access_ts < ?"
                    " RETURNING sha256",
                    (local_before,),
                )
                hashes.update(r[0] for r in rows)
            if remote_before is not None:
                rows = await conn.execute_fetchall(
                    "DELETE FROM remote_media_cache WHERE last_access_ts < ? RETURNING sha256",
                    (remote_before,),
                )
                hashes.update(r[0] for r in rows)
            await conn.execute(
                "DELETE FROM local_media WHERE sha256 IS NULL AND unused_expires_at <= ?",
                (pending_expired_at,),
            )
            for sha in list(hashes):
                if await _referenced_as_source(conn, sha):
                    continue
                rows = await conn.execute_fetchall(
                    "DELETE FROM media_thumbnails WHERE source_sha256 = ? RETURNING sha256", (sha,)
                )
                hashes.update(r[0] for r in rows)
            return sorted(hashes)

        return await self.db.write("delete_stale_media", run)

    async def is_referenced(self, sha256: str) -> bool:
        """Whether any media or thumbnail row still points at this content."""
        row = await self.db.fetchone(
            "media_hash_referenced",
            "SELECT 1 FROM local_media WHERE sha256 = ?1"
            " UNION ALL SELECT 1 FROM remote_media_cache WHERE sha256 = ?1"
            " UNION ALL SELECT 1 FROM media_thumbnails WHERE sha256 = ?1 LIMIT 1",
            (sha256,),
        )
        return row is not None


async def _referenced_as_source(conn: aiosqlite.Connection, sha256: str) -> bool:
    rows = await conn.execute_fetchall(
        "SELECT 1 FROM local_media WHERE sha256 = ?1"
        " UNION ALL SELECT 1 FROM remote_media_cache WHERE sha256 = ?1 LIMIT 1",
        (sha256,),
    )
    return bool(list(rows))
