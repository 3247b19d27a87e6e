"""Remote media: fetch mxc://other.server/id over federation and cache it locally.

spec: server-server-api.md, "Content Repository" and data/api/server-server/
content_repository.yaml. ``GET /_matrix/federation/v1/media/download/{mediaId}``
answers multipart/mixed: a JSON part (metadata, currently ``{}``), then either the
bytes or a ``Location`` header to fetch them from. Servers without that endpoint
answer 404 M_UNRECOGNIZED; then we fall back to the deprecated
``/_matrix/media/v3/download`` with ``allow_remote=false``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
import orjson

from federation.transport.client import FederationClient
from homeserver.clock import Clock
from homeserver.config import FederationConfig, LimitsConfig, MediaConfig
from homeserver.errors import MatrixError, not_found
from homeserver.services.media.files import MediaFiles
from homeserver.storage.media import MediaStore, RemoteMedia

logger = logging.getLogger(__name__)

# Room for the multipart framing and JSON part around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
FETCH_TIMEOUT_SECONDS = 60.0
TOUCH_INTERVAL_MS = 10 * 60 * 1000

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_FILENAME_STAR = re.compile(r"filename\*\s*=\s*([^']*)'[^']*'([^;\s]+)", re.IGNORECASE)
_FILENAME = re.compile(r'filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))', re.IGNORECASE)


class MultipartError(ValueError):
    """The body is not the two-part multipart/mixed the spec describes."""


@dataclass(frozen=True, slots=True)
class MediaPart:
    """The second part of a federation media response: the bytes, or where to get them."""

    metadata: dict[str, Any]
    content_type: str | None
    filename: str | None
    data: bytes | None
    location: str | None


def filename_from_disposition(header: str | None) -> str | None:
    """The filename of a Content-Disposition header (RFC 6266: filename* wins over filename)."""
    if not header:
        return None
    star = _FILENAME_STAR.search(header)
    if star:
        charset = star.group(1) or "utf-8"
        try:
            return unquote(star.group(2), encoding=charset, errors="strict")
        except (LookupError, UnicodeDecodeError):
            pass
    plain = _FILENAME.search(header)
    if plain:
        if plain.group(1) is not None:
            return re.sub(r"\\(.)", r"\1", plain.group(1))
        return plain.group(2)
    return None


def _parse_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in raw.split(b"\r\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise MultipartError("malformed part header")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def parse_multipart_media(body: bytes, content_type: str) -> MediaPart:
    """Parse a multipart/mixed media response (RFC 2046 section 5.1)."""
    if not content_type.lower().startswith("multipart/mixed"):
        raise MultipartError(f"expected multipart/mixed, got {content_type!r}")
    match = _BOUNDARY.search(content_type)
    if not match:
        raise MultipartError("multipart/mixed without a boundary")
    boundary = (match.group(1) or match.group(2)).encode("latin-1")
    # Every delimiter is CRLF "--" boundary; the first may open the body without the CRLF.
    pieces = (b"\r\n" + body).split(b"\r\n--" + boundary)
    parts: list[tuple[dict[str, str], bytes]] = []
    closed = False
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            closed = True
            break
        line_end = piece.find(b"\r\n")  # the rest of the delimiter line (transport padding)
        if line_end < 0:
            raise MultipartError("truncated part")
        rest = piece[line_end + 2 :]
        if rest.startswith(b"\r\n"):
            headers, content = {}, rest[2:]
        else:
            head, sep, content = rest.partition(b"\r\n\r\n")
            if not sep:
                raise MultipartError("part without a blank line after its headers")
            headers = _parse_headers(head)
        parts.append((headers, content))
    if not closed or len(parts) != 2:
        raise MultipartError(f"expected exactly two parts and a close delimiter, got {len(parts)}")
    (_json_headers, json_body), (media_headers, media_body) = parts
    try:
        metadata = orjson.loads(json_body) if json_body.strip() else {}
    except orjson.JSONDecodeError:
        raise MultipartError("first part is not JSON") from None
    if not isinstance(metadata, dict):
        raise MultipartError("first part is not a JSON object")
    location = media_headers.get("location")
    return MediaPart(
        metadata=metadata,
        content_type=media_headers.get("content-type"),
        filename=filename_from_disposition(media_headers.get("content-disposition")),
        data=None if location else media_body,
        location=location,
    )


def remote_failure(message: str) -> MatrixError:
    return MatrixError("M_UNKNOWN", 502, message)


def remote_too_large() -> MatrixError:
    # spec: content_repo.md — do not proxy large remote files: 502 M_TOO_LARGE.
    return MatrixError("M_TOO_LARGE", 502, "Remote content is too large to serve")


def max_remote_bytes(media: MediaConfig, limits: LimitsConfig) -> int:
    """The largest remote file fetched and cached: media.max_remote_bytes, else the upload limit."""
    return media.max_remote_bytes or limits.max_upload_bytes


class RemoteMediaFetcher:
    def __init__(
        self,
        store: MediaStore,
        files: MediaFiles,
        max_bytes: int,
        federation_client: FederationClient,
        federation_config: FederationConfig,
        clock: Clock,
    ) -> None:
        self.store = store
        self.files = files
        self.max_bytes = max_bytes
        self.federation_client = federation_client
        self.federation_config = federation_config
        self.clock = clock

    async def get(self, origin: str, media_id: str) -> RemoteMedia:
        """The cached copy of remote media, fetching it first if we have none."""
        now = self.clock.time_ms()
        cached = await self.store.get_remote(origin, media_id)
        if cached is not None and self.files.exists(cached.sha256):
            if now - cached.last_access_ts > TOUCH_INTERVAL_MS:
                await self.store.touch_remote(origin, media_id, now)
            return cached
        part = await self._download(origin, media_id)
        data = part.data
        if part.location is not None:
            # spec: do not cache the Location URL itself; the bytes behind it are cached.
            data, fetched_type, fetched_name = await self._follow_location(part.location)
            part = MediaPart(part.metadata, part.content_type or fetched_type,
                             part.filename or fetched_name, data, None)
        assert data is not None
        if len(data) > self.max_bytes:
            raise remote_too_large()
        received = await self.files.store_bytes(data)
        media = RemoteMedia(origin, media_id, part.content_type, part.filename, received.size,
                            received.sha256, now, now)
        async with self.files.lock:
            self.files.place(received)
            await self.store.upsert_remote(media)
        logger.info("cached remote media mxc://%s/%s (%d bytes)", origin, media_id, received.size)
        return media

    async def _download(self, origin: str, media_id: str) -> MediaPart:
        from federation.transport.errors import (
            FederationBadResponse,
            FederationError,
            FederationHttpError,
            FederationResponseTooLarge,
        )

        client = self.federation_client
        if not self.federation_config.enabled:
            raise not_found("Remote media is unavailable: federation is not enabled")
        limit = self.max_bytes + MULTIPART_OVERHEAD
        path = f"/_matrix/federation/v1/media/download/{quote(media_id, safe='')}"
        try:
            try:
                body, content_type = await client.get_bytes(
                    origin, path, {"timeout_ms": 20000}, max_bytes=limit, timeout=FETCH_TIMEOUT_SECONDS
                )
                return parse_multipart_media(body, content_type)
            except FederationHttpError as e:
                if not (e.status in (400, 404, 405) and e.errcode == "M_UNRECOGNIZED"):
                    raise
            # spec: server-server-api.md, "Content Repository": fall back with allow_remote=false.
            legacy = f"/_matrix/media/v3/download/{quote(origin, safe='')}/{quote(media_id, safe='')}"
            body, content_type = await client.get_bytes(
                origin, legacy, {"allow_remote": False}, max_bytes=self.max_bytes,
                timeout=FETCH_TIMEOUT_SECONDS,
            )
            return MediaPart({}, content_type, None, body, None)
        except MultipartError as e:
            logger.warning("bad media response from %s for %s: %s", origin, media_id, e)
            raise remote_failure("Remote server sent a malformed media response") from None
        except FederationHttpError as e:
            if e.status == 404:
                raise not_found("Remote media not found") from None
            if e.status == 504 and e.errcode == "M_NOT_YET_UPLOADED":
                raise MatrixError("M_NOT_YET_UPLOADED", 504, "Content has not yet been uploaded") from None
            if e.errcode == "M_TOO_LARGE":
                raise remote_too_large() from None
            raise remote_failure(f"Remote server answered {e.status}") from None
        except FederationResponseTooLarge:
            raise remote_too_large() from None
        except FederationBadResponse:
            raise remote_failure("Remote server sent a bad response") from None
        except FederationError as e:
            logger.info("cannot fetch mxc://%s/%s: %s", origin, media_id, e)
            raise remote_failure("Could not reach the remote server") from None

    async def _follow_location(self, location: str) -> tuple[bytes, str | None, str | None]:
        if not location.lower().startswith(("https://", "http://")):
            raise remote_failure("Remote media redirect is not an http(s) URL")
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(location) as resp:
                if resp.status != 200:
                    raise remote_failure(f"Remote media redirect answered {resp.status}")
                # StreamReader.read(n) returns after the first chunk: read until EOF.
                data = bytearray()
                async for chunk in resp.content.iter_chunked(256 * 1024):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise remote_too_large()
                return (bytes(data), resp.headers.get("Content-Type"),
                        filename_from_disposition(resp.headers.get("Content-Disposition")))
        except (aiohttp.ClientError, TimeoutError) as e:
            raise remote_failure(f"Could not fetch remote media redirect: {type(e).__name__}") from None
