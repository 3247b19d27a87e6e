"""POST /rooms/{roomId}/upgrade.

spec: data/api/client-server/room_upgrades.yaml; client-server-api/modules/room_upgrades.md.
"""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import json_response

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


@routes.post(V3 + "/rooms/{room_id}/upgrade")
async def upgrade_room(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    new_room_id = await get_hs(request).room_upgrades.upgrade(
        requester.user_id, request.match_info["room_id"], body
    )
    return json_response({"replacement_room": new_room_id})
