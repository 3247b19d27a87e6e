"""Password hashing with argon2id (PyNaCl), run off the event loop."""

from __future__ import annotations

import asyncio

import nacl.exceptions
import nacl.pwhash


class PasswordHasher:
    def __init__(self, opslimit: int, memlimit: int) -> None:
        self.opslimit = opslimit
        self.memlimit = memlimit

    def _hash(self, password: str) -> str:
        return nacl.pwhash.argon2id.str(
            password.encode("utf-8"), opslimit=self.opslimit, memlimit=self.memlimit
        ).decode("ascii")

    @staticmethod
    def _verify(password_hash: str, password: str) -> bool:
        try:
            return nacl.pwhash.verify(password_hash.encode("ascii"), password.encode("utf-8"))
        except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError, ValueError):
            return False

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        if not password_hash:
            return False
        return await asyncio.to_thread(self._verify, password_hash, password)
