"""End-to-end encryption keys over federation.

spec: server-server-api.md, "End-to-End Encryption" and "Device Management";
data/api/server-server/user_keys.yaml and user_devices.yaml:
POST /user/keys/query, POST /user/keys/claim, GET /user/devices/{userId}.
Only this server's users are answered for; other users are left out.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from homeserver.api.federation.request import require_origin
from homeserver.api.request import get_hs, read_json_object
from homeserver.api.response import json_response
from homeserver.errors import bad_json, missing_param, not_found

routes = web.RouteTableDef()
V1 = "/_matrix/federation/v1"


def _object_field(body: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in body:
        raise missing_param(f"{name} is required")
    value = body[name]
    if not isinstance(value, dict):
        raise bad_json(f"{name} must be an object")
    return value


@routes.post(V1 + "/user/keys/query")
async def query_user_keys(request: web.Request) -> web.Response:
    await require_origin(request)
    hs = get_hs(request)
    wanted_raw = _object_field(await read_json_object(request), "device_keys")
    wanted: dict[str, list[str]] = {}
    for user_id, device_ids in wanted_raw.items():
        if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
            raise bad_json(f"device_keys.{user_id} must be a list of device IDs")
        if hs.is_mine(user_id):
            wanted[user_id] = device_ids
    return json_response(await hs.e2e_keys.query_local(wanted, None))


@routes.post(V1 + "/user/keys/claim")
async def claim_user_keys(request: web.Request) -> web.Response:
    await require_origin(request)
    hs = get_hs(request)
    wanted_raw = _object_field(await read_json_object(request), "one_time_keys")
    wanted: dict[str, dict[str, str]] = {}
    for user_id, devices in wanted_raw.items():
        if not isinstance(devices, dict) or not all(isinstance(a, str) for a in devices.values()):
            raise bad_json(f"one_time_keys.{user_id} must map device IDs to algorithms")
        if hs.is_mine(user_id):
            wanted[user_id] = devices
    return json_response({"one_time_keys": await hs.e2e_keys.claim_local(wanted)})


@routes.get(V1 + "/user/devices/{user_id}")
async def user_devices(request: web.Request) -> web.Response:
    await require_origin(request)
    hs = get_hs(request)
    user_id = request.match_info["user_id"]
    if not hs.is_mine(user_id) or not await hs.accounts.user_exists(user_id):
        raise not_found("No such user on this server")
    return json_response(await hs.e2e_keys.user_devices(user_id))
