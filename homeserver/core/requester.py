"""Who is making a request: the user and device an access token stands for.

A plain value every layer passes around (handlers, services, sync sources), so it
lives below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Requester:
    user_id: str
    device_id: str
    is_admin: bool
    token_hash: bytes
    # Expiry (ms since the epoch) of a token issued with a refresh token; None never expires.
    expires_ts: int | None = None
    # Set when the token is an application service's as_token (docs/appservices.md).
    app_service_id: str | None = None
