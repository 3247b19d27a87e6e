"""Sending and reading room events: send, state, redact, /messages, /context, /event.

spec: data/api/client-server/{room_send,room_state,redaction,message_pagination,
event_context,rooms}.yaml
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from homeserver.api.request import get_hs, query_int, read_json_object, require_user
from homeserver.api.response import json_response
from homeserver.core.filtering import EventFilter
from homeserver.core.room_state import RoomState
from homeserver.core.stream_token import StreamToken
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.accounts.auth import Requester

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"

MAX_EVENT_BYTES = 65536
# MSC4140 delayed events (homeserver/services/rooms/delayed_events.py).
DELAY_PARAM = "org.matrix.msc4140.delay"


def _check_size(content: dict[str, Any]) -> None:
    import orjson

    # spec: server-server-api, PDU size limit 65536 bytes; content is most of it.
    if len(orjson.dumps(content)) > MAX_EVENT_BYTES:
        raise MatrixError("M_TOO_LARGE", 413, "Event too large")


async def _send_with_txn(
    request: web.Request, room_id: str, event_type: str, content: dict[str, Any],
    state_key: str | None = None, redacts: str | None = None,
) -> web.Response:
    requester = await require_user(request)
    hs = get_hs(request)
    txn_id = request.match_info.get("txn_id")
    txn = None
    if txn_id is not None:
        earlier = await hs.pagination.lookup_transaction(
            requester.user_id, requester.device_id, txn_id, room_id, event_type, redacts
        )
        if earlier.retransmission_of is not None:
            return json_response({"event_id": earlier.retransmission_of})
        if earlier.record:
            txn = (requester.user_id, requester.device_id, txn_id)
    _check_size(content)
    event = await hs.events.send(room_id, requester.user_id, event_type, content, state_key, txn=txn, redacts=redacts)
    return json_response({"event_id": event.event_id})


def _delay_ms(request: web.Request) -> int | None:
    """MSC4140's ``?org.matrix.msc4140.delay=<ms>``: schedule instead of sending, or None."""
    if DELAY_PARAM not in request.query:
        return None
    return query_int(request, DELAY_PARAM, 0)


async def _schedule(
    request: web.Request, delay_ms: int, event_type: str, content: dict[str, Any], state_key: str | None,
) -> web.Response:
    requester = await require_user(request)
    _check_size(content)
    delay_id = await get_hs(request).delayed_events.schedule(
        requester, request.match_info["room_id"], event_type, content, state_key, delay_ms
    )
    return json_response({"delay_id": delay_id})


@routes.put(V3 + "/rooms/{room_id}/send/{event_type}/{txn_id}")
async def send_message(request: web.Request) -> web.Response:
    content = await read_json_object(request)
    delay_ms = _delay_ms(request)
    if delay_ms is not None:
        return await _schedule(request, delay_ms, request.match_info["event_type"], content, None)
    return await _send_with_txn(
        request, request.match_info["room_id"], request.match_info["event_type"], content
    )


@routes.put(V3 + "/rooms/{room_id}/state/{event_type}")
@routes.put(V3 + "/rooms/{room_id}/state/{event_type}/{state_key:.*}")
async def send_state(request: web.Request) -> web.Response:
    requester = await require_user(request)
    content = await read_json_object(request)
    hs = get_hs(request)
    room_id = request.match_info["room_id"]
    event_type = request.match_info["event_type"]
    state_key = request.match_info.get("state_key", "")
    delay_ms = _delay_ms(request)
    if delay_ms is not None:
        return await _schedule(request, delay_ms, event_type, content, state_key)
    room = await hs.events.require_room(room_id)
    if event_type == "m.room.create":
        # spec: rooms/v11.md, v12.md — a room has exactly one create event, made with the room.
        raise MatrixError("M_BAD_JSON", 400, "m.room.create cannot be sent to an existing room")
    if event_type == "m.room.member":
        content = await hs.rooms.member_content_from_client(room, requester.user_id, state_key, content)
    current = room.state.get((event_type, state_key))
    if current is not None and current.content == content and current.sender == requester.user_id:
        return json_response({"event_id": current.event_id})  # no-op, as Synapse
    if event_type == "m.room.canonical_alias":
        await hs.room_directory.check_canonical_alias(room_id, content)
    _check_size(content)
    event = await hs.events.send(room_id, requester.user_id, event_type, content, state_key)
    return json_response({"event_id": event.event_id})


@routes.put(V3 + "/rooms/{room_id}/redact/{event_id}/{txn_id}")
async def redact(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request, allow_empty=True)
    hs = get_hs(request)
    room_id = request.match_info["room_id"]
    target_id = request.match_info["event_id"]
    room = await hs.events.require_room(room_id)
    target = await hs.events.get_event(target_id)
    if target is None or target.room_id != room_id:
        raise not_found("Event not found")
    if target.sender != requester.user_id:
        from federation.rooms.power_levels import user_power_level

        pl = room.state_content("m.room.power_levels")
        redact_level = pl.get("redact", 50) if pl else 50
        level = user_power_level(requester.user_id, pl or None, room.create_event, room.version)
        if level < redact_level:
            raise forbidden("You may not redact other users' events")
    content: dict[str, Any] = {}
    if isinstance(body.get("reason"), str):
        content["reason"] = body["reason"]
    if room.version.v11_redaction:
        content["redacts"] = target_id
    return await _send_with_txn(request, room_id, "m.room.redaction", content, redacts=target_id)


# --- reading --------------------------------------------------------------------------
async def _visible_room(request: web.Request, room_id: str) -> tuple[Requester, RoomState, int | None]:
    """(requester, room, upper stream bound for a former member)."""
    requester = await require_user(request)
    room, bound = await get_hs(request).pagination.visible_room(requester.user_id, room_id)
    return requester, room, bound


