"""GET /voip/turnServer — spec: data/api/client-server/voip.yaml."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, require_user
from homeserver.api.response import empty_response, json_response

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


@routes.get(V3 + "/voip/turnServer")
async def get_turn_server(request: web.Request) -> web.Response:
    requester = await require_user(request)
    credentials = get_hs(request).turn.credentials_for(requester)
    if credentials is None:
        # voip.yaml defines no answer for "no TURN server"; like Synapse (and Dendrite),
        # 200 with an empty object, which clients read as "no TURN" (no uris).
        return empty_response()
    return json_response(credentials.to_json())
