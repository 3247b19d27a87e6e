"""Parley admin API: temporary kicks, room bans, pending knocks and IP bans."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.admin.auth import PARLEY_V1, require_admin
from homeserver.api.admin.bodies import IpBanBody, RoomBanBody, TemporaryBanBody
from homeserver.api.request import get_hs, read_model
from homeserver.api.response import empty_response, json_response
from homeserver.errors import invalid_param, not_found
from homeserver.storage.admin import TemporaryBan
from schemas.identifiers import is_valid_user_id

routes = web.RouteTableDef()


def _temporary_ban_json(ban: TemporaryBan) -> dict[str, object]:
    return {"room_id": ban.room_id, "user_id": ban.user_id, "banned_by": ban.banned_by,
            "reason": ban.reason, "expires_ts": ban.expires_ts}


def _check_user_id(user_id: str) -> str:
    if not is_valid_user_id(user_id):
        raise invalid_param(f"Invalid user ID {user_id!r}")
    return user_id


@routes.post(PARLEY_V1 + "/rooms/{room_id}/temporary_bans")
async def temporary_ban(request: web.Request) -> web.Response:
    """A temporary kick: the user is banned and the server lifts the ban when it expires."""
    await require_admin(request)
    body = await read_model(request, TemporaryBanBody)
    if (body.minutes is None) == (body.duration_ms is None):
        raise invalid_param("Give exactly one of minutes and duration_ms")
    duration_ms = body.duration_ms if body.duration_ms is not None else round(body.minutes * 60_000)  # type: ignore[operator]
    ban = await get_hs(request).moderation.temporary_ban(
        request.match_info["room_id"], _check_user_id(body.user_id), duration_ms, body.reason
    )
    return json_response(_temporary_ban_json(ban))


@routes.get(PARLEY_V1 + "/rooms/{room_id}/temporary_bans")
async def list_room_temporary_bans(request: web.Request) -> web.Response:
    await require_admin(request)
    bans = get_hs(request).moderation.temporary_bans(request.match_info["room_id"])
    return json_response({"temporary_bans": [_temporary_ban_json(b) for b in bans]})


@routes.get(PARLEY_V1 + "/temporary_bans")
async def list_temporary_bans(request: web.Request) -> web.Response:
    await require_admin(request)
    bans = get_hs(request).moderation.temporary_bans()
    return json_response({"temporary_bans": [_temporary_ban_json(b) for b in bans]})


@routes.delete(PARLEY_V1 + "/rooms/{room_id}/temporary_bans/{user_id}")
async def lift_temporary_ban(request: web.Request) -> web.Response:
    """Lift a temporary kick early (`parleyd admin unkick`)."""
    await require_admin(request)
    room_id, user_id = request.match_info["room_id"], request.match_info["user_id"]
    moderation = get_hs(request).moderation
    if not any(b.user_id == user_id for b in moderation.temporary_bans(room_id)):
        raise not_found("No temporary ban of that user in this room")
    event_id = await moderation.unban(room_id, user_id, "Temporary ban lifted by an admin")
    return json_response({"event_id": event_id})


@routes.post(PARLEY_V1 + "/rooms/{room_id}/ban")
async def ban(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await read_model(request, RoomBanBody)
    event_id = await get_hs(request).moderation.ban(
        request.match_info["room_id"], _check_user_id(body.user_id), body.reason
    )
    return json_response({"event_id": event_id})


@routes.post(PARLEY_V1 + "/rooms/{room_id}/unban")
async def unban(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await read_model(request, RoomBanBody)
    event_id = await get_hs(request).moderation.unban(
        request.match_info["room_id"], _check_user_id(body.user_id), body.reason
    )
    if event_id is None:
        raise not_found("That user is not banned from this room")
    return json_response({"event_id": event_id})


@routes.get(PARLEY_V1 + "/rooms/{room_id}/knocks")
async def pending_knocks(request: web.Request) -> web.Response:
    await require_admin(request)
    knocks = await get_hs(request).moderation.pending_knocks(request.match_info["room_id"])
    return json_response({"knocks": knocks})


@routes.post(PARLEY_V1 + "/rooms/{room_id}/knocks/{user_id}/accept")
async def accept_knock(request: web.Request) -> web.Response:
    await require_admin(request)
    event_id = await get_hs(request).moderation.accept_knock(
        request.match_info["room_id"], request.match_info["user_id"]
    )
    return json_response({"event_id": event_id})


@routes.get(PARLEY_V1 + "/ip_bans")
async def list_ip_bans(request: web.Request) -> web.Response:
    await require_admin(request)
    bans = get_hs(request).ip_bans.banned()
    return json_response({"ip_bans": [
        {"address": b.address, "reason": b.reason, "created_ts": b.created_ts} for b in bans
    ]})


@routes.post(PARLEY_V1 + "/ip_bans")
async def add_ip_ban(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await read_model(request, IpBanBody)
    ban_ = await get_hs(request).ip_bans.ban(body.address, body.reason)
    return json_response({"address": ban_.address, "reason": ban_.reason, "created_ts": ban_.created_ts})


@routes.delete(PARLEY_V1 + "/ip_bans/{address:.+}")
async def remove_ip_ban(request: web.Request) -> web.Response:
    await require_admin(request)
    await get_hs(request).ip_bans.unban(request.match_info["address"])
    return empty_response()
