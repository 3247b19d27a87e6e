"""Accounts: registration, login, logout, password changes, deactivation, devices.

spec: client-server-api/_index.md, "Client Authentication", "Legacy API",
"Account registration", "Account management" and "Device management".
Handlers parse and serialise; everything a request *means* happens here.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeserver.clock import Clock
from homeserver.config import RegistrationConfig
from homeserver.core.password_policy import PasswordPolicy
from homeserver.core.ratelimit import RateLimiter
from homeserver.errors import MatrixError, forbidden, missing_param, not_found
from homeserver.services.accounts.auth import AuthService, Requester
from homeserver.services.accounts.passwords import PasswordHasher
from homeserver.services.accounts.registration_tokens import RegistrationTokenService
from homeserver.services.accounts.uia import (
    DUMMY,
    PASSWORD,
    REGISTRATION_TOKEN,
    StageFailed,
    UiaSession,
    UserInteractiveAuth,
)
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.keys import E2EKeyService
from homeserver.services.rooms.rooms import RoomService
from homeserver.services.social.to_device import ToDeviceService
from homeserver.storage.accounts import AccountStore, DeviceRecord
from schemas.identifiers import MAX_ID_BYTES, is_valid_localpart

logger = logging.getLogger(__name__)

DEVICE_ID_LENGTH = 10
MAX_DEVICE_ID_LENGTH = 255
MAX_DISPLAY_NAME_LENGTH = 255
GENERATED_LOCALPART_BYTES = 6
# The spec gives registration tokens the opaque-identifier grammar, at most 64 chars.
MAX_REGISTRATION_TOKEN_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in device: what /register and /login return."""

    user_id: str
    device_id: str | None
    access_token: str | None
    # Only when the client asked for one (spec: "Refreshing access tokens").
    refresh_token: str | None = None
    expires_in_ms: int | None = None


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def generate_device_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(DEVICE_ID_LENGTH))


# Awaited with the user ID of each newly registered account (e.g. to join default rooms).
RegistrationListener = Callable[[str], Awaitable[None]]
# Raises (e.g. M_EXCLUSIVE) when a user ID may not be registered by ordinary clients.
UsernameCheck = Callable[[str], None]


