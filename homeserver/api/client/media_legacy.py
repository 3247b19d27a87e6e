"""The deprecated ``/_matrix/media/v3`` download, thumbnail and config endpoints.

spec: data/api/client-server/content-repo.yaml. Downloads and thumbnails here need
no access token (deprecated in v1.11 in favour of ``/_matrix/client/v1/media``);
servers MAY "freeze" them, which Parley does not do yet. ``preview_url`` is in
url_preview.py.
"""

from __future__ import annotations

from aiohttp import web

from homeserver.api.client.media import download, media_config, thumbnail

routes = web.RouteTableDef()

LEGACY_MEDIA = "/_matrix/media/{version:(?:v3|r0)}"


@routes.get(LEGACY_MEDIA + "/config")
async def get_legacy_media_config(request: web.Request) -> web.Response:
    return await media_config(request)


@routes.get(LEGACY_MEDIA + "/download/{server_name}/{media_id}")
async def get_legacy_download(request: web.Request) -> web.StreamResponse:
    return await download(request)


@routes.get(LEGACY_MEDIA + "/download/{server_name}/{media_id}/{file_name}")
async def get_legacy_download_named(request: web.Request) -> web.StreamResponse:
    return await download(request)


@routes.get(LEGACY_MEDIA + "/thumbnail/{server_name}/{media_id}")
async def get_legacy_thumbnail(request: web.Request) -> web.StreamResponse:
    return await thumbnail(request)
