"""Admin API: users (Synapse: docs/admin_api/user_admin_api.md)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.admin.auth import SYNAPSE_V1, SYNAPSE_V2, require_admin
from homeserver.api.admin.bodies import (
    AdminFlagBody,
    DeactivateBody,
    ResetPasswordBody,
    UserUpsertBody,
)
from homeserver.api.request import get_hs, query_bool, query_int, read_model
from homeserver.api.response import empty_response, json_response
from homeserver.errors import forbidden

routes = web.RouteTableDef()


@routes.get(SYNAPSE_V2 + "/users")
async def list_users(request: web.Request) -> web.Response:
    await require_admin(request)
    admins = request.query.get("admins")
    body = await get_hs(request).admin.list_users(
        offset=query_int(request, "from", 0),
        limit=query_int(request, "limit", 100, maximum=1000),
        name=request.query.get("name") or request.query.get("user_id") or None,
        include_deactivated=query_bool(request, "deactivated", False),
        admins=None if admins is None else query_bool(request, "admins"),
    )
    return json_response(body)


@routes.get(SYNAPSE_V2 + "/users/{user_id}")
async def get_user(request: web.Request) -> web.Response:
    await require_admin(request)
    return json_response(await get_hs(request).admin.get_user(request.match_info["user_id"]))


@routes.put(SYNAPSE_V2 + "/users/{user_id}")
async def upsert_user(request: web.Request) -> web.Response:
    requester = await require_admin(request)
    body = await read_model(request, UserUpsertBody)
    user_id = request.match_info["user_id"]
    if user_id == requester.user_id and (body.admin is False or body.deactivated is True):
        raise forbidden("You may not demote or deactivate yourself")
    created, user = await get_hs(request).admin.upsert_user(user_id, body.model_dump(exclude_unset=True))
    return json_response(user, status=201 if created else 200)


@routes.post(SYNAPSE_V1 + "/reset_password/{user_id}")
async def reset_password(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await read_model(request, ResetPasswordBody)
    await get_hs(request).admin.reset_password(request.match_info["user_id"], body.new_password, body.logout_devices)
    return empty_response()


@routes.get(SYNAPSE_V1 + "/users/{user_id}/admin")
async def get_admin_flag(request: web.Request) -> web.Response:
    await require_admin(request)
    user = await get_hs(request).admin.get_user(request.match_info["user_id"])
    return json_response({"admin": user["admin"]})


@routes.put(SYNAPSE_V1 + "/users/{user_id}/admin")
async def set_admin_flag(request: web.Request) -> web.Response:
    requester = await require_admin(request)
    body = await read_model(request, AdminFlagBody)
    user_id = request.match_info["user_id"]
    if user_id == requester.user_id and not body.admin:
        raise forbidden("You may not demote yourself")
    await get_hs(request).admin.set_admin(user_id, body.admin)
    return empty_response()


@routes.post(SYNAPSE_V1 + "/deactivate/{user_id}")
async def deactivate(request: web.Request) -> web.Response:
    requester = await require_admin(request)
    await read_model(request, DeactivateBody, allow_empty=True)
    user_id = request.match_info["user_id"]
    if user_id == requester.user_id:
        raise forbidden("You may not deactivate yourself")
    await get_hs(request).admin.deactivate(user_id)
    return json_response({"id_server_unbind_result": "success"})