class AccountService:
    def __init__(
        self,
        *,
        store: AccountStore,
        server_name: str,
        is_mine: Callable[[str], bool],
        registration: RegistrationConfig,
        clock: Clock,
        passwords: PasswordHasher,
        auth: AuthService,
        registration_tokens: RegistrationTokenService,
        rooms: RoomService,
        device_lists: DeviceListService,
        e2e_keys: E2EKeyService,
        to_device: ToDeviceService,
        password_policy: PasswordPolicy,
    ) -> None:
        self.store = store
        self.password_policy = password_policy
        self.server_name = server_name
        self.is_mine = is_mine
        self.registration = registration
        self.clock = clock
        self.passwords = passwords
        self.auth = auth
        self.registration_tokens = registration_tokens
        self.rooms = rooms
        self.device_lists = device_lists
        self.e2e_keys = e2e_keys
        self.to_device = to_device
        self._registration_listeners: list[RegistrationListener] = []
        self._username_checks: list[UsernameCheck] = []
        self.login_limiter = RateLimiter.per_minute(
            registration.rate_per_minute, registration.burst, clock.monotonic
        )
        self.register_limiter = RateLimiter.per_minute(
            registration.rate_per_minute, registration.burst, clock.monotonic
        )
        self.uia = UserInteractiveAuth(
            clock,
            {
                DUMMY: self._check_dummy_stage,
                PASSWORD: self._check_password_stage,
                REGISTRATION_TOKEN: self._check_registration_token_stage,
            },
        )

    def add_registration_listener(self, listener: RegistrationListener) -> None:
        """Await ``listener(user_id)`` once an account is registered, before its session starts."""
        self._registration_listeners.append(listener)

    def add_username_check(self, check: UsernameCheck) -> None:
        """Run ``check(user_id)`` before a client registers or asks for a user ID."""
        self._username_checks.append(check)

    # --- user IDs -------------------------------------------------------------
    def user_id_for(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def validate_username(self, username: str) -> str:
        """The user ID a requested username maps to, or M_INVALID_USERNAME.

        spec: appendices.md, "User Identifiers": localparts are [a-z0-9._=\\-/+] and
        servers downcase usernames when creating user IDs; the whole ID is <= 255 bytes.
        """
        # Only ASCII is folded: Unicode case mapping would turn e.g. U+212A KELVIN SIGN into "k".
        localpart = username.translate(_ASCII_LOWER)
        if not localpart or not is_valid_localpart(localpart):
            raise MatrixError(
                "M_INVALID_USERNAME", 400, "User ID can only contain characters a-z, 0-9, or '=_-./+'"
            )
        user_id = self.user_id_for(localpart)
        if len(user_id.encode("utf-8")) > MAX_ID_BYTES:
            raise MatrixError("M_INVALID_USERNAME", 400, f"User ID may not be longer than {MAX_ID_BYTES} bytes")
        return user_id

    async def check_username_available(self, username: str) -> str:
        user_id = self.validate_username(username)
        for check in self._username_checks:
            check(user_id)
        if await self.store.get_user(user_id) is not None:
            raise MatrixError("M_USER_IN_USE", 400, "Desired user ID is already taken.")
        return user_id

    async def resolve_local_user(self, user: str) -> str | None:
        """An existing local user ID for an m.id.user value (full ID or localpart)."""
        if user.startswith("@"):
            if ":" not in user or not self.is_mine(user):
                return None
            user_id = user
        else:
            user_id = self.user_id_for(user)
        record = await self.store.get_user(user_id)
        if record is not None:
            return record.user_id
        # Users type their IDs in any case; created IDs are lower-case.
        matches = await self.store.get_user_case_insensitive(user_id)
        if len(matches) == 1:
            return matches[0].user_id
        exact_lower = [m for m in matches if m.user_id == user_id.lower()]
        return exact_lower[0].user_id if exact_lower else None

    # --- registration ------------------------------------------------------------
    def registration_flows(self) -> list[list[str]]:
        if self.registration.tokens or self.registration_tokens.count:
            return [[REGISTRATION_TOKEN]]
        return [[DUMMY]]

    def ensure_registration_open(self) -> None:
        if not self.registration.enabled:
            raise forbidden("Registration has been disabled")

    def is_registration_token_valid(self, token: str) -> bool:
        if len(token) > MAX_REGISTRATION_TOKEN_LENGTH:
            return False
        given = token.encode("utf-8")
        # Compare against every token in constant time per comparison.
        return any(
            hmac.compare_digest(given, known.encode("utf-8"))
            for known in self.registration.tokens
        )

    async def register(
        self,
        *,
        username: str | None,
        password: str | None,
        auth: Mapping[str, Any] | None,
        device_id: str | None,
        device_display_name: str | None,
        inhibit_login: bool,
        ip: str | None,
        refresh_token: bool = False,
    ) -> Session:
        self.ensure_registration_open()
        # spec: registration.yaml — M_USER_IN_USE / M_INVALID_USERNAME are checked
        # before User-Interactive Authentication, and again after it.
        if username is not None:
            await self.check_username_available(username)
        if password is not None:
            # Like Synapse, before User-Interactive Authentication: no flows for a refused password.
            self.password_policy.check(password)
        self._check_device_fields(device_id, device_display_name)
        uia_session = await self.uia.authenticate(
            action="register", flows=self.registration_flows(), auth=auth
        )

        password_hash = await self.passwords.hash(password) if password is not None else None
        now = self.clock.time_ms()
        if username is not None:
            user_id = await self.check_username_available(username)
            if not await self.store.create_user(user_id, password_hash, now, None):
                raise MatrixError("M_USER_IN_USE", 400, "Desired user ID is already taken.")
        else:
            user_id = await self._create_generated_user(password_hash, now)
        self.uia.finish(uia_session)
        logger.info("registered %s", user_id)
        await self.registration_tokens.registration_completed(uia_session.session_id)
        for listener in self._registration_listeners:
            await listener(user_id)
        if inhibit_login:
            return Session(user_id, None, None)
        return await self.start_session(user_id, device_id, device_display_name, ip, refresh_token)

    async def register_without_password(
        self,
        user_id: str,
        *,
        device_id: str | None,
        device_display_name: str | None,
        inhibit_login: bool,
        ip: str | None,
        refresh_token: bool = False,
    ) -> Session:
        """An account with no password, for a caller that already proved its right to the ID
        (an application service registering a user in its namespace)."""
        self._check_device_fields(device_id, device_display_name)
        if not await self.store.create_user(user_id, None, self.clock.time_ms(), None):
            raise MatrixError("M_USER_IN_USE", 400, "Desired user ID is already taken.")
        logger.info("registered %s", user_id)
        for listener in self._registration_listeners:
            await listener(user_id)
        if inhibit_login:
            return Session(user_id, None, None)
        return await self.start_session(user_id, device_id, device_display_name, ip, refresh_token)

    async def _create_generated_user(self, password_hash: str | None, now: int) -> str:
        # spec: "If omitted, the homeserver MUST generate a Matrix ID local part."
        for _ in range(10):
            localpart = "u" + secrets.token_hex(GENERATED_LOCALPART_BYTES)
            user_id = self.user_id_for(localpart)
            if await self.store.create_user(user_id, password_hash, now, None):
                return user_id
        raise MatrixError("M_UNKNOWN", 500, "Could not generate a free user ID")

    # --- login ----------------------------------------------------------------------
    async def login_with_password(
        self,
        *,
        user: str,
        password: str,
        device_id: str | None,
        device_display_name: str | None,
        ip: str | None,
        refresh_token: bool = False,
    ) -> Session:
        self._check_device_fields(device_id, device_display_name)
        user_id = await self.resolve_local_user(user)
        if user_id is None:
            raise forbidden("Invalid username or password")
        record = await self.store.get_user(user_id)
        if record is None:
            raise forbidden("Invalid username or password")
        if record.deactivated:
            # spec: login.yaml 403 — M_USER_DEACTIVATED (the hash is wiped on deactivation).
            raise MatrixError("M_USER_DEACTIVATED", 403, "This account has been deactivated")
        if not await self.passwords.verify(record.password_hash, password):
            raise forbidden("Invalid username or password")
        return await self.start_session(user_id, device_id, device_display_name, ip, refresh_token)

    async def start_session(
        self,
        user_id: str,
        device_id: str | None,
        display_name: str | None,
        ip: str | None,
        refresh_token: bool = False,
    ) -> Session:
        # Reusing a device ID keeps the device (and its display name: the initial
        # name is "ignored if device_id corresponds to a known device").
        new_device = True
        if device_id is None:
            device_id = generate_device_id()
            while await self.store.get_device(user_id, device_id) is not None:
                device_id = generate_device_id()
        elif await self.store.get_device(user_id, device_id) is not None:
            display_name = None
            new_device = False
        await self.store.upsert_device(user_id, device_id, display_name, self.clock.time_ms(), ip)
        if new_device:
            # Room-mates learn of the new device through sync's device_lists.
            await self.device_lists.record_device_change(user_id)
        tokens = await self.auth.issue_tokens(user_id, device_id, with_refresh_token=refresh_token)
        return Session(user_id, device_id, tokens.access_token, tokens.refresh_token, tokens.expires_in_ms)

    @staticmethod
    def _check_device_fields(device_id: str | None, display_name: str | None) -> None:
        if device_id is not None and not 0 < len(device_id) <= MAX_DEVICE_ID_LENGTH:
            raise MatrixError("M_INVALID_PARAM", 400, "device_id must be 1 to 255 characters")
        if display_name is not None and len(display_name) > MAX_DISPLAY_NAME_LENGTH:
            raise MatrixError("M_INVALID_PARAM", 400, "Device display name is too long")

    # --- logout ---------------------------------------------------------------------------
    async def logout(self, requester: Requester) -> None:
        """spec: logout.yaml — the token is invalidated and its device deleted."""
        await self.delete_devices(requester.user_id, [requester.device_id])
        self.auth.forget_cached([requester.token_hash])

    async def logout_all(self, user_id: str) -> None:
        await self._end_sessions(user_id)

    async def _end_sessions(
        self, user_id: str, keep_device_id: str | None = None, keep_token_hash: bytes | None = None
    ) -> None:
        hashes = await self.store.delete_sessions_except(user_id, keep_device_id, keep_token_hash)
        self.auth.forget_cached(hashes)
        await self.e2e_keys.forget_deleted_devices(user_id)
        await self.device_lists.record_device_change(user_id)

    # --- user-interactive auth --------------------------------------------------------------
    async def require_password_auth(
        self, *, action: str, auth: Mapping[str, Any] | None, requester: Requester | None
    ) -> UiaSession:
        """Run UIA with an m.login.password flow; the session names the user it proved.

        ``action`` names the operation and its target, so a session cannot be
        reused for another one. Call ``uia.finish`` once the operation is done.
        """
        session = await self.uia.authenticate(
            action=action,
            flows=[[PASSWORD]],
            auth=auth,
            user_id=requester.user_id if requester is not None else None,
        )
        assert session.user_id is not None  # a completed password stage names the user
        return session

    async def _check_dummy_stage(self, auth: Mapping[str, Any], session: UiaSession) -> str | None:
        return None

    async def _check_registration_token_stage(
        self, auth: Mapping[str, Any], session: UiaSession
    ) -> str | None:
        token = auth.get("token")
        if not isinstance(token, str):
            raise StageFailed("M_MISSING_PARAM", "auth.token is required")
        if not self.is_registration_token_valid(token) and not await self.registration_tokens.accept_for_session(
            token, session.session_id
        ):
            raise StageFailed("M_FORBIDDEN", "Invalid registration token")
        return None

    async def _check_password_stage(self, auth: Mapping[str, Any], session: UiaSession) -> str | None:
        user = identifier_user(auth.get("identifier"), auth.get("user"))
        password = auth.get("password")
        if not isinstance(password, str):
            raise StageFailed("M_MISSING_PARAM", "auth.password is required")
        user_id = await self.resolve_local_user(user)
        if session.user_id is not None and user_id != session.user_id:
            # spec/Complement: the UIA user must be the requesting user.
            raise forbidden("Authenticated user does not match the requester")
        record = await self.store.get_user(user_id) if user_id is not None else None
        if record is None or record.deactivated:
            raise StageFailed("M_FORBIDDEN", "Invalid username or password")
        if not await self.passwords.verify(record.password_hash, password):
            raise StageFailed("M_FORBIDDEN", "Invalid password")
        return record.user_id

    # --- account management -----------------------------------------------------------------
    async def change_password(
        self, user_id: str, new_password: str, *, logout_devices: bool, requester: Requester | None
    ) -> None:
        password_hash = await self.passwords.hash(new_password)
        await self.store.set_password_hash(user_id, password_hash)
        if logout_devices:
            # spec: password_management.yaml — other access tokens and their devices are
            # revoked; the token of this request SHOULD NOT be.
            await self._end_sessions(
                user_id,
                keep_device_id=requester.device_id if requester else None,
                keep_token_hash=requester.token_hash if requester else None,
            )
        logger.info("password changed for %s (logout_devices=%s)", user_id, logout_devices)

    async def deactivate(self, user_id: str) -> None:
        """Block login (the password hash is wiped), end every session, leave every room."""
        await self.store.set_deactivated(user_id, True)
        await self._end_sessions(user_id)
        self.auth.forget_cached(user_id=user_id)
        await self.rooms.leave_all_rooms(user_id)
        logger.info("deactivated %s", user_id)

    # --- devices ---------------------------------------------------------------------------------
    async def list_devices(self, user_id: str) -> list[DeviceRecord]:
        return await self.store.list_devices(user_id)

    async def get_device(self, user_id: str, device_id: str) -> DeviceRecord:
        device = await self.store.get_device(user_id, device_id)
        if device is None:
            raise not_found("Device not found")
        return device

    async def rename_device(self, user_id: str, device_id: str, display_name: str | None) -> None:
        await self.get_device(user_id, device_id)
        if display_name is None:
            return  # spec: "If not given, the display name is unchanged."
        self._check_device_fields(None, display_name)
        await self.store.rename_device(user_id, device_id, display_name)

    async def delete_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Delete devices and revoke their tokens; unknown IDs are ignored (spec: 200)."""
        if not device_ids:
            return
        unique = list(dict.fromkeys(device_ids))
        hashes = await self.store.delete_devices(user_id, unique)
        self.auth.forget_cached(hashes)
        for device_id in unique:
            await self.to_device.device_deleted(user_id, device_id)
        await self.e2e_keys.forget_deleted_devices(user_id)
        await self.device_lists.record_device_change(user_id)

    # --- for the HTTP handlers (api/federation/user_keys.py) ------------------------------
    async def user_exists(self, user_id: str) -> bool:
        """Whether the account exists (deactivated accounts included)."""
        return await self.store.get_user(user_id) is not None


def identifier_user(identifier: Any, user: Any) -> str:
    """The `user` of an m.id.user identifier, or the deprecated top-level `user`.

    spec: client-server-api/_index.md, "Identifier types".
    """
    if identifier is not None:
        if not isinstance(identifier, Mapping):
            raise MatrixError("M_BAD_JSON", 400, "identifier must be an object")
        id_type = identifier.get("type")
        if id_type in ("m.id.thirdparty", "m.id.phone"):
            # spec: a 3PID the server does not know gives 403; this server binds none.
            raise forbidden("No user is bound to that third-party identifier")
        if id_type != "m.id.user":
            raise MatrixError("M_UNKNOWN", 400, "Unknown identifier type")
        user = identifier.get("user")
    if not isinstance(user, str) or not user:
        raise missing_param("identifier.user is required")
    return user
