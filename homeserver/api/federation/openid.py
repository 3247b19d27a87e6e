"""GET /_matrix/federation/v1/openid/userinfo — spec: data/api/server-server/openid.yaml.

Not authenticated with X-Matrix: whoever holds the token (a third-party service, another
homeserver's voice focus) exchanges it for the user ID.
"""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs
from homeserver.api.response import json_response
from homeserver.errors import MatrixError

routes = web.RouteTableDef()


@routes.get("/_matrix/federation/v1/openid/userinfo")
async def openid_userinfo(request: web.Request) -> web.Response:
    token = request.query.get("access_token")
    if not token:
        # As Synapse: the token is the only credential, so its absence is a 401.
        raise MatrixError("M_MISSING_TOKEN", 401, "Access token required")
    return json_response({"sub": await get_hs(request).openid.userinfo(token)})
