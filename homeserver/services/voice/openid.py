"""Who holds an OpenID token: asked of the token's homeserver over federation.

spec: server-server-api, "OpenID" (GET /_matrix/federation/v1/openid/userinfo) and
client-server-api/modules/openid.md: the token names its homeserver; the answer's ``sub``
must belong to that server, or a server could vouch for users of another.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from federation.transport.client import FederationClient
from federation.transport.errors import FederationError
from homeserver.errors import MatrixError
from schemas.identifiers import is_valid_server_name

logger = logging.getLogger(__name__)

USERINFO_TIMEOUT_S = 10.0


class OpenIdToken(BaseModel):
    """The body of POST /user/{userId}/openid/request_token's answer, as a client passes it on."""

    model_config = ConfigDict(extra="allow")
    access_token: StrictStr = Field(min_length=1, max_length=512)
    token_type: StrictStr
    matrix_server_name: StrictStr = Field(min_length=1, max_length=255)
    expires_in: StrictInt


# Resolves a token to the Matrix user ID it was issued to, or raises MatrixError 401.
OpenIdVerifier = Callable[[OpenIdToken], Awaitable[str]]


def unknown_token(message: str) -> MatrixError:
    return MatrixError("M_UNKNOWN_TOKEN", 401, message)


class FederatedOpenIdVerifier:
    """Checks a token with its homeserver's ``/openid/userinfo`` through the federation client."""

    def __init__(self, federation_client: FederationClient) -> None:
        self._client = federation_client

    async def __call__(self, token: OpenIdToken) -> str:
        if token.token_type != "Bearer":
            raise unknown_token("token_type must be Bearer")
        server = token.matrix_server_name
        if not is_valid_server_name(server):
            raise unknown_token("matrix_server_name is not a server name")
        try:
            info = await self._client.get_json(
                server, "/_matrix/federation/v1/openid/userinfo",
                {"access_token": token.access_token}, timeout=USERINFO_TIMEOUT_S,
            )
        except FederationError as e:
            logger.info("OpenID token from %s not accepted: %s", server, e)
            raise unknown_token(f"{server} did not vouch for this token") from None
        sub = info.get("sub") if isinstance(info, dict) else None
        if not isinstance(sub, str) or sub.partition(":")[2] != server:
            raise unknown_token(f"{server} answered with a user of another server")
        return sub
