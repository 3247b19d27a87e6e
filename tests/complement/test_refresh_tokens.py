"""Refresh tokens and expiring access tokens.

spec: client-server-api/_index.md, "Refreshing access tokens" and "Soft logout";
data/api/client-server/{refresh,login,registration}.yaml. Complement: TestTxnIdWithRefreshToken.
"""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession

from homeserver.clock import Clock
from tests.conftest import RunningHomeserver, start_homeserver
from tests.http_client import MatrixHttp, q

V3 = "/_matrix/client/v3"
DEFAULT_LIFETIME_MS = 300_000


class ShiftedClock(Clock):
    """Wall-clock time moved forward by ``shift_ms``, so tests can let tokens expire."""

    def __init__(self) -> None:
        self.shift_ms = 0

    def time_ms(self) -> int:
        return super().time_ms() + self.shift_ms


def shift_auth_clock(homeserver: RunningHomeserver) -> ShiftedClock:
    clock = ShiftedClock()
    homeserver.hs.auth.clock = clock
    return clock


async def login_with_refresh(homeserver: RunningHomeserver, name: str) -> tuple[MatrixHttp, dict[str, Any]]:
    await homeserver.register(name)
    client = homeserver.api()
    body = await client.login(name, refresh_token=True)
    return client, body


async def refresh(homeserver: RunningHomeserver, refresh_token: str, expect: int = 200) -> dict[str, Any]:
    return await homeserver.api().request(  # type: ignore[no-any-return]
        "POST", f"{V3}/refresh", {"refresh_token": refresh_token}, expect=expect
    )


async def whoami_status(homeserver: RunningHomeserver, access_token: str) -> tuple[int, Any]:
    return await homeserver.api(access_token).status_of("GET", f"{V3}/account/whoami")


async def test_login_without_the_flag_gives_no_refresh_token_and_a_token_that_does_not_expire(
    homeserver: RunningHomeserver,
) -> None:
    await homeserver.register("alice")
    client = homeserver.api()
    body = await client.login("alice")
    assert "refresh_token" not in body and "expires_in_ms" not in body
    shift_auth_clock(homeserver).shift_ms = 10 * DEFAULT_LIFETIME_MS
    status, _ = await whoami_status(homeserver, body["access_token"])
    assert status == 200


async def test_login_with_the_flag_gives_a_refresh_token_and_expiry(homeserver: RunningHomeserver) -> None:
    _, body = await login_with_refresh(homeserver, "alice")
    assert isinstance(body["refresh_token"], str) and body["refresh_token"]
    assert body["expires_in_ms"] == DEFAULT_LIFETIME_MS


async def test_register_with_the_flag_gives_a_refresh_token(homeserver: RunningHomeserver) -> None:
    body = await homeserver.api().register("alice", refresh_token=True)
    assert body["refresh_token"] and body["expires_in_ms"] == DEFAULT_LIFETIME_MS
    refreshed = await refresh(homeserver, body["refresh_token"])
    status, who = await whoami_status(homeserver, refreshed["access_token"])
    assert status == 200 and who["device_id"] == body["device_id"]


async def test_register_with_inhibit_login_gives_no_tokens(homeserver: RunningHomeserver) -> None:
    api = homeserver.api()
    request = {"username": "alice", "password": "pw", "refresh_token": True, "inhibit_login": True}
    status, challenge = await api.status_of("POST", f"{V3}/register", body=request)
    assert status == 401
    request["auth"] = {"type": "m.login.dummy", "session": challenge["session"]}
    body = await api.request("POST", f"{V3}/register", request)
    assert body["user_id"] == "@alice:localhost"
    assert "refresh_token" not in body and "access_token" not in body


async def test_expired_access_token_is_a_soft_logout(homeserver: RunningHomeserver) -> None:
    client, body = await login_with_refresh(homeserver, "alice")
    await client.request("GET", f"{V3}/account/whoami")  # cached before it expires
    shift_auth_clock(homeserver).shift_ms = DEFAULT_LIFETIME_MS
    status, error = await whoami_status(homeserver, body["access_token"])
    assert status == 401 and error["errcode"] == "M_UNKNOWN_TOKEN" and error["soft_logout"] is True
    refreshed = await refresh(homeserver, body["refresh_token"])
    status, _ = await whoami_status(homeserver, refreshed["access_token"])
    assert status == 200


async def test_lifetime_is_configurable(config_factory: Any) -> None:
    hs, server = await start_homeserver(config_factory(registration={"access_token_lifetime_ms": 60_000}))
    try:
        async with ClientSession() as session:
            running = RunningHomeserver(hs, server, session)
            _, body = await login_with_refresh(running, "alice")
            assert body["expires_in_ms"] == 60_000
            assert (await refresh(running, body["refresh_token"]))["expires_in_ms"] == 60_000
    finally:
        await server.close()


async def test_refresh_rotates_and_the_old_access_token_stops_working(homeserver: RunningHomeserver) -> None:
    _, body = await login_with_refresh(homeserver, "alice")
    refreshed = await refresh(homeserver, body["refresh_token"])
    assert refreshed["access_token"] != body["access_token"]
    assert refreshed["refresh_token"] != body["refresh_token"]
    assert refreshed["expires_in_ms"] == DEFAULT_LIFETIME_MS
    status, error = await whoami_status(homeserver, body["access_token"])
    assert status == 401 and error["errcode"] == "M_UNKNOWN_TOKEN" and error["soft_logout"] is False
    status, who = await whoami_status(homeserver, refreshed["access_token"])
    assert status == 200 and who["user_id"] == "@alice:localhost"


