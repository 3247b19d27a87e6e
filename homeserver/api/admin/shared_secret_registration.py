"""Synapse's shared-secret registration: GET/POST /_synapse/admin/v1/register.

Not in the Matrix spec; see homeserver/services/admin/shared_secret_registration.py.
"""

from __future__ import annotations

from aiohttp import web

from homeserver.api.admin.auth import SYNAPSE_V1
from homeserver.api.request import client_ip, get_hs, read_json_object
from homeserver.api.response import json_response

routes = web.RouteTableDef()


@routes.get(SYNAPSE_V1 + "/register")
async def registration_nonce(request: web.Request) -> web.Response:
    return json_response({"nonce": get_hs(request).shared_secret_registration.new_nonce()})


@routes.post(SYNAPSE_V1 + "/register")
async def register_with_shared_secret(request: web.Request) -> web.Response:
    hs = get_hs(request)
    hs.accounts.login_limiter.check(client_ip(request))
    body = await read_json_object(request)
    session = await hs.shared_secret_registration.register(body, client_ip(request))
    return json_response({
        "user_id": session.user_id, "device_id": session.device_id,
        "access_token": session.access_token, "home_server": hs.server_name,
    })
