"""GET /hierarchy and GET /room_summary (spec: data/api/client-server/space_hierarchy.yaml,
room_summary.yaml)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, optional_user, query_bool, query_int, require_user
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
        max_depth=query_int(request, "max_depth", 0, minimum=0) if "max_depth" in query else None,
        limit=query_int(request, "limit", 0, minimum=1) or None,
        from_token=query.get("from"),
    )
    return json_response(body)


@routes.get("/_matrix/client/v1/room_summary/{room_id_or_alias}")
async def room_summary(request: web.Request) -> web.Response:
    # spec: servers MAY allow unauthenticated access for public/knockable/world-readable rooms.
    requester = await optional_user(request)
    hs = get_hs(request)
    summary = await hs.spaces.room_summary(
        requester.user_id if requester is not None else None,
        request.match_info["room_id_or_alias"],
        request.query.getall("via", []),
    )
    return json_response(summary)
