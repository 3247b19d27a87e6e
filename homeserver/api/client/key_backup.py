"""Server-side key backup endpoints (spec: data/api/client-server/key_backup.yaml)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import json_response
from homeserver.errors import bad_json, missing_param
from homeserver.services.e2ee.key_backup import parse_session
from homeserver.storage.key_backup import BackedUpSession

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


# --- versions -------------------------------------------------------------------------------
@routes.post(V3 + "/room_keys/version")
async def create_version(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    version = await get_hs(request).key_backup.create_version(requester.user_id, body)
    return json_response({"version": version})


@routes.get(V3 + "/room_keys/version")
async def get_latest_version(request: web.Request) -> web.Response:
    requester = await require_user(request)
    return json_response(await get_hs(request).key_backup.describe_version(requester.user_id, None))


@routes.get(V3 + "/room_keys/version/{backup_version}")
async def get_version(request: web.Request) -> web.Response:
    requester = await require_user(request)
    raw = request.match_info["backup_version"]
    return json_response(await get_hs(request).key_backup.describe_version(requester.user_id, raw))


@routes.put(V3 + "/room_keys/version/{backup_version}")
async def update_version(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    await get_hs(request).key_backup.update_version(requester.user_id, request.match_info["backup_version"], body)
    return json_response({})


@routes.delete(V3 + "/room_keys/version/{backup_version}")
async def delete_version(request: web.Request) -> web.Response:
    requester = await require_user(request)
    await get_hs(request).key_backup.delete_version(requester.user_id, request.match_info["backup_version"])
    return json_response({})


# --- keys -------------------------------------------------------------------------------------
def _room_sessions(room_id: str, body: Any) -> list[BackedUpSession]:
    if not isinstance(body, dict):
        raise bad_json(f"rooms.{room_id} must be an object")
    sessions = body.get("sessions")
    if sessions is None:
        raise missing_param("sessions is required")
    if not isinstance(sessions, dict):
        raise bad_json("sessions must be an object")
    return [parse_session(room_id, session_id, data) for session_id, data in sessions.items()]


@routes.put(V3 + "/room_keys/keys")
async def put_all_keys(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    rooms = body.get("rooms")
    if rooms is None:
        raise missing_param("rooms is required")
    if not isinstance(rooms, dict):
        raise bad_json("rooms must be an object")
    sessions = [s for room_id, room in rooms.items() for s in _room_sessions(room_id, room)]
    result = await get_hs(request).key_backup.put_keys(requester.user_id, request.query.get("version"), sessions)
    return json_response(result)


@routes.put(V3 + "/room_keys/keys/{room_id}")
async def put_room_keys(request: web.Request) -> web.Response:
    requester = await require_user(request)
    room_id = request.match_info["room_id"]
    sessions = _room_sessions(room_id, await read_json_object(request))
    result = await get_hs(request).key_backup.put_keys(requester.user_id, request.query.get("version"), sessions)
    return json_response(result)


@routes.put(V3 + "/room_keys/keys/{room_id}/{session_id}")
async def put_session_key(request: web.Request) -> web.Response:
    requester = await require_user(request)
    session = parse_session(
        request.match_info["room_id"], request.match_info["session_id"], await read_json_object(request)
    )
    result = await get_hs(request).key_backup.put_keys(requester.user_id, request.query.get("version"), [session])
    return json_response(result)


@routes.get(V3 + "/room_keys/keys")
@routes.get(V3 + "/room_keys/keys/{room_id}")
@routes.get(V3 + "/room_keys/keys/{room_id}/{session_id}")
async def get_keys(request: web.Request) -> web.Response:
    requester = await require_user(request)
    result = await get_hs(request).key_backup.get_keys(
        requester.user_id, request.query.get("version"),
        request.match_info.get("room_id"), request.match_info.get("session_id"),
    )
    return json_response(result)


@routes.delete(V3 + "/room_keys/keys")
@routes.delete(V3 + "/room_keys/keys/{room_id}")
@routes.delete(V3 + "/room_keys/keys/{room_id}/{session_id}")
async def delete_keys(request: web.Request) -> web.Response:
    requester = await require_user(request)
    result = await get_hs(request).key_backup.delete_keys(
        requester.user_id, request.query.get("version"),
        request.match_info.get("room_id"), request.match_info.get("session_id"),
    )
    return json_response(result)
