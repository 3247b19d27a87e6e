"""PUT /sendToDevice/{eventType}/{txnId} (spec: data/api/client-server/to_device.yaml)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import empty_response
from homeserver.errors import MatrixError, missing_param

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


@routes.put(V3 + "/sendToDevice/{event_type}/{txn_id}")
async def send_to_device(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    if "messages" not in body:
        raise missing_param("messages is required")
    messages = body["messages"]
    if not isinstance(messages, dict):
        raise MatrixError("M_BAD_JSON", 400, "messages must be an object")
    await get_hs(request).to_device.send(
        requester, request.match_info["event_type"], request.match_info["txn_id"], messages
    )
    return empty_response()
