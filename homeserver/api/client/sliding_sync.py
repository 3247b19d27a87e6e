"""Simplified Sliding Sync (MSC4186), at the path Synapse serves it."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.client.sync import MAX_SYNC_TIMEOUT_MS
from homeserver.api.request import get_hs, query_int, read_model, require_user
from homeserver.api.response import json_response
from homeserver.services.sync.sliding_sync import SlidingSyncCall
from schemas.client.sliding_sync import SlidingSyncRequest

routes = web.RouteTableDef()

SLIDING_SYNC_PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"


@routes.post(SLIDING_SYNC_PATH)
async def sliding_sync(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, SlidingSyncRequest, allow_empty=True)
    timeout = query_int(request, "timeout", 0, minimum=0, maximum=MAX_SYNC_TIMEOUT_MS)
    pos = request.query.get("pos") or None
    result = await get_hs(request).sliding_sync.sliding_sync(
        SlidingSyncCall(requester=requester, body=body, pos=pos, timeout_ms=timeout)
    )
    return json_response(result)
