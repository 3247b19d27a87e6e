"""Admin API: server version, server notices, registration tokens, content reports, shutdown."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from homeserver.api.admin.auth import PARLEY_V1, SYNAPSE_V1, require_admin
from homeserver.api.admin.bodies import NewRegistrationTokenBody, ServerNoticeBody
from homeserver.api.request import get_hs, query_bool, query_int, read_json_object, read_model
from homeserver.api.response import empty_response, json_response
from homeserver.errors import MatrixError, invalid_param, not_found

logger = logging.getLogger(__name__)
routes = web.RouteTableDef()


def parley_version() -> str:
    try:
        return version("parley")
    except PackageNotFoundError:
        return "0.1.0"


@routes.get(SYNAPSE_V1 + "/server_version")
async def server_version(request: web.Request) -> web.Response:
    await require_admin(request)
    return json_response({"server_version": f"Parley {parley_version()}"})


@routes.post(SYNAPSE_V1 + "/send_server_notice")
@routes.put(SYNAPSE_V1 + "/send_server_notice/{txn_id}")
async def send_server_notice(request: web.Request) -> web.Response:
    requester = await require_admin(request)
    body = await read_model(request, ServerNoticeBody)
    event_id = await get_hs(request).server_notices.send_notice(
        body.user_id, body.content, admin_id=requester.user_id, txn_id=request.match_info.get("txn_id")
    )
    return json_response({"event_id": event_id})


@routes.post(PARLEY_V1 + "/shutdown")
async def shutdown(request: web.Request) -> web.StreamResponse:
    """Graceful shutdown, as SIGTERM: in-flight requests and queued writes finish first."""
    requester = await require_admin(request)
    stop = get_hs(request).shutdown_requested
    if stop is None:
        raise MatrixError("M_UNKNOWN", 503, "This server is not run by parleyd and cannot shut itself down")
    logger.warning("shutdown requested by %s", requester.user_id)
    response = json_response({"shutting_down": True})
    await response.prepare(request)
    await response.write_eof()
    stop.set()
    return response


# --- registration tokens (Synapse: docs/usage/administration/admin_api/registration_tokens.md) ---
TOKENS = SYNAPSE_V1 + "/registration_tokens"


@routes.get(TOKENS)
async def list_tokens(request: web.Request) -> web.Response:
    await require_admin(request)
    valid = query_bool(request, "valid") if "valid" in request.query else None
    return json_response({"registration_tokens": await get_hs(request).registration_tokens.list_tokens(valid)})


@routes.post(TOKENS + "/new")
async def new_token(request: web.Request) -> web.Response:
    await require_admin(request)
    body = await read_model(request, NewRegistrationTokenBody, allow_empty=True)
    token = await get_hs(request).registration_tokens.create(
        body.token, body.length, body.uses_allowed, body.expiry_time
    )
    return json_response(token)


@routes.get(TOKENS + "/{token}")
async def get_token(request: web.Request) -> web.Response:
    await require_admin(request)
    return json_response(await get_hs(request).registration_tokens.get(request.match_info["token"]))


@routes.put(TOKENS + "/{token}")
async def update_token(request: web.Request) -> web.Response:
    await require_admin(request)
    raw = await read_json_object(request)
    fields: dict[str, int | None] = {}
    for key in ("uses_allowed", "expiry_time"):
        if key in raw:
            value = raw[key]
            if value is not None and (type(value) is not int):
                raise invalid_param(f"{key} must be an integer or null")
            fields[key] = value
    return json_response(await get_hs(request).registration_tokens.update(request.match_info["token"], fields))


@routes.delete(TOKENS + "/{token}")
async def delete_token(request: web.Request) -> web.Response:
    await require_admin(request)
    await get_hs(request).registration_tokens.delete(request.match_info["token"])
    return empty_response()


# --- content reports (Synapse: docs/admin_api/event_reports.md) ------------------------------
@routes.get(SYNAPSE_V1 + "/event_reports")
async def list_event_reports(request: web.Request) -> web.Response:
    await require_admin(request)
    direction = request.query.get("dir", "b")
    if direction not in ("f", "b"):
        raise invalid_param("dir must be f or b")
    offset = query_int(request, "from", 0)
    reports, total = await get_hs(request).admin.list_reports(
        offset=offset, limit=query_int(request, "limit", 100, maximum=1000), newest_first=direction == "b",
        room_id=request.query.get("room_id"), reporter=request.query.get("user_id"),
        events_only=not query_bool(request, "include_room_and_user_reports", False),
    )
    body: dict[str, object] = {"event_reports": reports, "total": total}
    if offset + len(reports) < total:
        body["next_token"] = offset + len(reports)
    return json_response(body)


def _report_id(request: web.Request) -> int:
    raw = request.match_info["report_id"]
    if not raw.isdigit():
        raise invalid_param("report_id must be a positive integer")
    return int(raw)


@routes.get(SYNAPSE_V1 + "/event_reports/{report_id}")
async def get_event_report(request: web.Request) -> web.Response:
    await require_admin(request)
    return json_response(await get_hs(request).admin.get_report(_report_id(request)))


@routes.delete(SYNAPSE_V1 + "/event_reports/{report_id}")
async def delete_event_report(request: web.Request) -> web.Response:
    await require_admin(request)
    if not await get_hs(request).reports.delete_report(_report_id(request)):
        raise not_found("Report not found")
    return empty_response()

