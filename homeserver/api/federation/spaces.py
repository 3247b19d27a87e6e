"""GET /_matrix/federation/v1/hierarchy/{roomId} (spec: server-server-api.md, "Spaces")."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.federation.request import require_origin
from homeserver.api.request import get_hs, query_bool
from homeserver.api.response import json_response
from homeserver.services.graph.server_acl import check_server_acl

routes = web.RouteTableDef()


@routes.get("/_matrix/federation/v1/hierarchy/{room_id}")
async def hierarchy(request: web.Request) -> web.Response:
    origin = await require_origin(request)
    hs = get_hs(request)
    room_id = request.match_info["room_id"]
    await check_server_acl(hs.events, origin, room_id)
    body = await hs.spaces.federation_hierarchy(
        origin, room_id, query_bool(request, "suggested_only", False)
    )
    return json_response(body)
