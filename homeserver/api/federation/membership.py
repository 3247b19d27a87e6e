"""Inbound membership handshakes: make_/send_ join, leave, knock; v2 invite.

spec: server-server-api.md, "Joining Rooms", "Knocking upon a room", "Inviting to a
room", "Leaving Rooms (Rejecting Invites)". The handlers verify the X-Matrix origin
and hand over to ``hs.resident_membership`` (homeserver/services/federation/resident_membership.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from homeserver.api.federation.request import require_origin
from homeserver.api.request import get_hs, read_json_object
from homeserver.errors import MatrixError
from homeserver.services.federation.resident_membership import room_state_pdus

routes = web.RouteTableDef()

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"


def _json(body: Any) -> web.Response:
    return web.json_response(body)


def _versions(request: web.Request, *, required: bool) -> list[str]:
    versions = request.query.getall("ver", [])
    if not versions:
        if required:
            raise MatrixError("M_MISSING_PARAM", 400, "ver is required")
        versions = ["1"]  # spec: make_join — "Defaults to [1]" when not given
    return versions


# --- join ------------------------------------------------------------------------------
@routes.get(V1 + "/make_join/{room_id}/{user_id}")
async def make_join(request: web.Request) -> web.Response:
    origin = await require_origin(request)
    hs = get_hs(request)
    return _json(await hs.resident_membership.make_membership(
        origin, request.match_info["room_id"], request.match_info["user_id"], "join",
        _versions(request, required=False),
    ))


async def _send_join(request: web.Request) -> dict[str, Any]:
    origin = await require_origin(request)
    hs = get_hs(request)
    pdu = await read_json_object(request)
    resident = hs.resident_membership
    event, state_before, _room = await resident.accept_membership(
        origin, request.match_info["room_id"], request.match_info["event_id"], pdu, "join"
    )
    chain = await resident.auth_chain([event, *state_before.values()])
    return resident.send_join_response(event, state_before, chain)


@routes.put(V2 + "/send_join/{room_id}/{event_id}")
async def send_join_v2(request: web.Request) -> web.Response:
    return _json(await _send_join(request))


@routes.put(V1 + "/send_join/{room_id}/{event_id}")
async def send_join_v1(request: web.Request) -> web.Response:
    # spec: joins-v1 (deprecated) — the same answer wrapped as [200, body].
    return _json([200, await _send_join(request)])


# --- leave -----------------------------------------------------------------------------
@routes.get(V1 + "/make_leave/{room_id}/{user_id}")
async def make_leave(request: web.Request) -> web.Response:
    origin = await require_origin(request)
    hs = get_hs(request)
    return _json(await hs.resident_membership.make_membership(
        origin, request.match_info["room_id"], request.match_info["user_id"], "leave", []
    ))


async def _send_leave(request: web.Request) -> None:
    origin = await require_origin(request)
    hs = get_hs(request)
    pdu = await read_json_object(request)
    await hs.resident_membership.accept_membership(
        origin, request.match_info["room_id"], request.match_info["event_id"], pdu, "leave"
    )


@routes.put(V2 + "/send_leave/{room_id}/{event_id}")
async def send_leave_v2(request: web.Request) -> web.Response:
    await _send_leave(request)
    return _json({})


@routes.put(V1 + "/send_leave/{room_id}/{event_id}")
async def send_leave_v1(request: web.Request) -> web.Response:
    await _send_leave(request)
    return _json([200, {}])


# --- knock -----------------------------------------------------------------------------
@routes.get(V1 + "/make_knock/{room_id}/{user_id}")
async def make_knock(request: web.Request) -> web.Response:
    origin = await require_origin(request)
    hs = get_hs(request)
    return _json(await hs.resident_membership.make_membership(
        origin, request.match_info["room_id"], request.match_info["user_id"], "knock",
        _versions(request, required=True),
    ))


@routes.put(V1 + "/send_knock/{room_id}/{event_id}")
async def send_knock(request: web.Request) -> web.Response:
    origin = await require_origin(request)
    hs = get_hs(request)
    pdu = await read_json_object(request)
    event, _state_before, room = await hs.resident_membership.accept_membership(
        origin, request.match_info["room_id"], request.match_info["event_id"], pdu, "knock"
    )
    # spec: knocks.yaml — knock_room_state, full PDUs from v1.16 (create event included).
    return _json({"knock_room_state": room_state_pdus(room, event.sender)})


# --- invite ----------------------------------------------------------------------------
@routes.put(V2 + "/invite/{room_id}/{event_id}")
async def invite_v2(request: web.Request) -> web.Response:
    origin = await require_origin(request)
    hs = get_hs(request)
    body = await read_json_object(request)
    return _json(await hs.resident_membership.receive_invite(
        origin, request.match_info["room_id"], request.match_info["event_id"], body
    ))
