"""Push rules, pushers and notifications.

spec: data/api/client-server/{pushrules,pusher,notifications}.yaml.
"""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, query_int, read_json_object, require_user
from homeserver.api.response import empty_response, json_response
from homeserver.core.push.ruleset import check_kind

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"
RULE = V3 + "/pushrules/global/{kind}/{rule_id}"
NOTIFICATIONS_DEFAULT_LIMIT = 20
NOTIFICATIONS_MAX_LIMIT = 100


def _kind_and_id(request: web.Request) -> tuple[str, str]:
    kind = request.match_info["kind"]
    check_kind(kind)
    return kind, request.match_info["rule_id"]


# --- push rules -----------------------------------------------------------------------------


@routes.get(V3 + "/pushrules/")
@routes.get(V3 + "/pushrules")
async def get_all_rulesets(request: web.Request) -> web.Response:
    requester = await require_user(request)
    return json_response({"global": get_hs(request).push_settings.ruleset(requester.user_id)})


@routes.get(V3 + "/pushrules/global/")
async def get_global_ruleset(request: web.Request) -> web.Response:
    requester = await require_user(request)
    return json_response(get_hs(request).push_settings.ruleset(requester.user_id))


@routes.get(RULE)
async def get_rule(request: web.Request) -> web.Response:
    requester = await require_user(request)
    kind, rule_id = _kind_and_id(request)
    return json_response(get_hs(request).push_settings.get_rule(requester.user_id, kind, rule_id))


@routes.put(RULE)
async def put_rule(request: web.Request) -> web.Response:
    requester = await require_user(request)
    kind, rule_id = _kind_and_id(request)
    body = await read_json_object(request)
    await get_hs(request).push_settings.put_rule(
        requester.user_id, kind, rule_id, body, request.query.get("before"), request.query.get("after")
    )
    return empty_response()


@routes.delete(RULE)
async def delete_rule(request: web.Request) -> web.Response:
    requester = await require_user(request)
    kind, rule_id = _kind_and_id(request)
    await get_hs(request).push_settings.delete_rule(requester.user_id, kind, rule_id)
    return empty_response()


@routes.get(RULE + "/{attribute:enabled|actions}")
async def get_rule_attribute(request: web.Request) -> web.Response:
    """GET .../enabled and .../actions: one attribute of a rule."""
    requester = await require_user(request)
    kind, rule_id = _kind_and_id(request)
    attribute = request.match_info["attribute"]
    rule = get_hs(request).push_settings.get_rule(requester.user_id, kind, rule_id)
    return json_response({attribute: rule[attribute]})


@routes.put(RULE + "/{attribute:enabled|actions}")
async def put_rule_attribute(request: web.Request) -> web.Response:
    """PUT .../enabled and .../actions."""
    requester = await require_user(request)
    kind, rule_id = _kind_and_id(request)
    body = await read_json_object(request)
    settings = get_hs(request).push_settings
    setter = settings.set_enabled if request.match_info["attribute"] == "enabled" else settings.set_actions
    await setter(requester.user_id, kind, rule_id, body)
    return empty_response()


# --- pushers --------------------------------------------------------------------------------


@routes.get(V3 + "/pushers")
async def get_pushers(request: web.Request) -> web.Response:
    requester = await require_user(request)
    return json_response({"pushers": await get_hs(request).push_settings.pushers(requester.user_id)})


@routes.post(V3 + "/pushers/set")
async def set_pusher(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_json_object(request)
    await get_hs(request).push_settings.set_pusher(requester.user_id, requester.device_id, body)
    return empty_response()


# --- notifications ----------------------------------------------------------------------------


@routes.get(V3 + "/notifications")
async def get_notifications(request: web.Request) -> web.Response:
    requester = await require_user(request)
    limit = query_int(request, "limit", NOTIFICATIONS_DEFAULT_LIMIT, minimum=1, maximum=NOTIFICATIONS_MAX_LIMIT)
    # spec: "only=highlight" filters; other values filter nothing.
    only_highlight = request.query.get("only") == "highlight"
    body = await get_hs(request).notifications.list_notifications(
        requester.user_id, request.query.get("from") or None, limit, only_highlight
    )
    return json_response(body)
