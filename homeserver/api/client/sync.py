"""/sync and filters (spec: data/api/client-server/{sync,filter}.yaml)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from homeserver.api.request import get_hs, query_bool, query_int, read_json_object, require_user
from homeserver.api.response import json_response
from homeserver.core.filtering import SyncFilter
from homeserver.core.stream_token import StreamToken
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.sync.sync import SyncRequest

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"

MAX_SYNC_TIMEOUT_MS = 5 * 60 * 1000


@routes.get(V3 + "/sync")
async def sync(request: web.Request) -> web.Response:
    requester = await require_user(request)
    hs = get_hs(request)
    since_raw = request.query.get("since")
    since = StreamToken.parse(since_raw) if since_raw else None
    timeout = query_int(request, "timeout", 0, minimum=0, maximum=MAX_SYNC_TIMEOUT_MS)
    full_state = query_bool(request, "full_state")
    set_presence = request.query.get("set_presence")
    if set_presence is not None and set_presence not in ("online", "offline", "unavailable"):
        raise MatrixError("M_INVALID_PARAM", 400, "set_presence must be online, offline or unavailable")
    sync_filter = await _load_filter(hs, requester.user_id, request.query.get("filter"))
    await hs.presence.on_sync(requester.user_id, set_presence or "online")
    result = await hs.sync.sync(
        SyncRequest(
            requester=requester,
            filter=sync_filter,
            since=since,
            full_state=full_state,
            timeout_ms=timeout,
            set_presence=set_presence,
        )
    )
    return json_response(result)


_PARSED_FILTERS_MAX = 10_000


async def _load_filter(hs: Any, user_id: str, raw: str | None) -> SyncFilter:
    # Filters are immutable and clients send the same one on every /sync, so the
    # parsed form is cached by (user, filter query parameter).
    if not raw:
        return SyncFilter()
    cache: dict[tuple[str, str], SyncFilter] = hs.sync.parsed_filters
    cached = cache.get((user_id, raw))
    if cached is not None:
        return cached
    parsed = await _parse_filter(hs, user_id, raw)
    if len(cache) >= _PARSED_FILTERS_MAX:
        cache.clear()
    cache[(user_id, raw)] = parsed
    return parsed


async def _parse_filter(hs: object, user_id: str, raw: str) -> SyncFilter:
    if raw.startswith("{"):
        try:
            return SyncFilter.parse(orjson.loads(raw))
        except orjson.JSONDecodeError:
            raise MatrixError("M_NOT_JSON", 400, "filter is not valid JSON") from None
    filter_id = _filter_id(raw)
    if filter_id is None:
        raise MatrixError("M_INVALID_PARAM", 400, "filter must be a filter ID or a JSON object")
    stored = await hs.filters.get_filter(user_id, filter_id)  # type: ignore[attr-defined]
    if stored is None:
        raise not_found("No such filter")
    return SyncFilter.parse(stored)


def _filter_id(raw: str) -> int | None:
    """A filter ID as stored (a SQLite integer), or None for anything else."""
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 0 <= value < 2**63 else None


@routes.post(V3 + "/user/{user_id}/filter")
async def upload_filter(request: web.Request) -> web.Response:
    requester = await require_user(request)
    if request.match_info["user_id"] != requester.user_id:
        raise forbidden("Cannot create filters for other users")
    body = await read_json_object(request)
    SyncFilter.parse(body)  # validate before storing
    filter_id = await get_hs(request).filters.add_filter(requester.user_id, body)
    return json_response({"filter_id": str(filter_id)})


@routes.get(V3 + "/user/{user_id}/filter/{filter_id}")
async def get_filter(request: web.Request) -> web.Response:
    requester = await require_user(request)
    if request.match_info["user_id"] != requester.user_id:
        raise forbidden("Cannot read other users' filters")
    filter_id = _filter_id(request.match_info["filter_id"])
    if filter_id is None:
        raise not_found("No such filter")
    stored = await get_hs(request).filters.get_filter(requester.user_id, filter_id)
    if stored is None:
        raise not_found("No such filter")
    return json_response(stored)
