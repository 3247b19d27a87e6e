"""TURN credentials for VoIP: GET /voip/turnServer.

spec: client-server-api/modules/voip_events.md, "Server behaviour";
data/api/client-server/voip.yaml. Credentials follow coturn's "TURN REST API" scheme
(coturn's ``use-auth-secret``): the username is ``<expiry unix seconds>:<user_id>`` and
the password base64(HMAC-SHA1(shared secret, username)), so coturn checks them with the
secret alone, as Synapse does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from homeserver.clock import Clock
from homeserver.core.ratelimit import RateLimiter
from homeserver.services.accounts.auth import Requester

# Per-user limit, Synapse's default for client requests (rc_message: 0.2/s, burst 10).
RATE_PER_SECOND = 0.2
BURST = 10


def coturn_password(shared_secret: str, username: str) -> str:
    """base64(HMAC-SHA1(secret, username)): what coturn computes for ``use-auth-secret``."""
    digest = hmac.new(shared_secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    username: str
    password: str
    uris: list[str]
    ttl: int  # seconds

    def to_json(self) -> dict[str, str | int | list[str]]:
        return {"username": self.username, "password": self.password, "uris": self.uris, "ttl": self.ttl}


class TurnService:
    def __init__(
        self,
        uris: list[str],
        shared_secret: str | None,
        user_lifetime_ms: int,
        clock: Clock,
    ) -> None:
        self.uris = list(uris)
        self.shared_secret = shared_secret
        self.user_lifetime_ms = user_lifetime_ms
        self.clock = clock
        self.limiter = RateLimiter(RATE_PER_SECOND, BURST, clock.monotonic)

    @property
    def configured(self) -> bool:
        return bool(self.uris) and self.shared_secret is not None

    def credentials_for(self, requester: Requester) -> TurnCredentials | None:
        """Fresh credentials for the requester; None when no TURN server is configured.

        (``turn_allow_guests`` has nothing to refuse: Parley has no guest accounts.)
        """
        self.limiter.check(requester.user_id)
        if not self.configured or self.shared_secret is None:
            return None
        # As Synapse: expiry = now + lifetime, in whole seconds; ttl is the lifetime.
        expiry = (self.clock.time_ms() + self.user_lifetime_ms) // 1000
        username = f"{expiry}:{requester.user_id}"
        return TurnCredentials(
            username=username,
            password=coturn_password(self.shared_secret, username),
            uris=list(self.uris),
            ttl=self.user_lifetime_ms // 1000,
        )
