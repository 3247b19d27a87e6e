"""Receipts and read markers (spec: data/api/client-server/{receipts,read_markers}.yaml)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import empty_response

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


@routes.post(V3 + "/rooms/{room_id}/receipt/{receipt_type}/{event_id}")
async def post_receipt(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request, allow_empty=True)
    await get_hs(request).receipts.send_receipt(
        requester.user_id,
        request.match_info["room_id"],
        request.match_info["receipt_type"],
        request.match_info["event_id"],
        body.get("thread_id"),
    )
    return empty_response()


@routes.post(V3 + "/rooms/{room_id}/read_markers")
async def set_read_markers(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    await get_hs(request).receipts.set_read_markers(requester.user_id, request.match_info["room_id"], body)
    return empty_response()
