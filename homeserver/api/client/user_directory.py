"""POST /user_directory/search (spec: data/api/client-server/users.yaml)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from homeserver.api.request import get_hs, read_model, require_user
from homeserver.api.response import json_response
from homeserver.services.social.user_directory import DEFAULT_LIMIT

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    search_term: StrictStr
    limit: StrictInt = Field(default=DEFAULT_LIMIT, ge=0)


@routes.post(V3 + "/user_directory/search")
async def search(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_model(request, SearchBody)
    return json_response(await get_hs(request).user_directory.search(requester.user_id, body.search_term, body.limit))
