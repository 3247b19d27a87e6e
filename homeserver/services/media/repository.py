"""The media repository: uploads, downloads, thumbnails, quotas and retention.

spec: client-server-api/modules/content_repo.md and data/api/client-server/
{content-repo,authed-content-repo}.yaml. Files are stored once per distinct
content (``media_files``); rows in ``MediaStore`` map media IDs to hashes.
Remote media is fetched over federation by ``media_remote`` and cached here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

from homeserver.clock import Clock
from homeserver.config import LimitsConfig, MediaConfig
from homeserver.core import thumbnails
from homeserver.errors import MatrixError, forbidden, invalid_param, not_found
from homeserver.services.media.files import MediaFiles, ReceivedFile, UploadTooLarge
from homeserver.services.media.remote import RemoteMediaFetcher
from homeserver.storage.media import LocalMedia, MediaStore, Thumbnail
from schemas.identifiers import is_valid_server_name

logger = logging.getLogger(__name__)

T = TypeVar("T")

# spec: content_repo.md, "Matrix Content (mxc://) URIs": media IDs are [A-Za-z0-9_-].
_MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(?:\s*;[\x20-\x7e]*)?$")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_FILENAME_CHARS = 255
DAY_MS = 86_400_000
# last_access_ts is rewritten at most this often per media (retention counts in days).
TOUCH_INTERVAL_MS = 10 * 60 * 1000
# Thumbnailing is CPU work on 2 cores: a few at a time, off the event loop.
THUMBNAIL_CONCURRENCY = 2


@dataclass(frozen=True, slots=True)
class ServedMedia:
    """A file ready to be served, with the metadata its headers need."""

    path: Path
    content_type: str
    upload_name: str | None
    size: int
    remote: bool


def is_valid_media_id(media_id: str) -> bool:
    return bool(_MEDIA_ID.match(media_id))


def check_mxc_parts(server_name: str, media_id: str) -> None:
    # spec: content_repo.md, "Security considerations": sanitise both parts of an mxc:// URI.
    if not is_valid_server_name(server_name):
        raise invalid_param("Invalid server name in media URI")
    if not is_valid_media_id(media_id):
        raise invalid_param("Media IDs consist of A-Z, a-z, 0-9, '_' and '-' only")


def normalise_content_type(value: str | None) -> str:
    # spec: upload Content-Type "Defaults to application/octet-stream if it is not set."
    if value is None or not value.strip():
        return DEFAULT_CONTENT_TYPE
    value = value.strip()
    if len(value) > 255 or not _CONTENT_TYPE.match(value):
        return DEFAULT_CONTENT_TYPE
    return value


def check_filename(filename: str | None) -> str | None:
    if filename is None or filename == "":
        return None
    if len(filename) > MAX_FILENAME_CHARS:
        raise invalid_param(f"filename is longer than {MAX_FILENAME_CHARS} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in filename):
        raise invalid_param("filename contains control characters")
    return filename


def too_large(limit: int) -> MatrixError:
    return MatrixError("M_TOO_LARGE", 413, f"Cannot upload files larger than {limit} bytes")


def quota_exceeded() -> MatrixError:
    # spec: content-repo.yaml upload 403: "The user has reached a quota for uploaded content."
    return MatrixError("M_FORBIDDEN", 403, "Media storage quota reached")


class MediaService:
    def __init__(
        self,
        config: MediaConfig,
        limits: LimitsConfig,
        store: MediaStore,
        files: MediaFiles,
        remote: RemoteMediaFetcher,
        clock: Clock,
        server_name: str,
    ) -> None:
        self.config = config
        self.limits = limits
        self.store = store
        self.files = files
        self.remote = remote
        self.clock = clock
        self.server_name = server_name
        self._upload_waiters: dict[str, asyncio.Event] = {}
        self._in_flight: dict[object, asyncio.Future[object]] = {}
        self._thumbnail_slots = asyncio.Semaphore(THUMBNAIL_CONCURRENCY)
        self._retention_task: asyncio.Task[None] | None = None

    @property
    def max_upload_bytes(self) -> int:
        return self.limits.max_upload_bytes

    # --- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self.files.prepare)
        self._retention_task = asyncio.create_task(self._retention_loop(), name="media-retention")

    async def stop(self) -> None:
        if self._retention_task is not None:
            self._retention_task.cancel()
            try:
                await self._retention_task
            except asyncio.CancelledError:
                pass
            self._retention_task = None

    # --- uploads ---------------------------------------------------------------------
    def mxc(self, media_id: str) -> str:
        return f"mxc://{self.server_name}/{media_id}"

    async def upload(
        self,
        user_id: str,
        chunks: AsyncIterator[bytes],
        content_type: str | None,
        filename: str | None,
        declared_length: int | None,
    ) -> str:
        """POST /_matrix/media/v3/upload: store the body under a new media ID; the mxc:// URI."""
        content_type = normalise_content_type(content_type)
        filename = check_filename(filename)
        media_id = secrets.token_urlsafe(18)
        received = await self._receive(user_id, chunks, declared_length)
        async with self.files.lock:
            try:
                await self._check_quota(user_id, received.size)
                self.files.place(received)
                await self.store.insert_local(
                    media_id, user_id, content_type, filename, received.size, received.sha256,
                    self.clock.time_ms(),
                )
            except BaseException:
                await self._forget_file(received.sha256, received)
                raise
        logger.info("user %s uploaded %s (%d bytes, %s)", user_id, media_id, received.size, content_type)
        return self.mxc(media_id)

    async def create(self, user_id: str) -> tuple[str, int]:
        """POST /_matrix/media/v1/create: a media ID to upload to later; (mxc URI, unused_expires_at)."""
        now = self.clock.time_ms()
        if await self.store.count_pending(user_id, now) >= self.config.max_pending_uploads:
            # spec: createContent — limit concurrent pending uploads with 429 M_LIMIT_EXCEEDED.
            raise MatrixError("M_LIMIT_EXCEEDED", 429, "Too many media IDs awaiting upload")
        media_id = secrets.token_urlsafe(18)
        expires_at = now + self.config.unused_id_lifetime_seconds * 1000
        await self.store.insert_pending(media_id, user_id, now, expires_at)
        return self.mxc(media_id), expires_at

    async def upload_to(
        self,
        user_id: str,
        server_name: str,
        media_id: str,
        chunks: AsyncIterator[bytes],
        content_type: str | None,
        filename: str | None,
        declared_length: int | None,
    ) -> None:
        """PUT /_matrix/media/v3/upload/{serverName}/{mediaId}: fill in a created media ID."""
        if server_name != self.server_name or not is_valid_media_id(media_id):
            raise not_found("Unknown media ID")
        content_type = normalise_content_type(content_type)
        filename = check_filename(filename)
        await self._pending_row(user_id, media_id)
        received = await self._receive(user_id, chunks, declared_length)
        async with self.files.lock:
            try:
                await self._pending_row(user_id, media_id)  # still ours and still empty
                await self._check_quota(user_id, received.size)
                self.files.place(received)
                done = await self.store.complete_pending(
                    media_id, content_type, filename, received.size, received.sha256, self.clock.time_ms()
                )
                if not done:
                    raise MatrixError("M_CANNOT_OVERWRITE_MEDIA", 409, "Media already uploaded")
            except BaseException:
                await self._forget_file(received.sha256, received)
                raise
        waiter = self._upload_waiters.pop(media_id, None)
        if waiter is not None:
            waiter.set()
        logger.info("user %s uploaded %s (%d bytes) to a created ID", user_id, media_id, received.size)

    async def _pending_row(self, user_id: str, media_id: str) -> LocalMedia:
        row = await self.store.get_local(media_id)
        if row is None or (not row.uploaded and self._expired(row)):
            raise not_found("Unknown or expired media ID")
        if row.uploaded:
            raise MatrixError("M_CANNOT_OVERWRITE_MEDIA", 409, "Media already uploaded")
        if row.user_id != user_id:
            raise forbidden("This media ID was created by another user")
        return row

    async def _receive(
        self, user_id: str, chunks: AsyncIterator[bytes], declared_length: int | None
    ) -> ReceivedFile:
        limit = self.max_upload_bytes
        quota_left: int | None = None
        if self.config.user_quota_bytes:
            quota_left = self.config.user_quota_bytes - await self.store.bytes_used_by(user_id)
            if quota_left <= 0:
                raise quota_exceeded()
        # Refuse before reading a byte when the declared length already says no.
        if declared_length is not None:
            if declared_length > limit:
                raise too_large(limit)
            if quota_left is not None and declared_length > quota_left:
                raise quota_exceeded()
        stream_limit = limit if quota_left is None else min(limit, quota_left)
        try:
            return await self.files.receive(chunks, stream_limit)
        except UploadTooLarge:
            if stream_limit < limit:
                raise quota_exceeded() from None
            raise too_large(limit) from None

    async def _check_quota(self, user_id: str, size: int) -> None:
        # Checked again under the files lock: concurrent uploads must not overrun the quota.
        quota = self.config.user_quota_bytes
        if quota and await self.store.bytes_used_by(user_id) + size > quota:
            raise quota_exceeded()

    async def _forget_file(self, sha256: str, received: ReceivedFile) -> None:
        """Undo a failed upload: drop the temporary file, and the content file if nothing uses it."""
        self.files.discard(received)
        if not await self.store.is_referenced(sha256):
            self.files.delete(sha256)

    def _expired(self, row: LocalMedia) -> bool:
        return row.unused_expires_at is not None and row.unused_expires_at <= self.clock.time_ms()

    # --- downloads -------------------------------------------------------------------
    async def get(
        self, server_name: str, media_id: str, *, allow_remote: bool = True, timeout_ms: int = 20000
    ) -> ServedMedia:
        """The media behind mxc://server_name/media_id, fetching remote media when allowed."""
        check_mxc_parts(server_name, media_id)
        if server_name == self.server_name:
            return await self.get_local(media_id, timeout_ms)
        if not allow_remote:
            raise not_found("Remote media not fetched (allow_remote is false)")
        remote = await self._once(("remote", server_name, media_id),
                                  lambda: self.remote.get(server_name, media_id))
        return ServedMedia(
            self.files.path_for(remote.sha256), normalise_content_type(remote.content_type),
            remote.upload_name, remote.size, remote=True,
        )

    async def get_local(self, media_id: str, timeout_ms: int = 20000) -> ServedMedia:
        row = await self.store.get_local(media_id)
        if row is None:
            raise not_found("Media not found")
        if not row.uploaded:
            row = await self._wait_for_upload(row, timeout_ms)
        assert row.sha256 is not None and row.size is not None
        path = self.files.path_for(row.sha256)
        if not path.is_file():
            logger.error("media %s points at missing content %s", media_id, row.sha256)
            raise not_found("Media not found")
        now = self.clock.time_ms()
        if now - row.last_access_ts > TOUCH_INTERVAL_MS:
            await self.store.touch_local(media_id, now)
        return ServedMedia(path, row.content_type or DEFAULT_CONTENT_TYPE, row.upload_name, row.size, remote=False)

    async def _wait_for_upload(self, row: LocalMedia, timeout_ms: int) -> LocalMedia:
        # spec: timeout_ms — wait for a created-but-empty media ID, then 504 M_NOT_YET_UPLOADED.
        if self._expired(row):
            raise not_found("Media not found")
        wait_s = max(0, min(timeout_ms, self.config.max_download_wait_ms)) / 1000
        waiter = self._upload_waiters.setdefault(row.media_id, asyncio.Event())
        current = await self.store.get_local(row.media_id)  # it may have landed meanwhile
        if current is None:
            raise not_found("Media not found")
        if not current.uploaded and wait_s > 0:
            try:
                async with asyncio.timeout(wait_s):
                    await waiter.wait()
            except TimeoutError:
                pass
            current = await self.store.get_local(row.media_id)
            if current is None:
                raise not_found("Media not found")
        if not current.uploaded:
            raise MatrixError("M_NOT_YET_UPLOADED", 504, "Content has not yet been uploaded")
        return current

    # --- thumbnails --------------------------------------------------------------------
    async def thumbnail(
        self,
        server_name: str,
        media_id: str,
        width: int,
        height: int,
        method: thumbnails.Method,
        *,
        animated: bool = False,
        allow_remote: bool = True,
        timeout_ms: int = 20000,
    ) -> ServedMedia:
        source = await self.get(server_name, media_id, allow_remote=allow_remote, timeout_ms=timeout_ms)
        source_sha = source.path.name
        target = thumbnails.choose_target(width, height, method)
        cached = await self.store.get_thumbnail(source_sha, target.width, target.height, target.method, animated)
        if cached is not None and self.files.exists(cached.sha256):
            return self._served_thumbnail(cached)
        key = ("thumbnail", source_sha, target, animated)
        made = await self._once(key, lambda: self._make_thumbnail(source, target, animated))
        return source if made is None else self._served_thumbnail(made)

    async def _make_thumbnail(
        self, source: ServedMedia, target: thumbnails.ThumbnailTarget, animated: bool
    ) -> Thumbnail | None:
        async with self._thumbnail_slots:
            try:
                rendered = await asyncio.to_thread(
                    thumbnails.render, source.path, target, animated=animated,
                    max_pixels=self.config.max_image_pixels,
                )
            except thumbnails.CannotThumbnail:
                raise MatrixError("M_UNKNOWN", 400, "Cannot generate thumbnails for the requested content") from None
            except thumbnails.ImageTooLarge:
                # spec: thumbnail 413 for local content, 502 for remote content.
                raise MatrixError("M_TOO_LARGE", 502 if source.remote else 413,
                                  "Content is too large to thumbnail") from None
        if rendered is None:
            return None  # the original is no larger than asked for: serve it
        received = await self.files.store_bytes(rendered.data)
        thumb = Thumbnail(source.path.name, target.width, target.height, target.method, animated,
                          rendered.content_type, received.size, received.sha256)
        async with self.files.lock:
            self.files.place(received)
            await self.store.insert_thumbnail(thumb)
        return thumb

    def _served_thumbnail(self, thumb: Thumbnail) -> ServedMedia:
        extension = thumb.content_type.rsplit("/", 1)[-1]
        return ServedMedia(self.files.path_for(thumb.sha256), thumb.content_type,
                           f"thumbnail.{extension}", thumb.size, remote=False)

    async def _once(self, key: object, make: Callable[[], Awaitable[T]]) -> T:
        """Run make() once for concurrent callers with the same key; all get its result."""
        running = self._in_flight.get(key)
        if running is not None:
            return cast(T, await asyncio.shield(running))
        future: asyncio.Future[T] = asyncio.ensure_future(make())
        self._in_flight[key] = cast("asyncio.Future[object]", future)
        future.add_done_callback(lambda _f: self._in_flight.pop(key, None))
        return await asyncio.shield(future)

    # --- retention ---------------------------------------------------------------------
    async def purge_stale(self) -> int:
        """Delete media not read within the retention periods and expired unused IDs.

        Content files go only when no row references their hash any more.
        Returns the number of files deleted.
        """
        now = self.clock.time_ms()
        local_days, remote_days = self.config.local_retention_days, self.config.remote_retention_days
        hashes = await self.store.delete_stale(
            now - int(local_days * DAY_MS) if local_days > 0 else None,
            now - int(remote_days * DAY_MS) if remote_days > 0 else None,
            now,
        )
        deleted = 0
        async with self.files.lock:
            for sha256 in hashes:
                if not await self.store.is_referenced(sha256):
                    self.files.delete(sha256)
                    deleted += 1
        for media_id in [m for m, w in self._upload_waiters.items() if not w.is_set()]:
            if await self.store.get_local(media_id) is None:
                self._upload_waiters.pop(media_id, None)
        if hashes:
            logger.info("media retention: %d rows' content released, %d files deleted", len(hashes), deleted)
        return deleted

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.retention_interval_seconds)
            try:
                await self.purge_stale()
            except Exception:
                logger.exception("media retention sweep failed")
