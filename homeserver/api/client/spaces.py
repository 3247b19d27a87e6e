"""GET /hierarchy (spec: data/api/client-server/space_hierarchy.yaml)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, query_bool, query_int, require_user
from homeserver.api.response import json_response

routes = web.RouteTableDef()


@routes.get("/_matrix/client/v1/rooms/{room_id}/hierarchy")
async def hierarchy(request: web.Request) -> web.Response:
    requester = await require_user(request)
    hs = get_hs(request)
    query = request.query
    body = await hs.spaces.hierarchy(
        requester.user_id,
        request.match_info["room_id"],
        suggested_only=query_bool(request, "suggested_only", False),
        max_depth=query_int(request, "max_depth", None, minimum=0) if "max_depth" in query else None,
        limit=query_int(request, "limit", 0, minimum=1) or None,
        from_token=query.get("from"),
    )
    return json_response(body)
