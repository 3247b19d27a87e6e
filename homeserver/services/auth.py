"""Access tokens: issuing them, and turning one into the requesting user."""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from homeserver.clock import Clock
from homeserver.errors import MatrixError
from homeserver.storage.accounts import AccountStore

TOKEN_CACHE_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class Requester:
    user_id: str
    device_id: str
    is_admin: bool
    token_hash: bytes


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class AuthService:
    def __init__(self, store: AccountStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._cache: OrderedDict[bytes, Requester] = OrderedDict()

    async def issue_token(self, user_id: str, device_id: str) -> str:
        token = "pat_" + secrets.token_urlsafe(32)
        await self.store.add_access_token(hash_token(token), user_id, device_id, self.clock.time_ms())
        return token

    async def get_requester(self, token: str, ip: str | None = None) -> Requester:
        token_hash = hash_token(token)
        requester = self._cache.get(token_hash)
        if requester is not None:
            self._cache.move_to_end(token_hash)
            return requester
        owner = await self.store.get_token_owner(token_hash)
        if owner is None:
            raise MatrixError("M_UNKNOWN_TOKEN", 401, "Unknown access token", soft_logout=False)
        user = await self.store.get_user(owner[0])
        if user is None or user.deactivated:
            raise MatrixError("M_UNKNOWN_TOKEN", 401, "Unknown access token", soft_logout=False)
        requester = Requester(owner[0], owner[1], user.is_admin, token_hash)
        self._cache[token_hash] = requester
        if len(self._cache) > TOKEN_CACHE_SIZE:
            self._cache.popitem(last=False)
        return requester

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
