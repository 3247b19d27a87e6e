"""Room creation, membership, aliases, the directory, state and members.

spec: client-server-api/_index.md "Rooms", data/api/client-server/{create_room,joining,
leaving,inviting,kicking,banning,knocking,directory,list_public_rooms,room_state,rooms}.yaml
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from homeserver.api.request import get_hs, read_model, require_user
from homeserver.api.response import empty_response, json_response
from homeserver.core.event_format import client_event
from homeserver.core.stream_token import StreamToken
from homeserver.errors import forbidden, not_found
from schemas.client.rooms import (
    AliasBody,
    CreateRoomBody,
    ReasonBody,
    TargetBody,
    VisibilityBody,
)

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


@routes.post(V3 + "/createRoom")
async def create_room(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, CreateRoomBody)
    room_id = await get_hs(request).rooms.create_room(
        requester.user_id, body.model_dump(exclude_none=True, exclude_unset=False)
    )
    return json_response({"room_id": room_id})


@routes.post(V3 + "/join/{room}")
async def join_by_id_or_alias(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, ReasonBody, allow_empty=True)
    room_id = await get_hs(request).rooms.join(
        requester.user_id, request.match_info["room"], body.reason, servers=_via(request),
        content=_custom_member_content(body),
    )
    return json_response({"room_id": room_id})


@routes.post(V3 + "/rooms/{room_id}/join")
async def join_room(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, ReasonBody, allow_empty=True)
    room_id = await get_hs(request).rooms.join(
        requester.user_id, request.match_info["room_id"], body.reason, content=_custom_member_content(body)
    )
    return json_response({"room_id": room_id})


# Keys of a /join body that are request parameters or server-controlled, not member content.
_NOT_MEMBER_CONTENT = frozenset({"reason", "third_party_signed", "membership", "join_authorised_via_users_server"})


def _custom_member_content(body: ReasonBody) -> dict[str, Any]:
    """Other keys of the /join body go into the m.room.member content, as Synapse does
    (Complement: TestRoomMembers "can join a room with custom content")."""
    return {k: v for k, v in (body.model_extra or {}).items() if k not in _NOT_MEMBER_CONTENT}


@routes.post(V3 + "/knock/{room}")
async def knock(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, ReasonBody, allow_empty=True)
    room_id = await get_hs(request).rooms.knock(
        requester.user_id, request.match_info["room"], body.reason, servers=_via(request)
    )
    return json_response({"room_id": room_id})


def _via(request: web.Request) -> list[str]:
    # spec: POST /join/{roomIdOrAlias} and /knock — `via` (and deprecated `server_name`).
    return request.query.getall("via", []) + request.query.getall("server_name", [])


@routes.post(V3 + "/rooms/{room_id}/leave")
async def leave(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, ReasonBody, allow_empty=True)
    await get_hs(request).rooms.leave(requester.user_id, request.match_info["room_id"], body.reason)
    return empty_response()


@routes.post(V3 + "/rooms/{room_id}/forget")
async def forget(request: web.Request) -> web.Response:
    requester = await require_user(request)
    await get_hs(request).rooms.forget(requester.user_id, request.match_info["room_id"])
    return empty_response()


@routes.post(V3 + "/rooms/{room_id}/invite")
async def invite(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, TargetBody)
    await get_hs(request).rooms.invite(
        requester.user_id, request.match_info["room_id"], body.user_id, reason=body.reason
    )
    return empty_response()


@routes.post(V3 + "/rooms/{room_id}/kick")
async def kick(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, TargetBody)
    await get_hs(request).rooms.kick(requester.user_id, request.match_info["room_id"], body.user_id, body.reason)
    return empty_response()


@routes.post(V3 + "/rooms/{room_id}/ban")
async def ban(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, TargetBody)
    await get_hs(request).rooms.ban(requester.user_id, request.match_info["room_id"], body.user_id, body.reason)
    return empty_response()


@routes.post(V3 + "/rooms/{room_id}/unban")
async def unban(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, TargetBody)
    await get_hs(request).rooms.unban(requester.user_id, request.match_info["room_id"], body.user_id, body.reason)
    return empty_response()


@routes.get(V3 + "/joined_rooms")
async def joined_rooms(request: web.Request) -> web.Response:
    requester = await require_user(request)
    rooms = await get_hs(request).events.rooms_for_user(requester.user_id)
    return json_response({"joined_rooms": [r for r, m in rooms.items() if m == "join"]})


# --- aliases -----------------------------------------------------------------------
@routes.put(V3 + "/directory/room/{alias}")
async def put_alias(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, AliasBody)
    await get_hs(request).rooms.create_alias(requester.user_id, request.match_info["alias"], body.room_id)
    return empty_response()


@routes.get(V3 + "/directory/room/{alias}")
async def get_alias(request: web.Request) -> web.Response:
    return json_response(await get_hs(request).room_directory.resolve_alias(request.match_info["alias"]))


@routes.delete(V3 + "/directory/room/{alias}")
async def delete_alias(request: web.Request) -> web.Response:
    requester = await require_user(request)
    await get_hs(request).rooms.delete_alias(
        requester.user_id, requester.is_admin, request.match_info["alias"]
    )
    return empty_response()


@routes.get(V3 + "/rooms/{room_id}/aliases")
async def room_aliases(request: web.Request) -> web.Response:
    requester = await require_user(request)
    aliases = await get_hs(request).room_directory.room_aliases(requester.user_id, request.match_info["room_id"])
    return json_response({"aliases": aliases})


# --- directory ---------------------------------------------------------------------
@routes.get(V3 + "/directory/list/room/{room_id}")
async def get_visibility(request: web.Request) -> web.Response:
    visibility = await get_hs(request).room_directory.visibility(request.match_info["room_id"])
    return json_response({"visibility": visibility})


@routes.put(V3 + "/directory/list/room/{room_id}")
async def set_visibility(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, VisibilityBody)
    await get_hs(request).room_directory.set_visibility(
        requester.user_id, requester.is_admin, request.match_info["room_id"], body.visibility == "public"
    )
    return empty_response()


async def _public_rooms(request: web.Request, limit: int | None, since: str | None,
                        search: str | None) -> web.Response:
    hs = get_hs(request)
    server = request.query.get("server")
    if server and server != hs.server_name:
        # spec: GET/POST /publicRooms `server` — asked of that server over federation.
        include_all = request.query.get("include_all_networks") == "true"
        return json_response(await hs.federated_membership.public_rooms(
            server, limit=limit, since=since, search=search, include_all_networks=include_all
        ))
    return json_response(await hs.rooms.public_rooms(limit, since, search))


@routes.get(V3 + "/publicRooms")
async def public_rooms_get(request: web.Request) -> web.Response:
    from homeserver.api.request import query_int

    limit = query_int(request, "limit", -1, minimum=-1)
    return await _public_rooms(request, None if limit < 0 else limit, request.query.get("since"), None)


@routes.post(V3 + "/publicRooms")
async def public_rooms_post(request: web.Request) -> web.Response:
    from schemas.client.rooms import PublicRoomsBody

    await require_user(request)
    body = await read_model(request, PublicRoomsBody, allow_empty=True)
    term = (body.filter or {}).get("generic_search_term")
    return await _public_rooms(request, body.limit, body.since, term if isinstance(term, str) else None)


# --- state and members ------------------------------------------------------------------
@routes.get(V3 + "/rooms/{room_id}/state")
async def get_state(request: web.Request) -> web.Response:
    requester = await require_user(request)
    hs = get_hs(request)
    room = await hs.rooms.require_visible_room(requester.user_id, request.match_info["room_id"])
    now = hs.clock.time_ms()
    if room.membership(requester.user_id) == "join":
        events = list(room.state.values())
    else:
        # Former members see the state as it was when they left.
        member = room.state[("m.room.member", requester.user_id)]
        events = await hs.pagination.state_after(member.event_id)
    return json_response([client_event(e, now_ms=now) for e in events])


@routes.get(V3 + "/rooms/{room_id}/state/{event_type}")
@routes.get(V3 + "/rooms/{room_id}/state/{event_type}/{state_key:.*}")
async def get_state_event(request: web.Request) -> web.Response:
    requester = await require_user(request)
    hs = get_hs(request)
    room = await hs.rooms.require_visible_room(requester.user_id, request.match_info["room_id"])
    key = (request.match_info["event_type"], request.match_info.get("state_key", ""))
    if room.membership(requester.user_id) == "join":
        event = room.state.get(key)
    else:
        member = room.state[("m.room.member", requester.user_id)]
        event = await hs.pagination.state_event_after(member.event_id, key)
    if event is None:
        raise not_found("Event not found")
    if request.query.get("format") == "event":
        return json_response(client_event(event, now_ms=hs.clock.time_ms()))
    return json_response(event.content)


@routes.get(V3 + "/rooms/{room_id}/members")
async def members(request: web.Request) -> web.Response:
    requester = await require_user(request)
    hs = get_hs(request)
    room = await hs.rooms.require_visible_room(requester.user_id, request.match_info["room_id"])
    membership = request.query.get("membership")
    not_membership = request.query.get("not_membership")
    now = hs.clock.time_ms()
    at = _stream_position(request.query.get("at"))
    if room.membership(requester.user_id) == "join" and at is None:
        events = [ev for (t, _k), ev in room.state.items() if t == "m.room.member"]
    else:
        events = await hs.pagination.member_events_at(room, requester.user_id, at)
    chunk = [
        client_event(ev, now_ms=now)
        for ev in events
        if (membership is None or ev.membership == membership)
        and (not_membership is None or ev.membership != not_membership)
    ]
    return json_response({"chunk": chunk})


@routes.get(V3 + "/rooms/{room_id}/joined_members")
async def joined_members(request: web.Request) -> web.Response:
    requester = await require_user(request)
    hs = get_hs(request)
    room = await hs.events.get_room(request.match_info["room_id"])
    if room is None or room.membership(requester.user_id) != "join":
        raise forbidden("You are not in this room")
    joined: dict[str, Any] = {}
    for (t, k), ev in room.state.items():
        if t == "m.room.member" and ev.membership == "join":
            joined[k] = {
                "display_name": ev.content.get("displayname"),
                "avatar_url": ev.content.get("avatar_url"),
            }
    return json_response({"joined": joined})


def _stream_position(token: str | None) -> int | None:
    """The events position of a sync or /messages token (400 M_INVALID_PARAM if malformed)."""
    if not token:
        return None
    return StreamToken.parse(token).events
