"""Sending and reading room events: send, state, redact, /messages, /context, /event.

spec: data/api/client-server/{room_send,room_state,redaction,message_pagination,
event_context,rooms}.yaml
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from federation.rooms.events import Event
from homeserver.api.request import get_hs, query_int, read_json_object, require_user
from homeserver.api.response import json_response
from homeserver.core.event_format import client_event
from homeserver.core.filtering import EventFilter
from homeserver.core.stream_token import StreamToken
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.rooms.restricted_joins import member_content_from_client

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"

MAX_EVENT_BYTES = 65536


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
        existing = await hs.event_store.get_txn_event(requester.user_id, requester.device_id, txn_id)
        if existing is not None:
            # spec: "Transaction identifiers" — a retransmission is the same txn ID on the
            # same path; the store keys only by device, so check the path matches.
            previous = await hs.event_store.get_event(existing)
            if previous is None or (
                previous.room_id == room_id and previous.type == event_type
                and previous.redacts == redacts
            ):
                return json_response({"event_id": existing})
        else:
            txn = (requester.user_id, requester.device_id, txn_id)
    _check_size(content)
    event = await hs.events.send(room_id, requester.user_id, event_type, content, state_key, txn=txn, redacts=redacts)
    return json_response({"event_id": event.event_id})


@routes.put(V3 + "/rooms/{room_id}/send/{event_type}/{txn_id}")
async def send_message(request: web.Request) -> web.Response:
    content = await read_json_object(request)
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
    room = await hs.events.require_room(room_id)
    if event_type == "m.room.create":
        # spec: rooms/v11.md, v12.md — a room has exactly one create event, made with the room.
        raise MatrixError("M_BAD_JSON", 400, "m.room.create cannot be sent to an existing room")
    if event_type == "m.room.member":
        content = await member_content_from_client(
            hs.events, hs.is_mine, room, requester.user_id, state_key, content
        )
    current = room.state.get((event_type, state_key))
    if current is not None and current.content == content and current.sender == requester.user_id:
        return json_response({"event_id": current.event_id})  # no-op, as Synapse
    if event_type == "m.room.canonical_alias":
        await _check_canonical_alias(hs, room_id, content)
    _check_size(content)
    event = await hs.events.send(room_id, requester.user_id, event_type, content, state_key)
    return json_response({"event_id": event.event_id})


async def _check_canonical_alias(hs: Any, room_id: str, content: dict[str, Any]) -> None:
    # spec: m.room.canonical_alias — the server SHOULD check the aliases point here.
    aliases: list[Any] = []
    if content.get("alias") is not None:
        aliases.append(content["alias"])
    alt = content.get("alt_aliases", [])
    if not isinstance(alt, list):
        raise MatrixError("M_INVALID_PARAM", 400, "alt_aliases must be a list")
    aliases.extend(alt)
    for alias in aliases:
        if not isinstance(alias, str) or not alias.startswith("#") or ":" not in alias:
            raise MatrixError("M_INVALID_PARAM", 400, f"Invalid alias {alias!r}")
        found = await hs.room_store.get_alias(alias)
        if found is None or found[0] != room_id:
            raise MatrixError("M_BAD_ALIAS", 400, f"{alias} does not point to this room")


@routes.put(V3 + "/rooms/{room_id}/redact/{event_id}/{txn_id}")
async def redact(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request, allow_empty=True)
    hs = get_hs(request)
    room_id = request.match_info["room_id"]
    target_id = request.match_info["event_id"]
    room = await hs.events.require_room(room_id)
    target = await hs.event_store.get_event(target_id)
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
async def _visible_room(request: web.Request, room_id: str) -> tuple[Any, Any, int | None]:
    """(requester, room, upper stream bound for a former member)."""
    requester = await require_user(request)
    hs = get_hs(request)
    room = await hs.events.get_room(room_id)
    if room is None:
        raise forbidden("You are not in this room")
    member = room.state.get(("m.room.member", requester.user_id))
    history = room.state_content("m.room.history_visibility").get("history_visibility", "shared")
    if member is None or member.membership in ("invite", "knock"):
        if history != "world_readable":
            raise forbidden("You are not in this room")
        return requester, room, None
    if member.membership == "join":
        return requester, room, None
    if room_id not in await hs.events.rooms_for_user(requester.user_id):
        # spec: /forget — a forgotten room's history is no longer readable.
        if history != "world_readable":
            raise forbidden("You have forgotten this room")
        return requester, room, None
    return requester, room, member.stream_ordering


def _reader(requester: Any, room: Any) -> tuple[str, str | None]:
    return requester.user_id, room.membership(requester.user_id)


async def _readable(hs: Any, requester: Any, room: Any, events: list[Event]) -> list[Event]:
    """The events the requester may read under the room's history visibility."""
    user_id, membership = _reader(requester, room)
    return await hs.history_visibility.filter_events(
        user_id, room.room_id, events, current_membership=membership
    )


