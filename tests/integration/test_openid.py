"""OpenID tokens on one server: request_token and the userinfo exchange.

spec: client-server-api/modules/openid.md, data/api/client-server/openid.yaml;
data/api/server-server/openid.yaml (GET /openid/userinfo, no X-Matrix).
"""

from __future__ import annotations

from typing import Any

from homeserver.clock import Clock
from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q

USERINFO = "/_matrix/federation/v1/openid/userinfo"


def request_token_path(user_id: str) -> str:
    return f"/_matrix/client/v3/user/{q(user_id)}/openid/request_token"


async def request_token(client: MatrixHttp) -> dict[str, Any]:
    return await client.request("POST", request_token_path(client.user_id or ""), {})  # type: ignore[no-any-return]


async def userinfo(homeserver: RunningHomeserver, token: str) -> tuple[int, Any]:
    return await homeserver.api().status_of("GET", USERINFO, params={"access_token": token})


class ShiftedClock(Clock):
    def __init__(self) -> None:
        self.shift_ms = 0

    def time_ms(self) -> int:
        return super().time_ms() + self.shift_ms


async def test_request_token_returns_the_token_object(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    token = await request_token(alice)
    assert set(token) == {"access_token", "token_type", "matrix_server_name", "expires_in"}
    assert token["token_type"] == "Bearer"
    assert token["matrix_server_name"] == homeserver.server_name
    assert token["expires_in"] == 3600
    assert isinstance(token["access_token"], str) and len(token["access_token"]) >= 32


async def test_userinfo_exchanges_the_token_for_the_user_id(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    token = await request_token(alice)
    assert await userinfo(homeserver, token["access_token"]) == (200, {"sub": alice.user_id})


async def test_the_service_validates_a_token_without_http(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    token = await request_token(alice)
    assert await homeserver.hs.openid.user_for_token(token["access_token"]) == alice.user_id
    assert await homeserver.hs.openid.user_for_token("poi_not-a-token") is None
    assert await homeserver.hs.openid.user_for_token("") is None


async def test_each_request_gives_a_new_token(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    first, second = await request_token(alice), await request_token(alice)
    assert first["access_token"] != second["access_token"]
    assert (await userinfo(homeserver, first["access_token"]))[0] == 200


async def test_a_token_for_another_user_is_forbidden(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    status, body = await alice.status_of("POST", request_token_path(bob.user_id or ""), body={})
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"


async def test_request_token_needs_an_access_token(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    status, body = await homeserver.api().status_of("POST", request_token_path(alice.user_id or ""), body={})
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"


async def test_a_body_that_is_not_json_is_refused(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    status, body = await alice.status_of("POST", request_token_path(alice.user_id or ""), raw=b"{nope")
    assert status == 400 and body["errcode"] == "M_NOT_JSON"


async def test_an_expired_token_is_unknown(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    token = await request_token(alice)
    clock = ShiftedClock()
    homeserver.hs.openid.clock = clock
    clock.shift_ms = 3_599_000
    assert (await userinfo(homeserver, token["access_token"]))[0] == 200
    clock.shift_ms = 3_600_000
    status, body = await userinfo(homeserver, token["access_token"])
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    assert await homeserver.hs.openid.user_for_token(token["access_token"]) is None


async def test_an_unknown_token_is_401_and_a_missing_one_too(homeserver: RunningHomeserver) -> None:
    status, body = await userinfo(homeserver, "poi_made_up")
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    status, body = await homeserver.api().status_of("GET", USERINFO)
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"


async def test_an_openid_token_is_not_an_access_token(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    token = await request_token(alice)
    status, body = await homeserver.api(token["access_token"]).status_of("GET", "/_matrix/client/v3/account/whoami")
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    # nor does an access token work as an OpenID token
    assert (await userinfo(homeserver, alice.access_token or ""))[0] == 401


async def test_tokens_of_a_deactivated_user_stop_working(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    token = await request_token(alice)
    await alice.request("POST", "/_matrix/client/v3/account/deactivate",
                        {"auth": {"type": "m.login.password", "password": "correct horse",
                                  "identifier": {"type": "m.id.user", "user": alice.user_id}}})
    status, body = await userinfo(homeserver, token["access_token"])
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
