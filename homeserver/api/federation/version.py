"""GET /_matrix/federation/v1/version — spec: server-server-api.md, "GET /_matrix/federation/v1/version"."""

from __future__ import annotations

import importlib.metadata

from aiohttp import web

routes = web.RouteTableDef()

SERVER_SOFTWARE_NAME = "Parley"


def _installed_version() -> str:
    try:
        return importlib.metadata.version("parley")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"  # running from a checkout that was never installed


SERVER_SOFTWARE_VERSION = _installed_version()


@routes.get("/_matrix/federation/v1/version")
async def get_server_version(request: web.Request) -> web.Response:
    # The spec requires no authentication for this endpoint.
    return web.json_response(
        {"server": {"name": SERVER_SOFTWARE_NAME, "version": SERVER_SOFTWARE_VERSION}}
    )
