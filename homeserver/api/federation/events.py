"""Inbound history endpoints: /event, /state, /state_ids, /event_auth, /get_missing_events, /backfill.

spec: server-server-api.md, "Retrieving events", "Backfilling and retrieving
missing events"; data/api/server-server/{events,backfill}.yaml. Wire shapes
follow Synapse 1.163.2 (SYNAPSE.md captures: event, state, state_ids, backfill,
get_missing_events). Every request is X-Matrix authenticated, subject to the
room's server ACL, and only servers in the room may read it; events the room's
history visibility hid from the requesting server (Synapse's filter_events_for_server)
are served redacted.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from homeserver.api.federation.request import require_origin
from homeserver.api.request import get_hs, read_json_object
from homeserver.app.container import Container as Homeserver
from homeserver.errors import MatrixError, not_found
from homeserver.services.federation.history import FederatedHistory, federation_pdu
from homeserver.services.graph.server_acl import check_server_acl

routes = web.RouteTableDef()

V1 = "/_matrix/federation/v1"
DEFAULT_BACKFILL_LIMIT = 100
DEFAULT_MISSING_EVENTS_LIMIT = 10


def _history(hs: Homeserver) -> FederatedHistory:
    return hs.federated_history


async def _room_for(request: web.Request, room_id: str) -> tuple[Homeserver, str, Any]:
    origin = await require_origin(request)
    hs = get_hs(request)
    await check_server_acl(hs.events, origin, room_id)
    room = await _history(hs).require_server_in_room(origin, room_id)
    return hs, origin, room


def _limit(request: web.Request, default: int) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise MatrixError("M_INVALID_PARAM", 400, "limit must be an integer") from None
    if value < 0:
        raise MatrixError("M_INVALID_PARAM", 400, "limit must not be negative")
    return value


def _required_event_id(request: web.Request) -> str:
    event_id = request.query.get("event_id")
    if not event_id:
        raise MatrixError("M_MISSING_PARAM", 400, "event_id is required")
    return event_id


def _transaction(hs: Homeserver, pdus: list[dict[str, Any]]) -> dict[str, Any]:
    return {"origin": hs.server_name, "origin_server_ts": hs.clock.time_ms(), "pdus": pdus}


@routes.get(V1 + "/event/{event_id}")
async def get_event(request: web.Request) -> web.Response:
    origin = await require_origin(request)
    hs = get_hs(request)
    history = _history(hs)
    event = await history.visible_event(request.match_info["event_id"])
    if event is None:
        raise not_found("Unknown event")
    await check_server_acl(hs.events, origin, event.room_id)
    await history.require_server_in_room(origin, event.room_id)
    [event] = await history.filter_for_server(origin, [event])
    return web.json_response(_transaction(hs, [federation_pdu(event)]))


@routes.get(V1 + "/state_ids/{room_id}")
async def get_state_ids(request: web.Request) -> web.Response:
    hs, _origin, room = await _room_for(request, request.match_info["room_id"])
    state_ids, chain = await _history(hs).state_ids_at(room, _required_event_id(request))
    return web.json_response({"pdu_ids": state_ids, "auth_chain_ids": chain})


@routes.get(V1 + "/state/{room_id}")
async def get_state(request: web.Request) -> web.Response:
    hs, _origin, room = await _room_for(request, request.match_info["room_id"])
    history = _history(hs)
    state_ids, chain = await history.state_ids_at(room, _required_event_id(request))
    return web.json_response({
        "pdus": [federation_pdu(e) for e in await history.events_by_id(state_ids)],
        "auth_chain": [federation_pdu(e) for e in await history.events_by_id(chain)],
    })


@routes.get(V1 + "/event_auth/{room_id}/{event_id}")
async def get_event_auth(request: web.Request) -> web.Response:
    hs, _origin, room = await _room_for(request, request.match_info["room_id"])
    history = _history(hs)
    event = await history.visible_event(request.match_info["event_id"])
    if event is None or event.room_id != room.room_id:
        raise not_found("Unknown event")
    chain = await history.auth_chain(room, [event.event_id])
    return web.json_response({"auth_chain": [federation_pdu(e) for e in await history.events_by_id(chain)]})


@routes.post(V1 + "/get_missing_events/{room_id}")
async def get_missing_events(request: web.Request) -> web.Response:
    hs, origin, room = await _room_for(request, request.match_info["room_id"])
    body = await read_json_object(request)
    earliest = body.get("earliest_events", [])
    latest = body.get("latest_events")
    limit = body.get("limit", DEFAULT_MISSING_EVENTS_LIMIT)
    min_depth = body.get("min_depth", 0)
    if not isinstance(latest, list) or not all(isinstance(e, str) for e in latest):
        raise MatrixError("M_BAD_JSON", 400, "latest_events must be a list of event IDs")
    if not isinstance(earliest, list) or not all(isinstance(e, str) for e in earliest):
        raise MatrixError("M_BAD_JSON", 400, "earliest_events must be a list of event IDs")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise MatrixError("M_BAD_JSON", 400, "limit must be a non-negative integer")
    if not isinstance(min_depth, int) or isinstance(min_depth, bool):
        raise MatrixError("M_BAD_JSON", 400, "min_depth must be an integer")
    history = _history(hs)
    events = await history.missing_events(room, earliest, latest, limit, min_depth)
    events = await history.filter_for_server(origin, events)
    return web.json_response({"events": [federation_pdu(e) for e in events]})


@routes.get(V1 + "/backfill/{room_id}")
async def backfill(request: web.Request) -> web.Response:
    hs, origin, room = await _room_for(request, request.match_info["room_id"])
    starts = request.query.getall("v", [])
    if not starts:
        raise MatrixError("M_MISSING_PARAM", 400, "v is required")
    limit = _limit(request, DEFAULT_BACKFILL_LIMIT)
    history = _history(hs)
    events = await history.filter_for_server(origin, await history.backfill(room, list(starts), limit))
    return web.json_response(_transaction(hs, [federation_pdu(e) for e in events]))
