"""Admin API: rooms (Synapse: docs/admin_api/rooms.md) and Parley's room tools."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.admin.auth import PARLEY_V1, SYNAPSE_V1, SYNAPSE_V2, require_admin
from homeserver.api.admin.bodies import AdminCreateRoomBody, BlockRoomBody, DeleteRoomBody
from homeserver.api.request import get_hs, parse_model, query_int, read_json_object, read_model
from homeserver.api.response import json_response
from homeserver.errors import invalid_param, missing_param, not_found
from homeserver.services.admin.room_purge import RoomDeletion
from schemas.client.rooms import CreateRoomBody

routes = web.RouteTableDef()

@routes.get(SYNAPSE_V1 + "/rooms")
async def list_rooms(request: web.Request) -> web.Response:
    await require_admin(request)
    direction = request.query.get("dir", "f")
    if direction not in ("f", "b"):
        raise invalid_param("dir must be f or b")
    body = await get_hs(request).admin.list_rooms(
        offset=query_int(request, "from", 0),
        limit=query_int(request, "limit", 100, maximum=1000),
        order_by=request.query.get("order_by", "name"),
        newest_first=direction == "b",
        search_term=request.query.get("search_term") or None,
    )
    return json_response(body)


@routes.get(SYNAPSE_V1 + "/rooms/{room_id}")
async def room_details(request: web.Request) -> web.Response:
    await require_admin(request)
    return json_response(await get_hs(request).admin.room_details(request.match_info["room_id"]))


@routes.get(SYNAPSE_V1 + "/rooms/{room_id}/members")
async def room_members(request: web.Request) -> web.Response:
    await require_admin(request)
    return json_response(await get_hs(request).admin.room_members(request.match_info["room_id"]))


@routes.get(SYNAPSE_V1 + "/rooms/{room_id}/state")
async def room_state(request: web.Request) -> web.Response:
    await require_admin(request)
    return json_response(await get_hs(request).admin.room_state(request.match_info["room_id"]))


async def _deletion_request(request: web.Request) -> tuple[str, str, RoomDeletion]:
    requester = await require_admin(request)
    body = await read_model(request, DeleteRoomBody, allow_empty=True)
    options = RoomDeletion(
        block=body.block, purge=body.purge, force_purge=body.force_purge, message=body.message,
        new_room_user_id=body.new_room_user_id, room_name=body.room_name,
    )
    return request.match_info["room_id"], requester.user_id, options


@routes.delete(SYNAPSE_V1 + "/rooms/{room_id}")
async def delete_room_v1(request: web.Request) -> web.Response:
    room_id, admin, options = await _deletion_request(request)
    return json_response(await get_hs(request).room_purge.delete_room(room_id, admin, options))


@routes.delete(SYNAPSE_V2 + "/rooms/{room_id}")
async def delete_room_v2(request: web.Request) -> web.Response:
    room_id, admin, options = await _deletion_request(request)
    # Runs in the background, as Synapse's; progress through delete_status.
    delete_id = await get_hs(request).room_purge.start_deletion(room_id, admin, options)
    return json_response({"delete_id": delete_id})


@routes.get(SYNAPSE_V2 + "/rooms/delete_status/{delete_id}")
async def delete_status(request: web.Request) -> web.Response:
    await require_admin(request)
    found = get_hs(request).room_purge.status(request.match_info["delete_id"])
    if found is None:
        raise not_found("delete id not found")
    return json_response(found)


@routes.get(SYNAPSE_V2 + "/rooms/{room_id}/delete_status")
async def room_delete_status(request: web.Request) -> web.Response:
    await require_admin(request)
    found = get_hs(request).room_purge.statuses_for_room(request.match_info["room_id"])
    if not found:
        raise not_found("No delete task for this room")
    return json_response({"results": found})


@routes.put(SYNAPSE_V1 + "/rooms/{room_id}/block")
async def block_room(request: web.Request) -> web.Response:
    requester = await require_admin(request)
    body = await read_model(request, BlockRoomBody)
    await get_hs(request).moderation.set_blocked(request.match_info["room_id"], body.block, requester.user_id)
    return json_response({"block": body.block})


@routes.get(SYNAPSE_V1 + "/rooms/{room_id}/block")
async def get_room_block(request: web.Request) -> web.Response:
    await require_admin(request)
    blocked_by = get_hs(request).moderation.blocked.get(request.match_info["room_id"])
    if blocked_by is None:
        return json_response({"block": False})
    return json_response({"block": True, "user_id": blocked_by})


# --- Parley-specific ---------------------------------------------------------------------
@routes.post(PARLEY_V1 + "/rooms")
async def create_room(request: web.Request) -> web.Response:
    """createRoom on behalf of a local user (default: the server-notices system user)."""
    await require_admin(request)
    hs = get_hs(request)
    raw = await read_json_object(request, allow_empty=True)
    creator = parse_model(AdminCreateRoomBody, raw).creator or hs.server_notices.system_user_id
    body = parse_model(CreateRoomBody, {k: v for k, v in raw.items() if k != "creator"})
    room_id = await hs.admin.create_room(creator, body.model_dump(exclude_none=True))
    return json_response({"room_id": room_id, "creator": creator})


@routes.get(PARLEY_V1 + "/rooms/{room_id}/messages")
async def messages_since(request: web.Request) -> web.Response:
    """Events of a room sent at or after ``since`` (ms since the epoch), oldest first."""
    await require_admin(request)
    if "since" not in request.query:
        raise missing_param("since (milliseconds since the epoch) is required")
    body = await get_hs(request).admin.messages_since(
        request.match_info["room_id"], query_int(request, "since", 0), query_int(request, "limit", 100, maximum=1000)
    )
    return json_response(body)
