"""Refuse every request from a banned IP address with 403 M_FORBIDDEN (one set lookup)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.middleware import Handler
from homeserver.api.request import get_hs
from homeserver.errors import forbidden


@web.middleware
async def ip_ban_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    ip_bans = get_hs(request).ip_bans
    if not ip_bans.has_bans:
        return await handler(request)
    address = ip_bans.client_address(request.remote, request.headers.get("X-Forwarded-For"))
    if address is not None and ip_bans.is_banned(address):
        raise forbidden("Your IP address is banned from this server")
    return await handler(request)
