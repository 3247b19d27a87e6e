"""Discovery: /versions, /.well-known/matrix/client, /capabilities, /health.

spec: client-server-api/_index.md, "Server Discovery" and "Capabilities negotiation".
"""

from __future__ import annotations

from aiohttp import web

from federation.rooms.versions import KNOWN_ROOM_VERSIONS
from homeserver.api.request import get_hs, require_user
from homeserver.api.response import json_response

routes = web.RouteTableDef()

SUPPORTED_SPEC_VERSIONS = [f"v1.{n}" for n in range(1, 17)] + ["r0.6.1"]
# Simplified sliding sync (MSC4186), under the flag Element X looks for (as Synapse).
# MSC4140 delayed events, which Element Call needs for call membership.
UNSTABLE_FEATURES = {"org.matrix.simplified_msc3575": True, "org.matrix.msc4140": True}


@routes.get("/_matrix/client/versions")
async def versions(request: web.Request) -> web.Response:
    return json_response({"versions": SUPPORTED_SPEC_VERSIONS, "unstable_features": UNSTABLE_FEATURES})


@routes.get("/.well-known/matrix/client")
async def well_known_client(request: web.Request) -> web.Response:
    hs = get_hs(request)
    return json_response({"m.homeserver": {"base_url": hs.config.base_url}})


@routes.get("/_matrix/client/v3/capabilities")
@routes.get("/_matrix/client/r0/capabilities")
async def capabilities(request: web.Request) -> web.Response:
    await require_user(request)
    hs = get_hs(request)
    return json_response(
        {
            "capabilities": {
                "m.change_password": {"enabled": True},
                "m.room_versions": {
                    "default": hs.config.default_room_version,
                    "available": {v: "stable" for v in KNOWN_ROOM_VERSIONS},
                },
                "m.set_displayname": {"enabled": True},
                "m.set_avatar_url": {"enabled": True},
                "m.3pid_changes": {"enabled": False},
                "m.get_login_token": {"enabled": False},
            }
        }
    )


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return web.Response(text="OK")
