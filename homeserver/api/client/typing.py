"""PUT /rooms/{roomId}/typing/{userId} (spec: data/api/client-server/typing.yaml)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt

from homeserver.api.request import get_hs, read_model, require_user
from homeserver.api.response import empty_response
from homeserver.errors import forbidden

routes = web.RouteTableDef()
V3 = "/_matrix/client/{version:(?:v3|r0)}"


class TypingBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    typing: StrictBool
    timeout: StrictInt | None = None


@routes.put(V3 + "/rooms/{room_id}/typing/{user_id}")
async def set_typing(request: web.Request) -> web.Response:
    requester = await require_user(request)
    if request.match_info["user_id"] != requester.user_id:
        raise forbidden("You can only set your own typing state")
    body = await read_model(request, TypingBody)
    await get_hs(request).typing.set_typing(
        requester.user_id, request.match_info["room_id"], body.typing, body.timeout
    )
    return empty_response()
