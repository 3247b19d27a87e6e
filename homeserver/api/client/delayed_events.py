"""MSC4140 delayed events: list, restart, cancel or send what a user scheduled.

Scheduling is a query parameter of PUT send/state (``homeserver/api/client/events.py``).
spec: MSC4140 (org.matrix.msc4140); shapes as Synapse's ``synapse/rest/client/delayed_events.py``.
"""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import json_response
from homeserver.errors import invalid_param, missing_param

routes = web.RouteTableDef()
PREFIX = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events"
ACTIONS = ("cancel", "restart", "send")


@routes.get(PREFIX)
async def list_delayed_events(request: web.Request) -> web.Response:
    requester = await require_user(request)
    scheduled = await get_hs(request).delayed_events.scheduled_for(requester)
    return json_response({"delayed_events": scheduled})


@routes.post(PREFIX + "/{delay_id}")
async def update_delayed_event(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    if "action" not in body:
        raise missing_param("'action' is missing")
    action = body["action"]
    if action not in ACTIONS:
        raise invalid_param("'action' is not one of " + ", ".join(f"'{a}'" for a in ACTIONS))
    service = get_hs(request).delayed_events
    delay_id = request.match_info["delay_id"]
    if action == "cancel":
        await service.cancel(requester, delay_id)
    elif action == "restart":
        await service.restart(requester, delay_id)
    else:
        await service.send_now(requester, delay_id)
    return json_response({})
