"""Endpoints for application services and the third-party lookups they answer.

spec: client-server-api, "POST /_matrix/client/v1/appservice/{appserviceId}/ping";
application-service-api.md, "Third-party networks" ("GET /thirdparty/protocols").
"""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import json_response
from homeserver.errors import MatrixError, not_found

routes = web.RouteTableDef()


@routes.post("/_matrix/client/v1/appservice/{appservice_id}/ping")
async def ping(request: web.Request) -> web.Response:
    hs = get_hs(request)
    requester = await require_user(request)
    body = await read_json_object(request, allow_empty=True)
    transaction_id = body.get("transaction_id")
    if transaction_id is not None and not isinstance(transaction_id, str):
        raise MatrixError("M_BAD_JSON", 400, "transaction_id must be a string")
    duration = await hs.appservices.ping(requester, request.match_info["appservice_id"], transaction_id)
    return json_response({"duration_ms": duration})


@routes.get("/_matrix/client/{version:(?:v3|r0)}/thirdparty/protocols")
async def thirdparty_protocols(request: web.Request) -> web.Response:
    await require_user(request)
    return json_response(await get_hs(request).appservices.thirdparty_protocols())


@routes.get("/_matrix/client/{version:(?:v3|r0)}/thirdparty/protocol/{protocol}")
async def thirdparty_protocol(request: web.Request) -> web.Response:
    await require_user(request)
    protocols = await get_hs(request).appservices.thirdparty_protocols()
    found = protocols.get(request.match_info["protocol"])
    if found is None:
        raise not_found("Unknown protocol")
    return json_response(found)
