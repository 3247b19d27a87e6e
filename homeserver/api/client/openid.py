"""POST /user/{userId}/openid/request_token — spec: data/api/client-server/openid.yaml."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import json_response

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


@routes.post(V3 + "/user/{user_id}/openid/request_token")
async def request_openid_token(request: web.Request) -> web.Response:
    requester = await require_user(request)
    await read_json_object(request, allow_empty=True)  # spec: "An empty object. Reserved for future expansion."
    token = await get_hs(request).openid.request_token(requester, request.match_info["user_id"])
    return json_response(token.to_json())
