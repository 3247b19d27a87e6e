"""GET /_matrix/federation/v1/query/directory and /query/profile.

spec: server-server-api.md, "Querying for information"; data/api/server-server/query.yaml.
"""

from __future__ import annotations

from aiohttp import web

from homeserver.api.federation.request import require_origin
from homeserver.api.request import get_hs
from homeserver.errors import MatrixError, not_found
from homeserver.services.social.profile import FIELDS
from schemas.identifiers import is_valid_room_alias

routes = web.RouteTableDef()

V1 = "/_matrix/federation/v1"


@routes.get(V1 + "/query/directory")
async def query_directory(request: web.Request) -> web.Response:
    await require_origin(request)
    alias = request.query.get("room_alias")
    if not alias:
        raise MatrixError("M_MISSING_PARAM", 400, "room_alias is required")
    if not is_valid_room_alias(alias):
        raise MatrixError("M_INVALID_PARAM", 400, "Invalid room alias")
    return web.json_response(await get_hs(request).room_directory.answer_alias_query(alias))


@routes.get(V1 + "/query/profile")
async def query_profile(request: web.Request) -> web.Response:
    await require_origin(request)
    hs = get_hs(request)
    user_id = request.query.get("user_id")
    if not user_id:
        raise MatrixError("M_MISSING_PARAM", 400, "user_id is required")
    field = request.query.get("field")
    if field is not None and field not in FIELDS:
        raise MatrixError("M_INVALID_PARAM", 400, f"field must be one of {', '.join(FIELDS)}")
    if not hs.is_mine(user_id):
        raise not_found("The user is not on this server")
    profile = await hs.profile.get_profile(user_id)  # 404 M_NOT_FOUND for unknown users
    if field is not None:
        profile = {k: v for k, v in profile.items() if k == field}
    return web.json_response(profile)
