"""The OpenID token a participant presents to the focus (spec: client-server-api/modules/openid.md).

The token object is what ``POST /user/{userId}/openid/request_token`` returned to the
participant's client; the focus hands it to the injected verifier
(``services/federation/openid.py::OpenIdVerifier.verify_token_object``), which asks the
token's homeserver (or this server's own token table) whose it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from homeserver.errors import MatrixError


class OpenIdToken(BaseModel):
    """The answer of /openid/request_token, as a client passes it on."""

    model_config = ConfigDict(extra="allow")
    access_token: StrictStr = Field(min_length=1, max_length=1024)
    token_type: StrictStr
    matrix_server_name: StrictStr = Field(min_length=1, max_length=255)
    expires_in: StrictInt


# Resolves a token object to the Matrix user ID it was issued to, or raises MatrixError (401).
OpenIdVerifier = Callable[[Mapping[str, Any]], Awaitable[str]]


def unknown_token(message: str) -> MatrixError:
    return MatrixError("M_UNKNOWN_TOKEN", 401, message)
