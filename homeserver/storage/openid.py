"""OpenID tokens: short-lived proofs of identity a user hands to another service.

spec: client-server-api "OpenID"; server-server-api "OpenID". Tokens are stored as
SHA-256 hashes only, like access tokens.
"""

from __future__ import annotations

import aiosqlite

from homeserver.storage.database import Database


class OpenIdTokenStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_token(self, token_hash: bytes, user_id: str, expires_ts: int, now_ms: int) -> None:
        """Store a token; tokens already expired at ``now_ms`` are deleted in the same commit."""

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.execute("DELETE FROM openid_tokens WHERE expires_ts <= ?", (now_ms,))
            await conn.execute(
                "INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES (?, ?, ?)",
                (token_hash, user_id, expires_ts),
            )

        await self.db.write("add_openid_token", run)

    async def get_user(self, token_hash: bytes, now_ms: int) -> str | None:
        """The user a token was issued to, or None if it is unknown or expired at ``now_ms``."""
        user_id = await self.db.fetchval(
            "get_openid_token",
            "SELECT user_id FROM openid_tokens WHERE token_hash = ? AND expires_ts > ?",
            (token_hash, now_ms),
        )
        return None if user_id is None else str(user_id)

