"""TURN credentials: GET /voip/turnServer and the Synapse-named config keys.

spec: client-server-api/modules/voip_events.md, "Server behaviour";
data/api/client-server/voip.yaml. Credentials follow coturn's REST API scheme
(``use-auth-secret``): username ``<expiry>:<user_id>``, password
base64(HMAC-SHA1(secret, username)).
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import ClientSession
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from homeserver.config import DEFAULT_CONFIG_TEMPLATE, ConfigError, parse_config
from tests.conftest import RunningHomeserver, make_config, start_homeserver

TURN_SERVER = "/_matrix/client/v3/voip/turnServer"
SECRET = "coturn static-auth-secret"
URIS = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"]


@pytest.fixture
async def turn_homeserver(tmp_path: Path) -> AsyncIterator[RunningHomeserver]:
    config = make_config(
        tmp_path / "hs", turn_uris=URIS, turn_shared_secret=SECRET, turn_user_lifetime="2h",
    )
    hs, server = await start_homeserver(config)
    async with ClientSession() as session:
        yield RunningHomeserver(hs, server, session)
    await server.close()


def coturn_expected_password(secret: str, username: str) -> str:
    """What coturn computes, with another HMAC implementation than the server's."""
    mac = HMAC(secret.encode(), hashes.SHA1())
    mac.update(username.encode())
    return base64.b64encode(mac.finalize()).decode()


def config_with(**keys: Any) -> dict[str, Any]:
    return {"server_name": "example.org", **keys}


# --- config ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "ms"),
    [(86_400_000, 86_400_000), ("1h", 3_600_000), ("90s", 90_000), ("30m", 1_800_000),
     ("1d", 86_400_000), ("5000", 5000), ("1500ms", 1500)],
)
def test_turn_user_lifetime_takes_synapse_durations_and_milliseconds(value: object, ms: int) -> None:
    config = parse_config(config_with(turn_user_lifetime=value))
    assert config.turn_user_lifetime == ms


@pytest.mark.parametrize("value", ["1 hour", "h", "-1h", "1.5h", True, 10])
def test_bad_turn_user_lifetime_is_a_config_error_naming_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match="turn_user_lifetime"):
        parse_config(config_with(turn_user_lifetime=value))


def test_turn_uris_must_be_turn_uris() -> None:
    with pytest.raises(ConfigError, match="turn_uris"):
        parse_config(config_with(turn_uris=["stun:stun.example.org"], turn_shared_secret="s"))


def test_turn_uris_without_a_shared_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="turn_shared_secret"):
        parse_config(config_with(turn_uris=URIS))


def test_default_config_documents_the_turn_keys() -> None:
    text = DEFAULT_CONFIG_TEMPLATE.format(server_name="example.org", data_dir="/tmp/x", host="127.0.0.1", port=8008)
    for key in ("turn_uris", "turn_shared_secret", "turn_user_lifetime", "turn_allow_guests"):
        assert key in text
    config = parse_config(yaml.safe_load(text))
    assert config.turn_uris == [] and config.turn_user_lifetime == 3_600_000 and config.turn_allow_guests


# --- GET /voip/turnServer ---------------------------------------------------------------------

async def test_credentials_verify_with_the_shared_secret(turn_homeserver: RunningHomeserver) -> None:
    alice = await turn_homeserver.register("alice")
    body = await alice.request("GET", TURN_SERVER)
    assert set(body) == {"username", "password", "uris", "ttl"}
    assert body["uris"] == URIS
    assert body["password"] == coturn_expected_password(SECRET, body["username"])
    assert body["password"] != coturn_expected_password("another secret", body["username"])


async def test_username_is_expiry_then_user_and_expiry_matches_ttl(turn_homeserver: RunningHomeserver) -> None:
    alice = await turn_homeserver.register("alice")
    before = int(time.time())
    body = await alice.request("GET", TURN_SERVER)
    after = int(time.time()) + 1
    expiry, _, user_id = body["username"].partition(":")
    assert user_id == alice.user_id
    assert body["ttl"] == 2 * 3600
    assert before + body["ttl"] <= int(expiry) <= after + body["ttl"]


async def test_turn_server_needs_an_access_token(turn_homeserver: RunningHomeserver) -> None:
    status, body = await turn_homeserver.api().status_of("GET", TURN_SERVER)
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"


async def test_turn_server_is_rate_limited_per_user(turn_homeserver: RunningHomeserver) -> None:
    alice = await turn_homeserver.register("alice")
    bob = await turn_homeserver.register("bob")
    statuses = [(await alice.status_of("GET", TURN_SERVER)) for _ in range(12)]
    limited = [body for status, body in statuses if status == 429]
    assert limited, "a burst of requests was never limited"
    assert limited[0]["errcode"] == "M_LIMIT_EXCEEDED" and limited[0]["retry_after_ms"] > 0
    assert (await bob.status_of("GET", TURN_SERVER))[0] == 200  # another user's bucket


async def test_without_turn_configured_the_answer_is_an_empty_object(homeserver: RunningHomeserver) -> None:
    # voip.yaml has no answer for "no TURN server"; Synapse answers 200 {} (clients: no uris).
    alice = await homeserver.register("alice")
    assert await alice.request("GET", TURN_SERVER) == {}
