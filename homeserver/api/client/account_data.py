"""Account data and room tags (spec: data/api/client-server/{account-data,tags}.yaml)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, read_json_object, require_user
from homeserver.api.response import empty_response, json_response
from homeserver.errors import MatrixError, forbidden
from homeserver.services.accounts.auth import Requester
from schemas.identifiers import is_valid_room_id

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


async def _owner(request: web.Request) -> Requester:
    requester = await require_user(request)
    if request.match_info["user_id"] != requester.user_id:
        raise forbidden("Cannot access account data of other users")
    return requester


def _room_id(request: web.Request) -> str:
    room_id = request.match_info["room_id"]
    if not is_valid_room_id(room_id):
        raise MatrixError("M_INVALID_PARAM", 400, f"{room_id!r} is not a valid room ID")
    return room_id


@routes.put(V3 + "/user/{user_id}/account_data/{type}")
async def put_global(request: web.Request) -> web.Response:
    requester = await _owner(request)
    content = await read_json_object(request)
    await get_hs(request).account_data.put_from_client(requester.user_id, None, request.match_info["type"], content)
    return empty_response()


@routes.get(V3 + "/user/{user_id}/account_data/{type}")
async def get_global(request: web.Request) -> web.Response:
    requester = await _owner(request)
    return json_response(await get_hs(request).account_data.get(requester.user_id, None, request.match_info["type"]))


@routes.put(V3 + "/user/{user_id}/rooms/{room_id}/account_data/{type}")
async def put_room(request: web.Request) -> web.Response:
    requester = await _owner(request)
    room_id = _room_id(request)
    content = await read_json_object(request)
    await get_hs(request).account_data.put_from_client(requester.user_id, room_id, request.match_info["type"], content)
    return empty_response()


@routes.get(V3 + "/user/{user_id}/rooms/{room_id}/account_data/{type}")
async def get_room(request: web.Request) -> web.Response:
    requester = await _owner(request)
    room_id = _room_id(request)
    return json_response(await get_hs(request).account_data.get(requester.user_id, room_id, request.match_info["type"]))


@routes.get(V3 + "/user/{user_id}/rooms/{room_id}/tags")
async def get_tags(request: web.Request) -> web.Response:
    requester = await _owner(request)
    tags = await get_hs(request).account_data.get_tags(requester.user_id, _room_id(request))
    return json_response({"tags": tags})


@routes.put(V3 + "/user/{user_id}/rooms/{room_id}/tags/{tag}")
async def put_tag(request: web.Request) -> web.Response:
    requester = await _owner(request)
    room_id = _room_id(request)
    body = await read_json_object(request)
    order = body.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int | float)):
        raise MatrixError("M_BAD_JSON", 400, "order must be a number")
    await get_hs(request).account_data.set_tag(requester.user_id, room_id, request.match_info["tag"], body)
    return empty_response()


@routes.delete(V3 + "/user/{user_id}/rooms/{room_id}/tags/{tag}")
async def delete_tag(request: web.Request) -> web.Response:
    requester = await _owner(request)
    room_id = _room_id(request)
    await get_hs(request).account_data.remove_tag(requester.user_id, room_id, request.match_info["tag"])
    return empty_response()
