"""End-to-end encryption key endpoints.

spec: data/api/client-server/keys.yaml (/keys/upload, /keys/query, /keys/claim,
/keys/changes) and cross_signing.yaml (/keys/device_signing/upload,
/keys/signatures/upload).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import json_response
from homeserver.core.stream_token import StreamToken
from homeserver.errors import bad_json, invalid_param, missing_param
from homeserver.services.e2ee.keys import DEFAULT_REMOTE_TIMEOUT_MS
from schemas.identifiers import is_valid_user_id

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"
MAX_REMOTE_TIMEOUT_MS = 60_000


@routes.post(V3 + "/keys/upload")
async def upload_keys(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request, allow_empty=True)
    counts = await get_hs(request).e2e_keys.upload(requester, body)
    return json_response({"one_time_key_counts": counts})


def _object_field(body: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in body:
        raise missing_param(f"{name} is required")
    value = body[name]
    if not isinstance(value, dict):
        raise bad_json(f"{name} must be an object")
    return value


def _check_user_id(user_id: str) -> None:
    # A malformed ID must not send us asking some arbitrary host over federation.
    if not is_valid_user_id(user_id):
        raise invalid_param(f"{user_id!r} is not a user ID")


def _timeout_ms(body: dict[str, Any]) -> int:
    """spec: keys.yaml "timeout" — milliseconds to wait for remote servers (default 10 s)."""
    timeout = body.get("timeout", DEFAULT_REMOTE_TIMEOUT_MS)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
        raise bad_json("timeout must be a non-negative integer")
    return min(timeout, MAX_REMOTE_TIMEOUT_MS)


@routes.post(V3 + "/keys/query")
async def query_keys(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    wanted_raw = _object_field(body, "device_keys")
    wanted: dict[str, list[str]] = {}
    for user_id, device_ids in wanted_raw.items():
        _check_user_id(user_id)
        if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
            raise bad_json(f"device_keys.{user_id} must be a list of device IDs")
        wanted[user_id] = device_ids
    return json_response(await get_hs(request).e2e_keys.query(requester, wanted, _timeout_ms(body)))


@routes.post(V3 + "/keys/claim")
async def claim_keys(request: web.Request) -> web.Response:
    await require_user(request)
    body = await read_json_object(request)
    wanted_raw = _object_field(body, "one_time_keys")
    wanted: dict[str, dict[str, str]] = {}
    for user_id, devices in wanted_raw.items():
        _check_user_id(user_id)
        if not isinstance(devices, dict) or not all(isinstance(a, str) for a in devices.values()):
            raise bad_json(f"one_time_keys.{user_id} must map device IDs to algorithms")
        wanted[user_id] = devices
    return json_response(await get_hs(request).e2e_keys.claim(wanted, _timeout_ms(body)))


@routes.get(V3 + "/keys/changes")
async def key_changes(request: web.Request) -> web.Response:
    requester = await require_user(request)
    raw_from, raw_to = request.query.get("from"), request.query.get("to")
    if not raw_from:
        raise missing_param("from is required")
    if not raw_to:
        raise missing_param("to is required")
    hs = get_hs(request)
    changes = await hs.e2e_keys.changes(requester, StreamToken.parse(raw_from), StreamToken.parse(raw_to))
    return json_response(changes)


@routes.post(V3 + "/keys/device_signing/upload")
async def upload_cross_signing_keys(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    await get_hs(request).cross_signing.upload_keys(requester, body)
    return json_response({})


@routes.post(V3 + "/keys/signatures/upload")
async def upload_signatures(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    failures = await get_hs(request).cross_signing.upload_signatures(requester, body)
    return json_response({"failures": failures})
