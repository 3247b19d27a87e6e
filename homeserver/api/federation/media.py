"""Our media for other servers: GET /_matrix/federation/v1/media/{download,thumbnail}/{mediaId}.

spec: server-server-api.md, "Content Repository"; data/api/server-server/content_repository.yaml.
The answer is multipart/mixed with exactly two parts: a JSON object of metadata
(always ``{}`` today), then the file with its Content-Type and Content-Disposition.
The file is streamed from disk, never read whole into memory.
"""

from __future__ import annotations

import asyncio
import secrets

from aiohttp import web

from homeserver.api.client.media import DEFAULT_TIMEOUT_MS, method_of, thumbnail_dimension
from homeserver.api.client.media_response import (
    SECURITY_HEADERS,
    content_disposition,
    download_disposition,
)
from homeserver.api.federation.request import require_origin
from homeserver.api.request import get_hs, query_bool, query_int
from homeserver.errors import invalid_param, not_found
from homeserver.services.media.repository import ServedMedia, is_valid_media_id

routes = web.RouteTableDef()

V1 = "/_matrix/federation/v1"
FILE_CHUNK = 256 * 1024


def _media_id(request: web.Request) -> str:
    media_id = request.match_info["media_id"]
    if not is_valid_media_id(media_id):
        raise not_found("Media not found")
    return media_id


async def multipart_response(request: web.Request, served: ServedMedia, disposition: str) -> web.StreamResponse:
    boundary = secrets.token_hex(16)
    head = (
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{{}}\r\n"
        f"--{boundary}\r\nContent-Type: {served.content_type}\r\nContent-Disposition: {disposition}\r\n\r\n"
    ).encode("latin-1", "replace")
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")
    response = web.StreamResponse(headers={
        "Content-Type": f"multipart/mixed; boundary={boundary}",
        **SECURITY_HEADERS,
    })
    response.content_length = len(head) + served.size + len(tail)
    await response.prepare(request)
    await response.write(head)
    with await asyncio.to_thread(open, served.path, "rb") as source:
        while chunk := await asyncio.to_thread(source.read, FILE_CHUNK):
            await response.write(chunk)
    await response.write(tail)
    await response.write_eof()
    return response


@routes.get(V1 + "/media/download/{media_id}")
async def federation_download(request: web.Request) -> web.StreamResponse:
    await require_origin(request)
    served = await get_hs(request).media.get_local(
        _media_id(request), query_int(request, "timeout_ms", DEFAULT_TIMEOUT_MS)
    )
    return await multipart_response(request, served, download_disposition(served))


@routes.get(V1 + "/media/thumbnail/{media_id}")
async def federation_thumbnail(request: web.Request) -> web.StreamResponse:
    await require_origin(request)
    hs = get_hs(request)
    media_id = _media_id(request)
    width, height = thumbnail_dimension(request, "width"), thumbnail_dimension(request, "height")
    method = request.query.get("method", "scale")
    if method not in ("crop", "scale"):
        raise invalid_param("method must be crop or scale")
    served = await hs.media.thumbnail(
        hs.server_name, media_id, width, height, method_of(method),
        animated=query_bool(request, "animated", False),
        allow_remote=False,
        timeout_ms=query_int(request, "timeout_ms", DEFAULT_TIMEOUT_MS),
    )
    return await multipart_response(request, served, content_disposition("inline", served.upload_name or "thumbnail"))
