"""Authenticating admin requests."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.request import require_user
from homeserver.services.accounts.auth import Requester
from homeserver.services.admin.admin import require_admin as check_admin

SYNAPSE_V1 = "/_synapse/admin/v1"
SYNAPSE_V2 = "/_synapse/admin/v2"
PARLEY_V1 = "/_parley/admin/v1"


async def require_admin(request: web.Request) -> Requester:
    """The requester if a server admin; 401 without a valid token, 403 otherwise."""
    requester = await require_user(request)
    check_admin(requester)
    return requester
