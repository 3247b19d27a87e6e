"""The registered application services: their tokens, namespaces and what they may do.

spec: application-service-api.md, "Registration", "Client-Server API Extensions"
(identity assertion, ``m.login.application_service`` registration), "Querying";
client-server-api, "POST /_matrix/client/v1/appservice/{appserviceId}/ping".
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from pathlib import Path

import yaml

from homeserver.clock import Clock
from homeserver.config import ConfigError
from homeserver.core.appservice import (
    AppService,
    RegistrationError,
    check_unique,
    parse_registration,
)
from homeserver.core.requester import Requester
from homeserver.errors import MatrixError, forbidden
from homeserver.services.accounts.accounts import AccountService, Session
from homeserver.services.accounts.auth import hash_token
from homeserver.services.appservice.client import AppServiceClient
from homeserver.storage.accounts import AccountStore

logger = logging.getLogger(__name__)


def load_registrations(paths: list[str], base_dir: Path, server_name: str) -> list[AppService]:
    """Read and check every registration file; a ConfigError names the file and the problem."""
    loaded: list[tuple[str, AppService]] = []
    for name in paths:
        path = Path(name) if Path(name).is_absolute() else base_dir / name
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"app_service_config_files: cannot read {path} ({e.strerror})") from None
        except yaml.YAMLError:
            raise ConfigError(f"app_service_config_files: {path} is not valid YAML") from None
        try:
            loaded.append((str(path), parse_registration(data, server_name, str(path))))
        except RegistrationError as e:
            raise ConfigError(f"app_service_config_files: {e}") from None
    try:
        check_unique(loaded)
    except RegistrationError as e:
        raise ConfigError(f"app_service_config_files: {e}") from None
    return [service for _, service in loaded]


class AppServiceRegistry:
    def __init__(
        self,
        services: list[AppService],
        *,
        account_store: AccountStore,
        accounts: AccountService,
        client: AppServiceClient,
        clock: Clock,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.services = services
        self.account_store = account_store
        self.accounts = accounts
        self.client = client
        self.clock = clock
        self.is_mine = is_mine
        self._by_id = {s.id: s for s in services}
        self._by_as_token = {s.as_token: s for s in services}

    def get(self, as_id: str) -> AppService | None:
        return self._by_id.get(as_id)

    async def create_senders(self) -> None:
        """Each service's sender_localpart user exists from start-up."""
        for service in self.services:
            if await self.account_store.get_user(service.sender) is None:
                await self.account_store.create_user(service.sender, None, self.clock.time_ms(), None)
                logger.info("created %s for application service %s", service.sender, service.id)

    # --- identity assertion --------------------------------------------------------
    def service_for_token(self, token: str) -> AppService | None:
        service = self._by_as_token.get(token)
        # The dict lookup found it by hash; compare in constant time all the same.
        if service is not None and hmac.compare_digest(service.as_token, token):
            return service
        return None

    async def requester_for_token(self, token: str, user_id: str | None, device_id: str | None) -> Requester | None:
        """The requester an as_token stands for (None: not an as_token).

        spec: "Identity assertion" — ``?user_id=`` names a user in the service's namespace;
        MSC3202's ``org.matrix.msc3202.device_id`` one of that user's devices.
        """
        service = self.service_for_token(token)
        if service is None:
            return None
        target = user_id or service.sender
        if target != service.sender:
            if not self.is_mine(target) or not service.is_user_in_namespace(target):
                if any(s.is_exclusive_user(target) for s in self.services if s is not service):
                    raise MatrixError("M_EXCLUSIVE", 403, f"{target} is in another application service's namespace")
                raise forbidden(f"Application service cannot masquerade as {target}")
        record = await self.account_store.get_user(target)
        if record is None or record.deactivated:
            raise forbidden(f"Application service has not registered {target}")
        device = ""
        if device_id:
            if await self.account_store.get_device(target, device_id) is None:
                raise MatrixError("M_UNKNOWN_DEVICE", 400, "Application service has not registered this device")
            device = device_id
        return Requester(target, device, record.is_admin, hash_token(token), None, service.id)

    # --- exclusive namespaces ------------------------------------------------------
    def check_username(self, user_id: str) -> None:
        """Users other than a service may not register in an exclusive namespace."""
        if any(s.is_exclusive_user(user_id) for s in self.services):
            raise MatrixError("M_EXCLUSIVE", 400, "This user ID is reserved by an application service")

    def check_alias(self, user_id: str, alias: str) -> None:
        """Only the service's own users may create aliases in its exclusive namespace."""
        for service in self.services:
            if service.is_exclusive_alias(alias) and not service.is_user_in_namespace(user_id):
                raise MatrixError("M_EXCLUSIVE", 400, "This room alias is reserved by an application service")

    # --- registration ----------------------------------------------------------------
    async def register_user(
        self,
        service: AppService | None,
        *,
        username: str | None,
        device_id: str | None,
        device_display_name: str | None,
        inhibit_login: bool,
        ip: str | None,
        refresh_token: bool,
    ) -> Session:
        """POST /register with ``type: m.login.application_service``."""
        if service is None:
            raise MatrixError("M_MISSING_TOKEN", 401, "m.login.application_service needs the as_token")
        if username is None:
            raise MatrixError("M_MISSING_PARAM", 400, "username is required")
        localpart = username[1:].split(":", 1)[0] if username.startswith("@") else username
        user_id = self.accounts.validate_username(localpart)
        if not service.is_user_in_namespace(user_id):
            raise MatrixError("M_EXCLUSIVE", 400, f"{user_id} is not in the application service's namespace")
        return await self.accounts.register_without_password(
            user_id, device_id=device_id, device_display_name=device_display_name,
            inhibit_login=inhibit_login, ip=ip, refresh_token=refresh_token,
        )

    # --- queries ---------------------------------------------------------------------
    async def query_user(self, user_id: str) -> bool:
        """An unknown local user: ask the service whose exclusive namespace holds it.

        spec: "Querying" — "GET /users/{userId}"; True when the user exists afterwards.
        """
        for service in self.services:
            if service.url is not None and service.is_exclusive_user(user_id) and user_id != service.sender:
                if await self.client.query_user(service, user_id):
                    return await self.account_store.get_user(user_id) is not None
        return False

    async def query_alias(self, alias: str) -> bool:
        """An unknown local alias: ask the services whose namespace holds it ("GET /rooms/{alias}")."""
        for service in self.services:
            if service.url is not None and service.is_alias_in_namespace(alias):
                if await self.client.query_alias(service, alias):
                    return True
        return False

    # --- ping ------------------------------------------------------------------------
    async def ping(self, requester: Requester, as_id: str, transaction_id: str | None) -> int:
        service = self.get(as_id)
        if service is None or requester.app_service_id != as_id:
            raise forbidden("The access token is not this application service's as_token")
        return await self.client.ping(service, transaction_id)

    async def thirdparty_protocols(self) -> dict[str, dict[str, object]]:
        """spec: "GET /thirdparty/protocols" — the protocols the services registered, as they describe them."""
        out: dict[str, dict[str, object]] = {}
        for service in self.services:
            for protocol in service.protocols:
                if service.url is None or protocol in out:
                    continue
                info = await self.client.thirdparty_protocol(service, protocol)
                if info is not None:
                    out[protocol] = info
        return out
