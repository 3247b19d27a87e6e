"""Reporting content: events, rooms and users.

spec: client-server-api/_index.md, "Reporting content"; data/api/client-server/report_content.yaml.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr

from homeserver.api.request import get_hs, read_model, require_user
from homeserver.api.response import empty_response
from homeserver.errors import invalid_param
from schemas.identifiers import is_valid_user_id

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


class EventReportBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    reason: StrictStr | None = None
    # Removed in spec v1.18 but still sent by older clients: -100 (most offensive) to 0.
    score: StrictInt | None = None


class ReasonRequiredBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    reason: StrictStr


@routes.post(V3 + "/rooms/{room_id}/report/{event_id}")
async def report_event(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, EventReportBody)
    if body.score is not None and not -100 <= body.score <= 0:
        raise invalid_param("score must be between -100 and 0")
    await get_hs(request).reports.report_event(
        requester.user_id, request.match_info["room_id"], request.match_info["event_id"], body.reason, body.score
    )
    return empty_response()


@routes.post(V3 + "/rooms/{room_id}/report")
async def report_room(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, ReasonRequiredBody)
    await get_hs(request).reports.report_room(requester.user_id, request.match_info["room_id"], body.reason)
    return empty_response()


@routes.post(V3 + "/users/{user_id}/report")
async def report_user(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, ReasonRequiredBody)
    user_id = request.match_info["user_id"]
    if not is_valid_user_id(user_id):
        raise invalid_param("Invalid user ID")
    await get_hs(request).reports.report_user(requester.user_id, user_id, body.reason)
    return empty_response()
