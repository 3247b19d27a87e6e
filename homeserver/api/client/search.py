"""POST /search (spec: data/api/client-server/search.yaml)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, read_model, require_user
from homeserver.api.response import json_response
from schemas.client.search import SearchRequest

routes = web.RouteTableDef()


@routes.post("/_matrix/client/v3/search")
async def search(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, SearchRequest)
    hs = get_hs(request)
    categories: dict[str, object] = {}
    criteria = body.search_categories.room_events
    if criteria is not None:
        categories["room_events"] = await hs.search.search(
            requester, criteria, request.query.get("next_batch")
        )
    return json_response({"search_categories": categories})
