"""Builds the aiohttp Application for a Homeserver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import import_module

from aiohttp import web

from homeserver.api.admin.ip_ban_middleware import ip_ban_middleware
from homeserver.api.client.web_client import web_client_routes
from homeserver.api.middleware import cors_middleware, error_middleware
from homeserver.api.request import HOMESERVER_KEY
from homeserver.api.services import Services
from homeserver.app.homeserver import Homeserver

# Each module exposes `routes: web.RouteTableDef`.
ROUTE_MODULES = [
    "homeserver.api.client.discovery",
    "homeserver.api.client.accounts",
    "homeserver.api.client.rooms",
    "homeserver.api.client.room_upgrades",
    "homeserver.api.client.events",
    "homeserver.api.client.delayed_events",
    "homeserver.api.client.sync",
    "homeserver.api.client.sliding_sync",
    "homeserver.api.client.typing",
    "homeserver.api.client.receipts",
    "homeserver.api.client.presence",
    "homeserver.api.client.profile",
    "homeserver.api.client.account_data",
    "homeserver.api.client.to_device",
    "homeserver.api.client.user_directory",
    "homeserver.api.client.report",
    "homeserver.api.admin.users",
    "homeserver.api.admin.rooms",
    "homeserver.api.admin.moderation",
    "homeserver.api.admin.server",
    "homeserver.api.admin.shared_secret_registration",
    "homeserver.api.client.push",
    "homeserver.api.client.search",
    "homeserver.api.client.spaces",
    "homeserver.api.federation.spaces",
    "homeserver.api.federation.timestamp_to_event",
    "homeserver.api.client.keys",
    "homeserver.api.client.key_backup",
    "homeserver.api.client.media",
    "homeserver.api.client.media_legacy",
    "homeserver.api.client.url_preview",
    "homeserver.api.client.voice",
    "homeserver.api.federation.version",
    "homeserver.api.federation.media",
    "homeserver.api.federation.send",
    "homeserver.api.federation.events",
    "homeserver.api.federation.membership",
    "homeserver.api.federation.query",
    "homeserver.api.federation.public_rooms",
    "homeserver.api.federation.keys",
    "homeserver.api.federation.user_keys",
    "homeserver.api.federation.well_known",
    "homeserver.api.client.voip",
    "homeserver.api.client.openid",
    "homeserver.api.federation.openid",
    "homeserver.api.client.appservice",
]


# aiohttp indexes routes by their static prefix; a "{version:(?:v3|r0)}" segment puts
# every client route in one bucket that is regex-matched route by route (~30 us per
# request). Registered as two literal paths each, lookups stay a dict hit.
_VERSION_SEGMENT = "{version:(?:v3|r0)}"


def _with_literal_versions(routes: web.RouteTableDef) -> list[web.AbstractRouteDef]:
    out: list[web.AbstractRouteDef] = []
    for route in routes:
        if isinstance(route, web.RouteDef) and _VERSION_SEGMENT in route.path:
            for version in ("v3", "r0"):
                path = route.path.replace(_VERSION_SEGMENT, version)
                out.append(web.RouteDef(route.method, path, route.handler, route.kwargs))
        else:
            out.append(route)
    return out


MAX_REQUEST_LINE_BYTES = 65_536


def build_app(hs: Homeserver, *, manage_lifecycle: bool = True) -> web.Application:
    app = web.Application(
        middlewares=[cors_middleware, error_middleware, ip_ban_middleware],
        client_max_size=hs.config.limits.max_request_body_bytes,
        # aiohttp's parser answers longer request lines with a text/plain 400 before the
        # app runs; up to this size the app answers with a spec error instead.
        handler_args={"max_line_size": MAX_REQUEST_LINE_BYTES},
    )
    # The handlers see the container only through the Services protocol (mypy checks it).
    services: Services = hs
    app[HOMESERVER_KEY] = services
    for name in ROUTE_MODULES:
        app.router.add_routes(_with_literal_versions(import_module(name).routes))
    app.router.add_routes(web_client_routes(hs.config.web_client))

    async def answer_parked_long_polls(_app: web.Application) -> None:
        # aiohttp runs on_shutdown before it waits (shutdown_timeout) for the handlers
        # still running: parked /sync long polls answer now with what they have, instead
        # of holding the shutdown and then being cut off.
        hs.notifier.shutdown()

    app.on_shutdown.append(answer_parked_long_polls)

    if manage_lifecycle:

        async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
            await hs.start()
            yield
            await hs.stop()

        app.cleanup_ctx.append(lifecycle)
    return app
