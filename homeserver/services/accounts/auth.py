"""Access and refresh tokens: issuing them, and turning one into the requesting user.

spec: client-server-api/_index.md, "Using access tokens" and "Refreshing access tokens".
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeserver.clock import Clock
from homeserver.core.requester import Requester as Requester  # moved to core; re-exported
from homeserver.errors import MatrixError
from homeserver.storage.accounts import AccountStore

TOKEN_CACHE_SIZE = 50_000

# (token, ?user_id=, device ID asked for) -> the requester an application service's
# as_token stands for, or None when the token is not an as_token.
AppServiceAuth = Callable[[str, str | None, str | None], Awaitable[Requester | None]]


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str | None = None
    expires_in_ms: int | None = None


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class AuthService:
    def __init__(
        self, store: AccountStore, clock: Clock, access_token_lifetime_ms: int = 300_000
    ) -> None:
        self.store = store
        self.clock = clock
        self.access_token_lifetime_ms = access_token_lifetime_ms
        self._cache: OrderedDict[bytes, Requester] = OrderedDict()
        self._appservice_auth: AppServiceAuth | None = None

    def use_appservice_auth(self, resolve: AppServiceAuth) -> None:
        """Let application services' as_tokens through (wired by the appservice area)."""
        self._appservice_auth = resolve

    async def issue_token(self, user_id: str, device_id: str) -> str:
        token = _new_access_token()
        await self.store.add_access_token(hash_token(token), user_id, device_id, self.clock.time_ms())
        return token

    async def issue_tokens(self, user_id: str, device_id: str, *, with_refresh_token: bool) -> IssuedTokens:
        """An access token; asked for, also a refresh token and the access token then expires.

        spec: "Refreshing access tokens" — clients opt in with `refresh_token: true`;
        tokens of clients that do not keep not expiring.
        """
        if not with_refresh_token:
            return IssuedTokens(await self.issue_token(user_id, device_id))
        access, refresh = _new_access_token(), _new_refresh_token()
        now = self.clock.time_ms()
        await self.store.add_access_token(
            hash_token(access), user_id, device_id, now,
            expires_ts=now + self.access_token_lifetime_ms, refresh_token_hash=hash_token(refresh),
        )
        return IssuedTokens(access, refresh, self.access_token_lifetime_ms)

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        """spec: POST /refresh — a new access/refresh pair; the old access token stops working."""
        access, refresh = _new_access_token(), _new_refresh_token()
        now = self.clock.time_ms()
        rotated = await self.store.rotate_refresh_token(
            hash_token(refresh_token), hash_token(access), hash_token(refresh),
            now, now + self.access_token_lifetime_ms,
        )
        if rotated is None:
            raise MatrixError("M_UNKNOWN_TOKEN", 401, "Unknown refresh token", soft_logout=False)
        user_id, _device_id, revoked = rotated
        user = await self.store.get_user(user_id)
        if user is None or user.deactivated:
            raise MatrixError("M_UNKNOWN_TOKEN", 401, "Unknown refresh token", soft_logout=False)
        self.forget_cached(revoked)
        return IssuedTokens(access, refresh, self.access_token_lifetime_ms)

    async def get_requester(
        self, token: str, ip: str | None = None, *, as_user_id: str | None = None, as_device_id: str | None = None
    ) -> Requester:
        """The user a token stands for; ``as_user_id``/``as_device_id`` only count for as_tokens."""
        if self._appservice_auth is not None:
            appservice_requester = await self._appservice_auth(token, as_user_id, as_device_id)
            if appservice_requester is not None:
                return appservice_requester
        token_hash = hash_token(token)
        requester = self._cache.get(token_hash)
        if requester is not None:
            self._cache.move_to_end(token_hash)
            self._check_not_expired(requester.expires_ts)
            return requester
        record = await self.store.get_access_token(token_hash)
        if record is None:
            raise MatrixError("M_UNKNOWN_TOKEN", 401, "Unknown access token", soft_logout=False)
        self._check_not_expired(record.expires_ts)
        user = await self.store.get_user(record.user_id)
        if user is None or user.deactivated:
            raise MatrixError("M_UNKNOWN_TOKEN", 401, "Unknown access token", soft_logout=False)
        if record.refresh_token_hash is not None:
            # First use of a refreshed access token: the refresh token it replaced ends.
            # Idempotent, so a cache miss later repeating it is harmless.
            await self.store.retire_replaced_refresh_token(record.refresh_token_hash)
        requester = Requester(record.user_id, record.device_id, user.is_admin, token_hash, record.expires_ts)
        self._cache[token_hash] = requester
        if len(self._cache) > TOKEN_CACHE_SIZE:
            self._cache.popitem(last=False)
        return requester

    def _check_not_expired(self, expires_ts: int | None) -> None:
        # spec: "Soft logout" — an expired access token gives M_UNKNOWN_TOKEN with
        # soft_logout: true, so the client refreshes instead of discarding its session.
        if expires_ts is not None and self.clock.time_ms() >= expires_ts:
            raise MatrixError("M_UNKNOWN_TOKEN", 401, "Access token has expired", soft_logout=True)

    async def revoke(self, token_hash: bytes) -> None:
        self._cache.pop(token_hash, None)
        await self.store.delete_access_token(token_hash)

    def forget_cached(self, token_hashes: list[bytes] | None = None, user_id: str | None = None) -> None:
        """Drop cached requesters after tokens were deleted or a user changed."""
        for h in token_hashes or []:
            self._cache.pop(h, None)
        if user_id is not None:
            for h in [h for h, r in self._cache.items() if r.user_id == user_id]:
                del self._cache[h]


def _new_access_token() -> str:
    return "pat_" + secrets.token_urlsafe(32)


def _new_refresh_token() -> str:
    return "prt_" + secrets.token_urlsafe(32)
