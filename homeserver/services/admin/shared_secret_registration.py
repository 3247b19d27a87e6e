"""Registration with a shared secret, as Synapse's admin API offers it
(``/_synapse/admin/v1/register``; used by Complement and operators' scripts).

The client fetches a single-use nonce, then proves it knows ``registration.shared_secret``
with HMAC-SHA1 over ``nonce NUL username NUL password NUL ("admin" | "notadmin")``.
Not part of the Matrix spec; off unless the secret is configured.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from homeserver.clock import Clock
from homeserver.config import RegistrationConfig
from homeserver.errors import MatrixError, forbidden
from homeserver.services.accounts.accounts import AccountService, Session
from homeserver.services.accounts.passwords import PasswordHasher
from homeserver.services.admin.default_rooms import DefaultRoomsService
from homeserver.storage.accounts import AccountStore

NONCE_LIFETIME_MS = 60_000


def registration_mac(secret: str, nonce: str, username: str, password: str, admin: bool,
                     user_type: str | None = None) -> str:
    """The hex HMAC-SHA1 a client sends in ``mac`` (Synapse's algorithm)."""
    parts = [nonce, username, password, "admin" if admin else "notadmin"]
    if user_type is not None:
        parts.append(user_type)
    mac = hmac.new(secret.encode("utf-8"), "\x00".join(parts).encode("utf-8"), digestmod=hashlib.sha1)
    return mac.hexdigest()


class SharedSecretRegistration:
    def __init__(
        self,
        *,
        registration: RegistrationConfig,
        accounts: AccountService,
        account_store: AccountStore,
        passwords: PasswordHasher,
        default_rooms: DefaultRoomsService,
        clock: Clock,
    ) -> None:
        self.registration = registration
        self.accounts = accounts
        self.account_store = account_store
        self.passwords = passwords
        self.default_rooms = default_rooms
        self.clock = clock
        self._nonces: dict[str, int] = {}  # nonce -> issued at (ms)

    @property
    def secret(self) -> str | None:
        return self.registration.shared_secret

    def _require_enabled(self) -> str:
        if not self.secret:
            raise MatrixError("M_UNKNOWN", 400, "Shared secret registration is not enabled")
        return self.secret

    def new_nonce(self) -> str:
        self._require_enabled()
        now = self.clock.time_ms()
        self._nonces = {n: t for n, t in self._nonces.items() if now - t < NONCE_LIFETIME_MS}
        nonce = secrets.token_hex(32)
        self._nonces[nonce] = now
        return nonce

    async def register(self, body: dict[str, Any], ip: str | None) -> Session:
        secret = self._require_enabled()
        nonce, username, password, mac = (body.get(k) for k in ("nonce", "username", "password", "mac"))
        admin = body.get("admin", False)
        user_type = body.get("user_type")
        displayname = body.get("displayname")
        if not all(isinstance(v, str) for v in (nonce, username, password, mac)) or not isinstance(admin, bool) \
                or not isinstance(user_type, (str, type(None))) or not isinstance(displayname, (str, type(None))):
            raise MatrixError("M_BAD_JSON", 400, "nonce, username, password and mac must be strings")
        assert isinstance(nonce, str) and isinstance(username, str) and isinstance(password, str)
        assert isinstance(mac, str)
        issued = self._nonces.pop(nonce, None)
        if issued is None or self.clock.time_ms() - issued >= NONCE_LIFETIME_MS:
            raise MatrixError("M_UNKNOWN", 400, "Unrecognised nonce")
        expected = registration_mac(secret, nonce, username, password, admin, user_type)
        if not hmac.compare_digest(expected, mac):
            raise forbidden("HMAC incorrect")
        user_id = await self.accounts.check_username_available(username)
        password_hash = await self.passwords.hash(password)
        created = await self.account_store.create_user(
            user_id, password_hash, self.clock.time_ms(), displayname, is_admin=admin
        )
        if not created:
            raise MatrixError("M_USER_IN_USE", 400, "Desired user ID is already taken.")
        await self.default_rooms.join_new_user(user_id)
        return await self.accounts.start_session(user_id, None, None, ip)
