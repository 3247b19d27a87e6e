"""GET and POST /_matrix/federation/v1/publicRooms: this server's published rooms.

spec: server-server-api.md, "Public Room Directory"; data/api/server-server/public_rooms.yaml.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from homeserver.api.federation.request import require_origin
from homeserver.api.request import get_hs, query_bool, query_int, read_json_object
from homeserver.errors import MatrixError

routes = web.RouteTableDef()

PATH = "/_matrix/federation/v1/publicRooms"


@routes.get(PATH)
async def public_rooms_get(request: web.Request) -> web.Response:
    await require_origin(request)
    limit = query_int(request, "limit", -1, minimum=-1)
    query_bool(request, "include_all_networks")  # only the Matrix network is served
    body = await get_hs(request).rooms.public_rooms(
        None if limit < 0 else limit, request.query.get("since"), None
    )
    return web.json_response(body)


@routes.post(PATH)
async def public_rooms_post(request: web.Request) -> web.Response:
    await require_origin(request)
    body = await read_json_object(request, allow_empty=True)
    limit = body.get("limit")
    since = body.get("since")
    filt = body.get("filter")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise MatrixError("M_INVALID_PARAM", 400, "limit must be a non-negative integer")
    if since is not None and not isinstance(since, str):
        raise MatrixError("M_INVALID_PARAM", 400, "since must be a string")
    if filt is not None and not isinstance(filt, dict):
        raise MatrixError("M_INVALID_PARAM", 400, "filter must be an object")
    term: Any = (filt or {}).get("generic_search_term")
    if term is not None and not isinstance(term, str):
        raise MatrixError("M_INVALID_PARAM", 400, "generic_search_term must be a string")
    return web.json_response(await get_hs(request).rooms.public_rooms(limit, since, term))
