"""OpenID tokens: a user proves who they are to another service (a voice focus, a widget).

spec: client-server-api/modules/openid.md, data/api/client-server/openid.yaml
(``POST /user/{userId}/openid/request_token``) and data/api/server-server/openid.yaml
(``GET /_matrix/federation/v1/openid/userinfo``). The token is good for nothing but
being exchanged for the user ID at the user's own homeserver.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from homeserver.clock import Clock
from homeserver.errors import MatrixError, forbidden
from homeserver.services.accounts.auth import Requester, hash_token
from homeserver.storage.accounts import AccountStore
from homeserver.storage.openid import OpenIdTokenStore

# One hour, as Synapse (openid_token_lifetime).
OPENID_TOKEN_LIFETIME_MS = 3_600_000
# Longer strings are no token of ours; refuse them before hashing and a lookup.
MAX_TOKEN_LENGTH = 255


@dataclass(frozen=True, slots=True)
class OpenIdToken:
    """The token object of the spec (an OpenID Connect token response without id_token)."""

    access_token: str
    matrix_server_name: str
    expires_in: int  # seconds
    token_type: str = "Bearer"

    def to_json(self) -> dict[str, str | int]:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "matrix_server_name": self.matrix_server_name,
            "expires_in": self.expires_in,
        }


class OpenIdService:
    def __init__(
        self,
        store: OpenIdTokenStore,
        accounts: AccountStore,
        clock: Clock,
        server_name: str,
        lifetime_ms: int = OPENID_TOKEN_LIFETIME_MS,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.clock = clock
        self.server_name = server_name
        self.lifetime_ms = lifetime_ms

    async def request_token(self, requester: Requester, user_id: str) -> OpenIdToken:
        """A new token for the requester; asking for anyone else is 403 (spec: "Should be
        the user who is authenticated for the request")."""
        if user_id != requester.user_id:
            raise forbidden("Cannot request an OpenID token for another user")
        token = "poi_" + secrets.token_urlsafe(32)
        now = self.clock.time_ms()
        await self.store.add_token(hash_token(token), requester.user_id, now + self.lifetime_ms, now)
        return OpenIdToken(token, self.server_name, self.lifetime_ms // 1000)

    async def user_for_token(self, token: str) -> str | None:
        """The local user a token was issued to; None if unknown, expired or the user is gone.

        For callers in this process (the voice focus) and for ``/openid/userinfo``.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        user_id = await self.store.get_user(hash_token(token), self.clock.time_ms())
        if user_id is None:
            return None
        user = await self.accounts.get_user(user_id)
        if user is None or user.deactivated:
            return None
        return user_id

    async def userinfo(self, token: str) -> str:
        """spec: GET /openid/userinfo — the owner of the token, or 401 M_UNKNOWN_TOKEN."""
        user_id = await self.user_for_token(token)
        if user_id is None:
            raise MatrixError("M_UNKNOWN_TOKEN", 401, "Access token unknown or expired")
        return user_id
