"""Profiles (spec: data/api/client-server/profile.yaml). Reading needs no access token."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import empty_response, json_response
from homeserver.errors import missing_param
from homeserver.services.social.profile import check_field

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


@routes.get(V3 + "/profile/{user_id}")
async def get_profile(request: web.Request) -> web.Response:
    return json_response(await get_hs(request).profile.get_profile(request.match_info["user_id"]))


@routes.get(V3 + "/profile/{user_id}/{field}")
async def get_profile_field(request: web.Request) -> web.Response:
    hs = get_hs(request)
    return json_response(await hs.profile.get_field(request.match_info["user_id"], request.match_info["field"]))


@routes.put(V3 + "/profile/{user_id}/{field}")
async def set_profile_field(request: web.Request) -> web.Response:
    requester = await require_user(request)
    field = request.match_info["field"]
    check_field(field)
    body = await read_json_object(request)
    if field not in body:
        raise missing_param(f"{field} is required")
    await get_hs(request).profile.set_field(requester.user_id, request.match_info["user_id"], field, body[field])
    return empty_response()


@routes.delete(V3 + "/profile/{user_id}/{field}")
async def delete_profile_field(request: web.Request) -> web.Response:
    requester = await require_user(request)
    await get_hs(request).profile.set_field(
        requester.user_id, request.match_info["user_id"], request.match_info["field"], None
    )
    return empty_response()
