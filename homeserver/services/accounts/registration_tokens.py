"""Registration tokens managed through the admin API.

spec: client-server-api/_index.md, "Token-authenticated registration"
(m.login.registration_token). These tokens work alongside the fixed list in
``registration.tokens``; while any exist, registration requires a token. A
token is valid while it has not expired and ``pending + completed`` is below
``uses_allowed``. "Pending" counts UIA sessions that passed the token stage but
have not finished registering; they are kept in memory only and lapse with
the UIA session lifetime.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from homeserver.clock import Clock
from homeserver.errors import MatrixError, invalid_param, not_found
from homeserver.services.accounts.uia import SESSION_LIFETIME_MS
from homeserver.storage.admin import AdminStore, RegistrationToken

TOKEN_ALPHABET = string.ascii_letters + string.digits + "._~-"
MAX_TOKEN_LENGTH = 64
MAX_SQL_INTEGER = 2**63


class RegistrationTokenService:
    def __init__(self, store: AdminStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.count = 0
        # UIA session id -> (token, ms when the stage passed)
        self._pending: dict[str, tuple[str, int]] = {}

    async def load(self) -> None:
        self.count = await self.store.count_registration_tokens()

    def _pending_count(self, token: str) -> int:
        cutoff = self.clock.time_ms() - SESSION_LIFETIME_MS
        for session_id in [s for s, (_, ts) in self._pending.items() if ts < cutoff]:
            del self._pending[session_id]
        return sum(1 for t, _ in self._pending.values() if t == token)

    def describe(self, token: RegistrationToken) -> dict[str, Any]:
        return {
            "token": token.token, "uses_allowed": token.uses_allowed,
            "pending": self._pending_count(token.token), "completed": token.completed,
            "expiry_time": token.expiry_time,
        }

    def _is_usable(self, token: RegistrationToken) -> bool:
        if token.expiry_time is not None and token.expiry_time <= self.clock.time_ms():
            return False
        if token.uses_allowed is None:
            return True
        return self._pending_count(token.token) + token.completed < token.uses_allowed

    # --- registration ------------------------------------------------------------------
    async def accept_for_session(self, token: str, session_id: str) -> bool:
        """Check a token for a UIA session; a valid one is pending until the registration completes."""
        if len(token) > MAX_TOKEN_LENGTH:
            return False
        found = await self.store.get_registration_token(token)
        if found is None or not self._is_usable(found):
            return False
        self._pending[session_id] = (token, self.clock.time_ms())
        return True

    async def is_valid(self, token: str) -> bool:
        if len(token) > MAX_TOKEN_LENGTH:
            return False
        found = await self.store.get_registration_token(token)
        return found is not None and self._is_usable(found)

    async def registration_completed(self, session_id: str) -> None:
        pending = self._pending.pop(session_id, None)
        if pending is not None:
            await self.store.complete_registration_token(pending[0])

    # --- admin API -----------------------------------------------------------------------
    async def list_tokens(self, valid: bool | None) -> list[dict[str, Any]]:
        tokens = await self.store.list_registration_tokens()
        if valid is not None:
            tokens = [t for t in tokens if self._is_usable(t) == valid]
        return [self.describe(t) for t in tokens]

    async def get(self, token: str) -> dict[str, Any]:
        found = await self.store.get_registration_token(token)
        if found is None:
            raise not_found(f"No such registration token: {token}")
        return self.describe(found)

    async def create(
        self, token: str | None, length: int, uses_allowed: int | None, expiry_time: int | None
    ) -> dict[str, Any]:
        if token is None:
            if not 0 < length <= MAX_TOKEN_LENGTH:
                raise invalid_param(f"length must be between 1 and {MAX_TOKEN_LENGTH}")
            token = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(length))
        elif not 0 < len(token) <= MAX_TOKEN_LENGTH or any(c not in TOKEN_ALPHABET for c in token):
            raise invalid_param("token must be 1-64 characters of [A-Za-z0-9._~-]")
        self._check_limits(uses_allowed, expiry_time)
        if not await self.store.create_registration_token(token, uses_allowed, expiry_time):
            raise invalid_param(f"Token already exists: {token}")
        self.count += 1
        return await self.get(token)

    async def update(self, token: str, fields: dict[str, int | None]) -> dict[str, Any]:
        await self.get(token)
        self._check_limits(fields.get("uses_allowed"), fields.get("expiry_time"))
        await self.store.update_registration_token(token, fields)
        return await self.get(token)

    async def delete(self, token: str) -> None:
        if not await self.store.delete_registration_token(token):
            raise not_found(f"No such registration token: {token}")
        self.count -= 1

    def _check_limits(self, uses_allowed: int | None, expiry_time: int | None) -> None:
        if uses_allowed is not None and not 0 <= uses_allowed < MAX_SQL_INTEGER:
            raise invalid_param("uses_allowed must be a non-negative integer or null")
        if expiry_time is not None and expiry_time >= MAX_SQL_INTEGER:
            raise invalid_param("expiry_time is too large")
        if expiry_time is not None and expiry_time < self.clock.time_ms():
            raise MatrixError("M_INVALID_PARAM", 400, "expiry_time must not be in the past")
