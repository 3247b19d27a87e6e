"""GET preview_url (spec: data/api/client-server/authed-content-repo.yaml and, deprecated,
content-repo.yaml). Both need an access token."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import get_hs, query_int, require_user
from homeserver.api.response import json_response
from homeserver.errors import missing_param

routes = web.RouteTableDef()


@routes.get("/_matrix/client/v1/media/preview_url")
@routes.get("/_matrix/media/{version:(?:v3|r0)}/preview_url")
async def preview_url(request: web.Request) -> web.Response:
    requester = await require_user(request)
    url = request.query.get("url")
    if not url:
        raise missing_param("url is required")
    # ts: "The preferred point in time"; previews are cached for an hour and served as they are.
    query_int(request, "ts", 0)
    return json_response(await get_hs(request).url_previews.preview(requester.user_id, url))
