"""/sync and filters (spec: data/api/client-server/{sync,filter}.yaml)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, query_bool, query_int, read_json_object, require_user
from homeserver.api.response import json_response
from homeserver.core.stream_token import StreamToken
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.sync.filters import filter_id_of
from homeserver.services.sync.sync import SyncRequest

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"

MAX_SYNC_TIMEOUT_MS = 5 * 60 * 1000


@routes.get(V3 + "/sync")
async def sync(request: web.Request) -> web.Response:
    requester = await require_user(request)
    hs = get_hs(request)
    since_raw = request.query.get("since")
    since = StreamToken.parse(since_raw) if since_raw else None
    timeout = query_int(request, "timeout", 0, minimum=0, maximum=MAX_SYNC_TIMEOUT_MS)
    full_state = query_bool(request, "full_state")
    set_presence = request.query.get("set_presence")
    if set_presence is not None and set_presence not in ("online", "offline", "unavailable"):
        raise MatrixError("M_INVALID_PARAM", 400, "set_presence must be online, offline or unavailable")
    sync_filter = await hs.sync_filters.for_sync(requester.user_id, request.query.get("filter"))
    await hs.presence.on_sync(requester.user_id, set_presence or "online")
    result = await hs.sync.sync(
        SyncRequest(
            requester=requester,
            filter=sync_filter,
            since=since,
            full_state=full_state,
            timeout_ms=timeout,
            set_presence=set_presence,
        )
    )
    return json_response(result)


@routes.post(V3 + "/user/{user_id}/filter")
async def upload_filter(request: web.Request) -> web.Response:
    requester = await require_user(request)
    if request.match_info["user_id"] != requester.user_id:
        raise forbidden("Cannot create filters for other users")
    body = await read_json_object(request)
    filter_id = await get_hs(request).sync_filters.upload(requester.user_id, body)
    return json_response({"filter_id": str(filter_id)})


@routes.get(V3 + "/user/{user_id}/filter/{filter_id}")
async def get_filter(request: web.Request) -> web.Response:
    requester = await require_user(request)
    if request.match_info["user_id"] != requester.user_id:
        raise forbidden("Cannot read other users' filters")
    filter_id = filter_id_of(request.match_info["filter_id"])
    if filter_id is None:
        raise not_found("No such filter")
    return json_response(await get_hs(request).sync_filters.get(requester.user_id, filter_id))
