"""GET/PUT /presence/{userId}/status (spec: data/api/client-server/presence.yaml)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import empty_response, json_response
from homeserver.errors import MatrixError, forbidden, missing_param

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


@routes.put(V3 + "/presence/{user_id}/status")
async def set_presence(request: web.Request) -> web.Response:
    requester = await require_user(request)
    if request.match_info["user_id"] != requester.user_id:
        raise forbidden("You cannot set the presence of another user")
    body = await read_json_object(request)
    if "presence" not in body:
        raise missing_param("presence is required")
    if not isinstance(body["presence"], str):
        raise MatrixError("M_BAD_JSON", 400, "presence must be a string")
    hs = get_hs(request)
    if "status_msg" in body:
        await hs.presence.set_presence(requester.user_id, body["presence"], body["status_msg"])
    else:
        await hs.presence.set_presence(requester.user_id, body["presence"])
    return empty_response()


@routes.get(V3 + "/presence/{user_id}/status")
async def get_presence(request: web.Request) -> web.Response:
    requester = await require_user(request)
    hs = get_hs(request)
    return json_response(await hs.presence.get_presence(requester.user_id, request.match_info["user_id"]))
