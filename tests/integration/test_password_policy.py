"""The password policy (Synapse's password_config.policy): M_WEAK_PASSWORD on register and change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession

from homeserver.config import ConfigError, parse_config
from homeserver.core.password_policy import PasswordPolicy
from tests.conftest import RunningHomeserver, make_config, start_homeserver
from tests.integration.test_accounts import V3, password_auth

STRICT = {"enabled": True, "minimum_length": 10, "require_digit": True, "require_symbol": True,
          "require_lowercase": True, "require_uppercase": True}


@pytest.fixture
async def strict_server(tmp_path: Path) -> AsyncIterator[RunningHomeserver]:
    hs, server = await start_homeserver(make_config(tmp_path / "hs", password_config={"policy": STRICT}))
    async with ClientSession() as session:
        yield RunningHomeserver(hs, server, session)
    await server.close()


@pytest.mark.parametrize(("password", "missing"), [
    ("Sh0rt!", "at least 10 characters"),
    ("no digits HERE!", "a digit"),
    ("NoSymbols12345", "a symbol"),
    ("ALL UPPER 123!", "a lowercase letter"),
    ("all lower 123!", "an uppercase letter"),
])
def test_each_rule_names_what_is_missing(password: str, missing: str) -> None:
    policy = PasswordPolicy(**STRICT)
    assert policy.problems(password) == [missing]


def test_a_disabled_policy_accepts_anything() -> None:
    assert PasswordPolicy(enabled=False, minimum_length=50).problems("x") == []
    assert PasswordPolicy(**STRICT).problems("Correct-Horse-9") == []


async def test_registration_with_a_weak_password_is_refused_before_auth(strict_server: RunningHomeserver) -> None:
    api = strict_server.api()
    status, body = await api.status_of("POST", f"{V3}/register", body={"username": "ann", "password": "weak"})
    assert (status, body["errcode"]) == (400, "M_WEAK_PASSWORD")
    assert "a digit" in body["error"] and "at least 10 characters" in body["error"]
    # Nothing was created: the name is still free, and a strong password registers it.
    available = await api.request("GET", f"{V3}/register/available", params={"username": "ann"})
    assert available == {"available": True}
    await api.register("ann", "Str0ng-enough!")
    assert api.user_id == f"@ann:{strict_server.server_name}"


async def test_password_change_to_a_weak_password_is_refused(strict_server: RunningHomeserver) -> None:
    api = await strict_server.register("bea", "Str0ng-enough!")
    status, body = await api.status_of(
        "POST", f"{V3}/account/password",
        body={"new_password": "password", "auth": password_auth(api.user_id or "", "Str0ng-enough!")},
    )
    assert (status, body["errcode"]) == (400, "M_WEAK_PASSWORD")
    await strict_server.api().login("bea", "Str0ng-enough!")  # unchanged
    await api.request(
        "POST", f"{V3}/account/password",
        {"new_password": "An0ther-good-one", "auth": password_auth(api.user_id or "", "Str0ng-enough!")},
    )
    await strict_server.api().login("bea", "An0ther-good-one")


async def test_without_a_policy_short_passwords_still_register(homeserver: RunningHomeserver) -> None:
    await homeserver.register("cal", "x")


def test_policy_config_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        parse_config({"server_name": "localhost", "password_config": {"policy": {"minimum_length": -1}}})
    with pytest.raises(ConfigError):
        parse_config({"server_name": "localhost", "password_config": {"policy": {"unknown_rule": True}}})
