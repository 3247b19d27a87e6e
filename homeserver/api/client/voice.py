"""The voice focus: /_parley/voice/v1/rooms/{roomId}/{join,leave,mute} (docs/voice.md).

Join authenticates with an OpenID token (spec: client-server-api/modules/openid.md), so
users of other homeservers can join; a local user may use their access token instead.
Leave and mute take the ``participant_id`` that join returned (a capability of that session).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from homeserver.api.request import access_token_of, get_hs, read_model, require_user
from homeserver.api.response import json_response
from homeserver.services.voice.openid import OpenIdToken

routes = web.RouteTableDef()
PREFIX = "/_parley/voice/v1/rooms/{room_id}"


class JoinBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    openid_token: OpenIdToken | None = None
    device_id: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    sdp: StrictStr = Field(min_length=1)


class SessionBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    participant_id: StrictStr = Field(min_length=1, max_length=64)


class MuteBody(SessionBody):
    muted: StrictBool


@routes.post(PREFIX + "/join")
async def join(request: web.Request) -> web.Response:
    hs = get_hs(request)
    body = await read_model(request, JoinBody)
    if body.openid_token is not None:
        user_id = await hs.voice.authenticate(body.openid_token)
        device_id = body.device_id
    elif access_token_of(request) is not None:
        requester = await require_user(request)
        user_id, device_id = requester.user_id, body.device_id or requester.device_id
    else:
        return json_response({"errcode": "M_MISSING_TOKEN", "error": "openid_token is required"}, 401)
    if not device_id:
        return json_response({"errcode": "M_MISSING_PARAM", "error": "device_id is required"}, 400)
    answer = await hs.voice.join(request.match_info["room_id"], user_id, device_id, body.sdp)
    return json_response({"type": "answer", "sdp": answer.sdp, "participant_id": answer.participant_id})


@routes.post(PREFIX + "/leave")
async def leave(request: web.Request) -> web.Response:
    body = await read_model(request, SessionBody)
    get_hs(request).voice.leave(request.match_info["room_id"], body.participant_id)
    return json_response({})


@routes.post(PREFIX + "/mute")
async def mute(request: web.Request) -> web.Response:
    body = await read_model(request, MuteBody)
    get_hs(request).voice.set_muted(request.match_info["room_id"], body.participant_id, body.muted)
    return json_response({})
