"""GET /_matrix/federation/v1/timestamp_to_event/{roomId} (spec: server-server-api.md,
"Timestamp to event"; MSC3030)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.federation.request import require_origin
from homeserver.api.request import get_hs, query_int
from homeserver.api.response import json_response
from homeserver.errors import MatrixError, not_found
from homeserver.services.graph.server_acl import check_server_acl

routes = web.RouteTableDef()


@routes.get("/_matrix/federation/v1/timestamp_to_event/{room_id}")
async def timestamp_to_event(request: web.Request) -> web.Response:
    origin = await require_origin(request)
    hs = get_hs(request)
    room_id = request.match_info["room_id"]
    await check_server_acl(hs.events, origin, room_id)
    await hs.federated_history.require_server_in_room(origin, room_id)
    if "ts" not in request.query:
        raise MatrixError("M_MISSING_PARAM", 400, "ts is required")
    ts = query_int(request, "ts", 0)
    direction = request.query.get("dir")
    if direction not in ("f", "b"):
        raise MatrixError("M_INVALID_PARAM", 400, "dir must be f or b")
    # Only what is held here: asking further servers is the requesting server's business.
    found = await hs.jump_to_date.local(room_id, ts, direction == "f")
    if found is None:
        raise not_found(f"No event found {'after' if direction == 'f' else 'before'} {ts} in {room_id}")
    return json_response({"event_id": found[0], "origin_server_ts": found[1]})
