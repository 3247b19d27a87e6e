"""GET /.well-known/matrix/server — spec: server-server-api.md, "Resolving server names"
(step 3) and ``wellknown.yaml``: delegation of this server name to another host."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs
from homeserver.errors import MatrixError

routes = web.RouteTableDef()


@routes.get("/.well-known/matrix/server")
async def well_known_server(request: web.Request) -> web.Response:
    delegated = get_hs(request).config.federation.well_known_server
    if delegated is None:
        raise MatrixError("M_NOT_FOUND", 404, "No federation delegation is configured")
    return web.json_response({"m.server": delegated})