async def test_old_refresh_token_is_valid_until_the_new_access_token_is_used(
    homeserver: RunningHomeserver,
) -> None:
    _, body = await login_with_refresh(homeserver, "alice")
    first = await refresh(homeserver, body["refresh_token"])
    # The answer was lost: the client retries with the old refresh token.
    second = await refresh(homeserver, body["refresh_token"])
    status, _ = await whoami_status(homeserver, first["access_token"])
    assert status == 401  # superseded by the retry
    status, _ = await whoami_status(homeserver, second["access_token"])
    assert status == 200
    error = await refresh(homeserver, body["refresh_token"], expect=401)
    assert error["errcode"] == "M_UNKNOWN_TOKEN"
    await refresh(homeserver, second["refresh_token"])


async def test_using_the_new_refresh_token_ends_the_old_one(homeserver: RunningHomeserver) -> None:
    _, body = await login_with_refresh(homeserver, "alice")
    first = await refresh(homeserver, body["refresh_token"])
    await refresh(homeserver, first["refresh_token"])
    error = await refresh(homeserver, body["refresh_token"], expect=401)
    assert error["errcode"] == "M_UNKNOWN_TOKEN"


async def test_unknown_refresh_token_is_m_unknown_token(homeserver: RunningHomeserver) -> None:
    error = await refresh(homeserver, "prt_not_a_token", expect=401)
    assert error["errcode"] == "M_UNKNOWN_TOKEN"
    status, missing = await homeserver.api().status_of("POST", f"{V3}/refresh", body={})
    assert status == 400 and missing["errcode"] == "M_MISSING_PARAM"
    status, wrong = await homeserver.api().status_of("POST", f"{V3}/refresh", body={"refresh_token": 5})
    assert status == 400 and wrong["errcode"] == "M_BAD_JSON"


async def test_access_token_cannot_be_used_as_refresh_token(homeserver: RunningHomeserver) -> None:
    _, body = await login_with_refresh(homeserver, "alice")
    error = await refresh(homeserver, body["access_token"], expect=401)
    assert error["errcode"] == "M_UNKNOWN_TOKEN"


async def test_logout_revokes_the_refresh_token(homeserver: RunningHomeserver) -> None:
    client, body = await login_with_refresh(homeserver, "alice")
    await client.request("POST", f"{V3}/logout", {})
    error = await refresh(homeserver, body["refresh_token"], expect=401)
    assert error["errcode"] == "M_UNKNOWN_TOKEN"


async def test_logout_all_revokes_every_refresh_token(homeserver: RunningHomeserver) -> None:
    client, body = await login_with_refresh(homeserver, "alice")
    other = await homeserver.api().login("alice", refresh_token=True)
    await client.request("POST", f"{V3}/logout/all", {})
    for token in (body["refresh_token"], other["refresh_token"]):
        assert (await refresh(homeserver, token, expect=401))["errcode"] == "M_UNKNOWN_TOKEN"
    assert await homeserver.hs.account_store.count_refresh_tokens("@alice:localhost") == 0


async def test_deleting_a_device_revokes_its_refresh_token(homeserver: RunningHomeserver) -> None:
    client, _ = await login_with_refresh(homeserver, "alice")
    other = await homeserver.api().login("alice", refresh_token=True)
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "correct horse"}
    status, challenge = await client.status_of("DELETE", f"{V3}/devices/{q(other['device_id'])}", body={})
    assert status == 401
    await client.request(
        "DELETE", f"{V3}/devices/{q(other['device_id'])}", {"auth": {**auth, "session": challenge["session"]}}
    )
    assert (await refresh(homeserver, other["refresh_token"], expect=401))["errcode"] == "M_UNKNOWN_TOKEN"


async def test_deactivation_revokes_refresh_tokens(homeserver: RunningHomeserver) -> None:
    client, body = await login_with_refresh(homeserver, "alice")
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "correct horse"}
    status, challenge = await client.status_of("POST", f"{V3}/account/deactivate", body={})
    assert status == 401
    await client.request("POST", f"{V3}/account/deactivate", {"auth": {**auth, "session": challenge["session"]}})
    assert (await refresh(homeserver, body["refresh_token"], expect=401))["errcode"] == "M_UNKNOWN_TOKEN"


async def test_refresh_tokens_are_stored_only_as_hashes(homeserver: RunningHomeserver) -> None:
    _, body = await login_with_refresh(homeserver, "alice")
    rows = await homeserver.hs.db.fetchall("test_refresh_rows", "SELECT token_hash FROM refresh_tokens", ())
    stored = {bytes(r[0]) for r in rows}
    assert stored and body["refresh_token"].encode() not in stored
    assert all(len(h) == 32 for h in stored)


# Complement: TestTxnIdWithRefreshToken
async def test_txn_id_survives_a_refresh(homeserver: RunningHomeserver) -> None:
    client, body = await login_with_refresh(homeserver, "alice")
    room_id = await client.create_room()
    path = f"{V3}/rooms/{q(room_id)}/send/m.room.message/txn-refresh"
    event_id = (await client.request("PUT", path, {"msgtype": "m.text", "body": "first"}))["event_id"]
    refreshed = await refresh(homeserver, body["refresh_token"])
    client.access_token = refreshed["access_token"]
    sync = await client.request("GET", f"{V3}/sync", params={"timeout": "0"})
    events = sync["rooms"]["join"][room_id]["timeline"]["events"]
    sent = [e for e in events if e["event_id"] == event_id]
    assert sent and sent[0]["unsigned"]["transaction_id"] == "txn-refresh"
    again = await client.request("PUT", path, {"msgtype": "m.text", "body": "second"})
    assert again["event_id"] == event_id