async def _in_timeline(hs: Any, event: Event) -> bool:
    """Not an outlier and not soft-failed: an event clients may be shown."""
    flags = (await hs.event_store.get_graph_flags([event.event_id])).get(event.event_id)
    return flags is not None and not flags.outlier and not flags.soft_failed


def _parse_position(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    return StreamToken.parse(raw).events


async def _collect_room_events(
    hs: Any,
    room_id: str,
    event_filter: EventFilter,
    limit: int,
    *,
    newest_first: bool,
    after: int | None,
    before: int | None,
    reader: tuple[str, str | None] | None = None,
) -> list[Event]:
    """Up to `limit` events passing the filter, walking from one end of (after, before).

    ``reader`` is (user_id, current membership): events that user may not read
    under the room's history visibility are skipped.
    """
    collected: list[Event] = []
    while len(collected) < limit:
        batch = await hs.event_store.get_room_events(
            room_id, after=after, before=before, limit=max(limit * 2, 50), newest_first=newest_first
        )
        if not batch:
            # Local history ran out: pull older events from other servers in the room.
            if newest_first and after is None and await hs.federation_events.backfill(room_id, limit):
                continue
            break
        visible = batch
        if reader is not None:
            visible = await hs.history_visibility.filter_events(
                reader[0], room_id, batch, current_membership=reader[1]
            )
        for ev in visible:
            if event_filter.allows(ev):
                collected.append(ev)
                if len(collected) >= limit:
                    break
        edge = (collected[-1] if len(collected) >= limit else batch[-1]).stream_ordering
        if newest_first:
            before = edge
        else:
            after = edge
    return collected


@routes.get(V3 + "/rooms/{room_id}/messages")
async def messages(request: web.Request) -> web.Response:
    room_id = request.match_info["room_id"]
    requester, room, bound = await _visible_room(request, room_id)
    hs = get_hs(request)
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
    current = hs.events.persisted_stream
    top = current if bound is None else min(current, bound)
    start = _parse_position(request.query.get("from"))
    end = _parse_position(request.query.get("to"))
    if direction == "b":
        position = top if start is None else min(start, top)
        collected = await _collect_room_events(
            hs, room_id, event_filter, limit, newest_first=True, after=end, before=position + 1,
            reader=_reader(requester, room),
        )
        next_pos = (collected[-1].stream_ordering - 1) if collected else None  # type: ignore[operator]
    else:
        # From the very beginning: backfilled history sits below position 0.
        position = (await hs.event_store.min_stream_ordering()) - 1 if start is None else start
        upper = top + 1 if end is None else min(end, top) + 1
        collected = await _collect_room_events(
            hs, room_id, event_filter, limit, newest_first=False, after=position, before=upper,
            reader=_reader(requester, room),
        )
        next_pos = collected[-1].stream_ordering if collected else None
    exhausted = len(collected) < limit
    now = hs.clock.time_ms()
    body: dict[str, Any] = {
        "chunk": await hs.relations.format_events(
            collected, now_ms=now, viewer=(requester.user_id, requester.device_id)
        ),
        "start": StreamToken(events=position).serialize(),
    }
    if next_pos is not None and not exhausted:
        body["end"] = StreamToken(events=next_pos).serialize()
    if event_filter.lazy_load_members and collected:
        senders = {e.sender for e in collected}
        body["state"] = [
            client_event(room.state[("m.room.member", s)], now_ms=now)
            for s in senders
            if ("m.room.member", s) in room.state
        ]
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
    hs = get_hs(request)
    event = await hs.event_store.get_event(request.match_info["event_id"])
    if event is None or event.room_id != room_id or event.rejected_reason is not None or (
        bound is not None and (event.stream_ordering or 0) > bound
    ) or not await _in_timeline(hs, event) or not await _readable(hs, requester, room, [event]):
        raise not_found("Event not found")
    formatted = await hs.relations.format_events(
        [event], now_ms=hs.clock.time_ms(), viewer=(requester.user_id, requester.device_id)
    )
    return json_response(formatted[0])


@routes.get(V3 + "/rooms/{room_id}/context/{event_id}")
async def context(request: web.Request) -> web.Response:
    room_id = request.match_info["room_id"]
    requester, room, bound = await _visible_room(request, room_id)
    hs = get_hs(request)
    event = await hs.event_store.get_event(request.match_info["event_id"])
    if event is None or event.room_id != room_id or event.stream_ordering is None or (
        bound is not None and event.stream_ordering > bound
    ) or not await _readable(hs, requester, room, [event]):
        raise not_found("Event not found")
    limit = query_int(request, "limit", 10, minimum=0, maximum=100)
    top = hs.events.persisted_stream if bound is None else bound
    before_n = limit // 2
    after_n = limit - before_n
    before = await hs.event_store.get_room_events(
        room_id, before=event.stream_ordering, limit=before_n, newest_first=True
    )
    after = await hs.event_store.get_room_events(
        room_id, after=event.stream_ordering, before=top + 1, limit=after_n, newest_first=False
    )
    before = await _readable(hs, requester, room, before)
    after = await _readable(hs, requester, room, after)
    state_ids = await hs.events.state_after_event(event.event_id)
    state = await hs.event_store.get_events(state_ids.values())
    now = hs.clock.time_ms()
    start_pos = (before[-1].stream_ordering if before else event.stream_ordering) - 1  # type: ignore[operator]
    end_pos = after[-1].stream_ordering if after else event.stream_ordering
    return json_response({
        "event": client_event(event, now_ms=now),
        "events_before": [client_event(e, now_ms=now) for e in before],
        "events_after": [client_event(e, now_ms=now) for e in after],
        "state": [client_event(e, now_ms=now) for e in state.values()],
        "start": StreamToken(events=start_pos).serialize(),
        "end": StreamToken(events=end_pos).serialize(),  # type: ignore[arg-type]
    })


# --- relations ------------------------------------------------------------------------
RELATIONS = "/_matrix/client/v1/rooms/{room_id}/relations/{event_id}"


@routes.get(RELATIONS)
@routes.get(RELATIONS + "/{rel_type}")
@routes.get(RELATIONS + "/{rel_type}/{event_type}")
async def relations(request: web.Request) -> web.Response:
    """spec: data/api/client-server/relations.yaml"""
    room_id = request.match_info["room_id"]
    requester, room, bound = await _visible_room(request, room_id)
    hs = get_hs(request)
    parent = await hs.event_store.get_event(request.match_info["event_id"])
    if parent is None or parent.room_id != room_id:
        raise not_found("Event not found")
    direction = request.query.get("dir", "b")
    if direction not in ("b", "f"):
        raise MatrixError("M_INVALID_PARAM", 400, "dir must be b or f")
    limit = query_int(request, "limit", 50, minimum=0, maximum=1000)
    start = _parse_position(request.query.get("from"))
    end = _parse_position(request.query.get("to"))
    top = hs.events.persisted_stream if bound is None else bound
    if direction == "b":
        before = (start + 1) if start is not None else top + 1
        page = await hs.event_store.get_relations_page(
            parent.event_id, rel_type=request.match_info.get("rel_type"),
            event_type=request.match_info.get("event_type"), before=before, after=end,
            limit=limit + 1, newest_first=True,
        )
    else:
        page = await hs.event_store.get_relations_page(
            parent.event_id, rel_type=request.match_info.get("rel_type"),
            event_type=request.match_info.get("event_type"),
            before=min(end + 1, top + 1) if end is not None else top + 1,
            after=start if start is not None else None,
            limit=limit + 1, newest_first=False,
        )
    more = len(page) > limit
    page = await _readable(hs, requester, room, page[:limit])
    body: dict[str, Any] = {"chunk": await hs.relations.format_events(
        page, now_ms=hs.clock.time_ms(), viewer=(requester.user_id, requester.device_id)
    )}
    if more and page:
        last = page[-1].stream_ordering or 0
        body["next_batch"] = StreamToken(events=last - 1 if direction == "b" else last).serialize()
    if start is not None:
        body["prev_batch"] = request.query["from"]
    return json_response(body)


@routes.get("/_matrix/client/v1/rooms/{room_id}/threads")
async def threads(request: web.Request) -> web.Response:
    """spec: data/api/client-server/threads_list.yaml — thread roots by latest activity."""
    room_id = request.match_info["room_id"]
    requester, room, bound = await _visible_room(request, room_id)
    hs = get_hs(request)
    include = request.query.get("include", "all")
    if include not in ("all", "participated"):
        raise MatrixError("M_INVALID_PARAM", 400, "include must be all or participated")
    limit = query_int(request, "limit", 20, minimum=1, maximum=100)
    start = _parse_position(request.query.get("from"))
    top = hs.events.persisted_stream if bound is None else bound
    before = top + 1 if start is None else min(start, top + 1)
    roots: list[Event] = []
    cursor = before
    more = True
    # Roots the requester may not read are skipped, so a page may take several reads.
    while len(roots) < limit and more:
        page = await hs.threads.roots_by_activity(
            room_id, before=cursor, limit=limit + 1,
            participant=requester.user_id if include == "participated" else None,
        )
        more = len(page) > limit
        page = page[:limit]
        held = [e for e, _ in page if e is not None]
        readable = {e.event_id for e in await _readable(hs, requester, room, held)}
        for event, latest in page:
            if len(roots) == limit:
                more = True
                break
            cursor = latest
            if event is not None and event.event_id in readable:
                roots.append(event)
    body: dict[str, Any] = {"chunk": await hs.relations.format_events(
        roots, now_ms=hs.clock.time_ms(), viewer=(requester.user_id, requester.device_id)
    )}
    if more:
        body["next_batch"] = StreamToken(events=cursor).serialize()
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