def _parse_position(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    return StreamToken.parse(raw).events


@routes.get(V3 + "/rooms/{room_id}/messages")
async def messages(request: web.Request) -> web.Response:
    room_id = request.match_info["room_id"]
    requester, room, bound = await _visible_room(request, room_id)
    direction = request.query.get("dir", "b")
    if direction not in ("b", "f"):
        raise MatrixError("M_INVALID_PARAM", 400, "dir must be b or f")
    limit = query_int(request, "limit", 10, minimum=0, maximum=1000)
    import orjson

    filter_raw = request.query.get("filter")
    try:
        event_filter = EventFilter.parse(orjson.loads(filter_raw)) if filter_raw else EventFilter()
    except orjson.JSONDecodeError:
        raise MatrixError("M_NOT_JSON", 400, "filter is not JSON") from None
    body = await get_hs(request).pagination.messages(
        (requester.user_id, requester.device_id), room, bound,
        backwards=direction == "b", limit=limit, event_filter=event_filter,
        start=_parse_position(request.query.get("from")), end=_parse_position(request.query.get("to")),
    )
    return json_response(body)


@routes.get(V3 + "/rooms/{room_id}/event/{event_id}")
async def get_event(request: web.Request) -> web.Response:
    room_id = request.match_info["room_id"]
    try:
        requester, room, bound = await _visible_room(request, room_id)
    except MatrixError as e:
        if e.errcode != "M_FORBIDDEN":
            raise
        # spec: GET /event — 404 covers "you do not have permission to read this event".
        raise not_found("Event not found") from None
    return json_response(await get_hs(request).pagination.event(
        (requester.user_id, requester.device_id), room, bound, request.match_info["event_id"]
    ))


@routes.get(V3 + "/rooms/{room_id}/context/{event_id}")
async def context(request: web.Request) -> web.Response:
    room_id = request.match_info["room_id"]
    requester, room, bound = await _visible_room(request, room_id)
    pagination = get_hs(request).pagination
    event = await pagination.context_event(requester.user_id, room, bound, request.match_info["event_id"])
    limit = query_int(request, "limit", 10, minimum=0, maximum=100)
    return json_response(await pagination.context(requester.user_id, room, bound, event, limit))


# --- relations ------------------------------------------------------------------------
RELATIONS = "/_matrix/client/v1/rooms/{room_id}/relations/{event_id}"


@routes.get(RELATIONS)
@routes.get(RELATIONS + "/{rel_type}")
@routes.get(RELATIONS + "/{rel_type}/{event_type}")
async def relations(request: web.Request) -> web.Response:
    """spec: data/api/client-server/relations.yaml"""
    room_id = request.match_info["room_id"]
    requester, room, bound = await _visible_room(request, room_id)
    pagination = get_hs(request).pagination
    parent = await pagination.relations_parent(room, request.match_info["event_id"])
    direction = request.query.get("dir", "b")
    if direction not in ("b", "f"):
        raise MatrixError("M_INVALID_PARAM", 400, "dir must be b or f")
    limit = query_int(request, "limit", 50, minimum=0, maximum=1000)
    start = _parse_position(request.query.get("from"))
    end = _parse_position(request.query.get("to"))
    chunk, next_pos = await pagination.relations_page(
        (requester.user_id, requester.device_id), room, bound, parent,
        rel_type=request.match_info.get("rel_type"), event_type=request.match_info.get("event_type"),
        backwards=direction == "b", limit=limit, start=start, end=end,
    )
    body: dict[str, Any] = {"chunk": chunk}
    if next_pos is not None:
        body["next_batch"] = StreamToken(events=next_pos).serialize()
    if start is not None:
        body["prev_batch"] = request.query["from"]
    return json_response(body)


@routes.get("/_matrix/client/v1/rooms/{room_id}/threads")
async def threads(request: web.Request) -> web.Response:
    """spec: data/api/client-server/threads_list.yaml — thread roots by latest activity."""
    room_id = request.match_info["room_id"]
    requester, room, bound = await _visible_room(request, room_id)
    include = request.query.get("include", "all")
    if include not in ("all", "participated"):
        raise MatrixError("M_INVALID_PARAM", 400, "include must be all or participated")
    limit = query_int(request, "limit", 20, minimum=1, maximum=100)
    start = _parse_position(request.query.get("from"))
    chunk, next_pos = await get_hs(request).pagination.thread_roots(
        (requester.user_id, requester.device_id), room, bound,
        participated=include == "participated", limit=limit, start=start,
    )
    body: dict[str, Any] = {"chunk": chunk}
    if next_pos is not None:
        body["next_batch"] = StreamToken(events=next_pos).serialize()
    return json_response(body)


@routes.get("/_matrix/client/v1/rooms/{room_id}/timestamp_to_event")
async def timestamp_to_event(request: web.Request) -> web.Response:
    """spec: data/api/client-server/room_event_by_timestamp.yaml (see services/jump_to_date.py)."""
    room_id = request.match_info["room_id"]
    _, _, bound = await _visible_room(request, room_id)
    hs = get_hs(request)
    if "ts" not in request.query:
        raise MatrixError("M_MISSING_PARAM", 400, "ts is required")
    ts = query_int(request, "ts", 0)
    direction = request.query.get("dir")
    if direction not in ("f", "b"):
        raise MatrixError("M_INVALID_PARAM", 400, "dir must be f or b")
    found = await hs.jump_to_date.closest(
        room_id, ts, direction == "f", None if bound is None else bound + 1
    )
    if found is None:
        raise not_found(f"No event found {'after' if direction == 'f' else 'before'} {ts} in {room_id}")
    return json_response({"event_id": found[0], "origin_server_ts": found[1]})
