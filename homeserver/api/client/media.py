"""The content repository (spec: data/api/client-server/content-repo.yaml and authed-content-repo.yaml).

Uploads stream from ``request.content`` in chunks, so the app-wide
``client_max_size`` (which only applies to ``request.read()``) does not limit
them; ``limits.max_upload_bytes`` does, counted as the bytes arrive.

``GET /_matrix/client/v1/media/preview_url`` is in url_preview.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from homeserver.api.client.media_response import download_response, thumbnail_response
from homeserver.api.request import get_hs, query_bool, query_int, require_user
from homeserver.api.response import empty_response, json_response
from homeserver.core.thumbnails import Method
from homeserver.errors import invalid_param, missing_param

routes = web.RouteTableDef()

MEDIA_UPLOAD = "/_matrix/media/{version:(?:v3|r0)}"
CLIENT_MEDIA = "/_matrix/client/v1/media"
READ_CHUNK = 64 * 1024
DEFAULT_TIMEOUT_MS = 20000
MAX_THUMBNAIL_DIMENSION = 65535


def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    return request.content.iter_chunked(READ_CHUNK)


@routes.post(MEDIA_UPLOAD + "/upload")
async def upload(request: web.Request) -> web.Response:
    requester = await require_user(request)
    uri = await get_hs(request).media.upload(
        requester.user_id,
        body_chunks(request),
        request.headers.get("Content-Type"),
        request.query.get("filename"),
        request.content_length,
    )
    return json_response({"content_uri": uri})


@routes.post("/_matrix/media/v1/create")
async def create(request: web.Request) -> web.Response:
    requester = await require_user(request)
    uri, expires_at = await get_hs(request).media.create(requester.user_id)
    return json_response({"content_uri": uri, "unused_expires_at": expires_at})


@routes.put(MEDIA_UPLOAD + "/upload/{server_name}/{media_id}")
async def upload_to_created(request: web.Request) -> web.Response:
    requester = await require_user(request)
    await get_hs(request).media.upload_to(
        requester.user_id,
        request.match_info["server_name"],
        request.match_info["media_id"],
        body_chunks(request),
        request.headers.get("Content-Type"),
        request.query.get("filename"),
        request.content_length,
    )
    return empty_response()


async def media_config(request: web.Request) -> web.Response:
    await require_user(request)
    return json_response({"m.upload.size": get_hs(request).media.max_upload_bytes})


async def download(request: web.Request) -> web.StreamResponse:
    """Both the authenticated and the legacy download; handlers decide who may call."""
    served = await get_hs(request).media.get(
        request.match_info["server_name"],
        request.match_info["media_id"],
        allow_remote=query_bool(request, "allow_remote", True),
        timeout_ms=query_int(request, "timeout_ms", DEFAULT_TIMEOUT_MS),
    )
    return download_response(served, request.match_info.get("file_name"))


async def thumbnail(request: web.Request) -> web.StreamResponse:
    width, height = thumbnail_dimension(request, "width"), thumbnail_dimension(request, "height")
    method = request.query.get("method", "scale")
    if method not in ("crop", "scale"):
        raise invalid_param("method must be crop or scale")
    served = await get_hs(request).media.thumbnail(
        request.match_info["server_name"],
        request.match_info["media_id"],
        width,
        height,
        method_of(method),
        animated=query_bool(request, "animated", False),
        allow_remote=query_bool(request, "allow_remote", True),
        timeout_ms=query_int(request, "timeout_ms", DEFAULT_TIMEOUT_MS),
    )
    return thumbnail_response(served)


def thumbnail_dimension(request: web.Request, name: str) -> int:
    # spec: thumbnail 400 — "the client requested non-integer dimensions or asked for
    # negatively-sized images".
    if name not in request.query:
        raise missing_param(f"{name} is required")
    # Larger than any image we decode (max_image_pixels), and it keeps cache keys in range.
    return query_int(request, name, 0, minimum=1, maximum=MAX_THUMBNAIL_DIMENSION)


def method_of(value: str) -> Method:
    return "crop" if value == "crop" else "scale"


@routes.get(CLIENT_MEDIA + "/config")
async def get_media_config(request: web.Request) -> web.Response:
    return await media_config(request)


@routes.get(CLIENT_MEDIA + "/download/{server_name}/{media_id}")
async def get_download(request: web.Request) -> web.StreamResponse:
    await require_user(request)
    return await download(request)


@routes.get(CLIENT_MEDIA + "/download/{server_name}/{media_id}/{file_name}")
async def get_download_named(request: web.Request) -> web.StreamResponse:
    await require_user(request)
    return await download(request)


@routes.get(CLIENT_MEDIA + "/thumbnail/{server_name}/{media_id}")
async def get_thumbnail(request: web.Request) -> web.StreamResponse:
    await require_user(request)
    return await thumbnail(request)
