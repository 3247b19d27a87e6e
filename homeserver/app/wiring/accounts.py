"""accounts: passwords, access tokens, registration and login, devices."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.core.password_policy import PasswordPolicy
from homeserver.services.accounts.accounts import AccountService
from homeserver.services.accounts.auth import AuthService
from homeserver.services.accounts.openid import OpenIdService
from homeserver.services.accounts.passwords import PasswordHasher
from homeserver.services.accounts.registration_tokens import RegistrationTokenService
from homeserver.services.accounts.turn import TurnService
from homeserver.services.federation.openid import OpenIdVerifier
from homeserver.storage.admin import AdminStore
from homeserver.storage.openid import OpenIdTokenStore


def wire(c: Container) -> None:
    cfg = c.config
    c.passwords = PasswordHasher(cfg.password_hashing.opslimit, cfg.password_hashing.memlimit_kib * 1024)
    c.auth = AuthService(c.account_store, c.clock, cfg.registration.access_token_lifetime_ms)
    c.admin_store = AdminStore(c.db)
    c.registration_tokens = RegistrationTokenService(c.admin_store, c.clock)
    c.lifecycle.add("registration_tokens", start=c.registration_tokens.load)
    c.accounts = AccountService(
        store=c.account_store,
        server_name=c.server_name,
        is_mine=c.is_mine,
        registration=cfg.registration,
        clock=c.clock,
        passwords=c.passwords,
        auth=c.auth,
        registration_tokens=c.registration_tokens,
        rooms=c.rooms,
        device_lists=c.device_lists,
        e2e_keys=c.e2e_keys,
        to_device=c.to_device,
        password_policy=PasswordPolicy(**cfg.password_config.policy.model_dump()),
    )
    c.cross_signing.use_password_auth(c.accounts.require_password_auth, c.accounts.uia.finish)
    c.openid_store = OpenIdTokenStore(c.db)
    c.openid = OpenIdService(c.openid_store, c.account_store, c.clock, c.server_name)
    # Tokens of this server are checked without HTTP; others at their server's /openid/userinfo.
    c.openid_verifier = OpenIdVerifier(c.federation_client, c.server_name, c.openid.user_for_token)
    c.turn = TurnService(cfg.turn_uris, cfg.turn_shared_secret, cfg.turn_user_lifetime, c.clock)
