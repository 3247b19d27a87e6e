"""Checking an OpenID token with the homeserver that issued it.

spec: server-server-api "OpenID", data/api/server-server/openid.yaml: the caller asks
``GET /_matrix/federation/v1/openid/userinfo?access_token=...`` of the server named in
the token (``matrix_server_name``) and "MUST validate that the returned user ID is on
the server they called". The request goes through the signed federation client (the
endpoint needs no X-Matrix, but the client's discovery, TLS and timeouts apply).
Tokens of this server are looked up locally, without HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from federation.transport.client import FederationClient
from federation.transport.errors import (
    FederationBadResponse,
    FederationHttpError,
    FederationUnreachable,
)
from homeserver.errors import MatrixError
from schemas.identifiers import is_valid_server_name, is_valid_user_id, server_of

logger = logging.getLogger(__name__)

USERINFO_PATH = "/_matrix/federation/v1/openid/userinfo"
USERINFO_TIMEOUT_SECONDS = 10.0
MAX_TOKEN_LENGTH = 1024

LocalUserForToken = Callable[[str], Awaitable[str | None]]


def _rejected(message: str) -> MatrixError:
    return MatrixError("M_UNKNOWN_TOKEN", 401, message)


class OpenIdVerifier:
    """Turns ``(server_name, token)`` into the user ID it stands for, or raises.

    Raises ``MatrixError``: 401 ``M_UNKNOWN_TOKEN`` when the server does not vouch for
    the token (unknown, expired, or naming a user of another server), 400
    ``M_INVALID_PARAM`` for a malformed token object, 502 when the server cannot be asked.
    """

    def __init__(
        self,
        client: FederationClient,
        server_name: str,
        local_user_for_token: LocalUserForToken,
        timeout_seconds: float = USERINFO_TIMEOUT_SECONDS,
    ) -> None:
        self.client = client
        self.server_name = server_name
        self.local_user_for_token = local_user_for_token
        self.timeout_seconds = timeout_seconds

    async def verify_token_object(self, token: Mapping[str, Any]) -> str:
        """The user of a token object as returned by ``/openid/request_token``."""
        access_token = token.get("access_token")
        server_name = token.get("matrix_server_name")
        if not isinstance(access_token, str) or not access_token:
            raise MatrixError("M_INVALID_PARAM", 400, "openid token: access_token must be a non-empty string")
        if not isinstance(server_name, str):
            raise MatrixError("M_INVALID_PARAM", 400, "openid token: matrix_server_name must be a string")
        token_type = token.get("token_type", "Bearer")
        if token_type != "Bearer":
            raise MatrixError("M_INVALID_PARAM", 400, "openid token: token_type must be 'Bearer'")
        return await self.verify(server_name, access_token)

    async def verify(self, server_name: str, access_token: str) -> str:
        """The user ID ``server_name`` says ``access_token`` belongs to (a user of that server)."""
        if not is_valid_server_name(server_name):
            raise MatrixError("M_INVALID_PARAM", 400, f"{server_name!r} is not a server name")
        if not access_token or len(access_token) > MAX_TOKEN_LENGTH:
            raise _rejected("Access token unknown or expired")
        if server_name == self.server_name:
            user_id = await self.local_user_for_token(access_token)
            if user_id is None:
                raise _rejected("Access token unknown or expired")
            return user_id
        sub = await self._ask_userinfo(server_name, access_token)
        # spec: the returned user ID must be on the server that was called.
        if not isinstance(sub, str) or not is_valid_user_id(sub) or server_of(sub) != server_name:
            logger.warning("openid userinfo of %s named %r, not one of its users", server_name, sub)
            raise _rejected(f"{server_name} vouched for a user who is not one of its own")
        return sub

    async def _ask_userinfo(self, server_name: str, access_token: str) -> object:
        try:
            answer = await self.client.get_json(
                server_name, USERINFO_PATH, {"access_token": access_token}, timeout=self.timeout_seconds
            )
        except FederationHttpError as e:
            if e.status >= 500:
                raise MatrixError("M_UNKNOWN", 502, f"{server_name} could not check the token ({e.status})") from None
            raise _rejected(f"{server_name} did not accept the token ({e.status} {e.errcode or ''})".strip()) from None
        except (FederationUnreachable, FederationBadResponse) as e:
            logger.info("openid userinfo of %s failed: %s", server_name, e)
            raise MatrixError("M_UNKNOWN", 502, f"Could not ask {server_name} about the token") from None
        if not isinstance(answer, dict):
            raise MatrixError("M_UNKNOWN", 502, f"{server_name} answered userinfo with something else than an object")
        return answer.get("sub")
