"""Content-addressed media files on disk: one file per distinct SHA-256.

Uploads stream into a temporary file while being hashed, and only a finished,
complete upload is moved to ``content/<aa>/<bb>/<sha256>``; the same bytes
uploaded twice end up as one file. ``lock`` serialises "place a file and insert
its row" against "check no row references a hash and delete the file", so the
retention sweep never deletes a file an upload is about to reference.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

# Bytes gathered in memory before one write to disk (in a worker thread).
WRITE_CHUNK = 256 * 1024


class UploadTooLarge(Exception):
    """The stream passed its byte limit; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """A fully received upload, still in the temporary directory."""

    temp_path: Path
    sha256: str
    size: int


def _write_and_hash(out: BinaryIO, hasher: hashlib._Hash, data: bytes) -> None:
    out.write(data)
    hasher.update(data)


class MediaFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.content_dir = root / "content"
        self.temp_dir = root / "tmp"
        self.lock = asyncio.Lock()

    def prepare(self) -> None:
        self.content_dir.mkdir(parents=True, exist_ok=True)
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        # Temporary files left by a crash belong to no upload any more.
        for leftover in self.temp_dir.iterdir():
            leftover.unlink(missing_ok=True)

    def path_for(self, sha256: str) -> Path:
        # sha256 is always our own hex digest, never client input: no traversal possible.
        return self.content_dir / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    async def receive(self, chunks: AsyncIterator[bytes], limit: int) -> ReceivedFile:
        """Stream chunks to a temporary file while hashing; stop as soon as more than limit arrive."""
        temp_path = self.temp_dir / f"upload-{secrets.token_hex(12)}"
        hasher = hashlib.sha256()
        size = 0
        pending = bytearray()
        out = await asyncio.to_thread(open, temp_path, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(limit)
                pending += chunk
                if len(pending) >= WRITE_CHUNK:
                    await asyncio.to_thread(_write_and_hash, out, hasher, bytes(pending))
                    pending.clear()
            if pending:
                await asyncio.to_thread(_write_and_hash, out, hasher, bytes(pending))
            await asyncio.to_thread(out.close)
        except BaseException:
            await asyncio.to_thread(out.close)
            temp_path.unlink(missing_ok=True)
            raise
        return ReceivedFile(temp_path, hasher.hexdigest(), size)

    async def store_bytes(self, data: bytes) -> ReceivedFile:
        """Put in-memory bytes (a thumbnail, a remote file) into the temporary directory."""

        async def one_chunk() -> AsyncIterator[bytes]:
            yield data

        return await self.receive(one_chunk(), len(data))

    def place(self, received: ReceivedFile) -> Path:
        """Move a received file to its content path; drop it if that content is stored already.

        Call with ``lock`` held, together with inserting the row that references it.
        """
        final = self.path_for(received.sha256)
        if final.is_file():
            received.temp_path.unlink(missing_ok=True)
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(received.temp_path, final)
        return final

    def discard(self, received: ReceivedFile) -> None:
        received.temp_path.unlink(missing_ok=True)

    def delete(self, sha256: str) -> None:
        """Remove a content file (call with ``lock`` held, after checking no row references it)."""
        path = self.path_for(sha256)
        path.unlink(missing_ok=True)
        for parent in (path.parent, path.parent.parent):
            try:
                parent.rmdir()
            except OSError:
                break  # not empty
        logger.info("deleted media content %s", sha256)
