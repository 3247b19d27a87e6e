"""OpenID tokens checked across servers: the verifier asks the user's homeserver.

spec: data/api/server-server/openid.yaml — "The caller MUST validate that the returned
user ID is on the server they called".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from homeserver.clock import Clock
from homeserver.errors import MatrixError
from tests.federation.harness import LOOPBACK, FederatedHomeserver, federated_homeservers
from tests.http_client import MatrixHttp, q

USERINFO = "/_matrix/federation/v1/openid/userinfo"


async def request_token(client: MatrixHttp) -> dict[str, Any]:
    path = f"/_matrix/client/v3/user/{q(client.user_id or '')}/openid/request_token"
    return await client.request("POST", path, {})  # type: ignore[no-any-return]


@asynccontextmanager
async def relaying_server(real: FederatedHomeserver) -> AsyncIterator[str]:
    """A server that answers userinfo with what ``real`` says: it vouches for others' users."""
    routes = web.RouteTableDef()

    @routes.get(USERINFO)
    async def relay(request: web.Request) -> web.Response:
        async with ClientSession() as session, session.get(real.base_url + USERINFO, params=request.query) as resp:
            return web.json_response(await resp.json(), status=resp.status)

    app = web.Application()
    app.router.add_routes(routes)
    server = TestServer(app, host=LOOPBACK)
    await server.start_server()
    try:
        yield f"{LOOPBACK}:{server.port}"
    finally:
        await server.close()


async def test_a_remote_token_is_verified_with_its_server(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        token = await request_token(alice)
        assert await hs2.hs.openid_verifier.verify_token_object(token) == alice.user_id
        assert await hs2.hs.openid_verifier.verify(hs1.server_name, token["access_token"]) == alice.user_id


async def test_a_local_token_is_verified_without_asking_anyone(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        alice = await hs1.register("alice")
        token = await request_token(alice)
        await hs1.hs.federation_client.close()  # no HTTP possible: the answer is local
        assert await hs1.hs.openid_verifier.verify_token_object(token) == alice.user_id


async def test_a_token_presented_as_another_servers_is_refused(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        token = await request_token(alice)
        # hs1's token claimed to be hs2's: hs2 does not know it.
        with pytest.raises(MatrixError) as caught:
            await hs1.hs.openid_verifier.verify_token_object({**token, "matrix_server_name": hs2.server_name})
        assert (caught.value.status, caught.value.errcode) == (401, "M_UNKNOWN_TOKEN")
        # ... and checked on hs2 itself, where it is looked up locally.
        with pytest.raises(MatrixError) as caught:
            await hs2.hs.openid_verifier.verify(hs2.server_name, token["access_token"])
        assert (caught.value.status, caught.value.errcode) == (401, "M_UNKNOWN_TOKEN")


async def test_a_server_vouching_for_another_servers_user_is_not_believed(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2), relaying_server(hs1) as forger:
        alice = await hs1.register("alice")
        token = await request_token(alice)
        # The forger's userinfo answers {"sub": alice} (on hs1), so the relay itself works ...
        relayed = await hs2.hs.federation_client.get_json(forger, USERINFO, {"access_token": token["access_token"]})
        assert relayed == {"sub": alice.user_id}
        # ... but a token from hs1 presented as the forger's is refused: sub is not the forger's user.
        with pytest.raises(MatrixError) as caught:
            await hs2.hs.openid_verifier.verify(forger, token["access_token"])
        assert (caught.value.status, caught.value.errcode) == (401, "M_UNKNOWN_TOKEN")


async def test_an_expired_remote_token_is_refused(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        token = await request_token(alice)

        class Later(Clock):
            def time_ms(self) -> int:
                return super().time_ms() + 3_600_000

        hs1.hs.openid.clock = Later()
        with pytest.raises(MatrixError) as caught:
            await hs2.hs.openid_verifier.verify_token_object(token)
        assert (caught.value.status, caught.value.errcode) == (401, "M_UNKNOWN_TOKEN")


async def test_an_unreachable_server_is_a_gateway_error(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        with pytest.raises(MatrixError) as caught:
            await hs1.hs.openid_verifier.verify(f"{LOOPBACK}:1", "poi_whatever")
        assert caught.value.status == 502


@pytest.mark.parametrize(
    "token",
    [{}, {"access_token": "x"}, {"access_token": 5, "matrix_server_name": "a.example"},
     {"access_token": "x", "matrix_server_name": "not a server"},
     {"access_token": "x", "matrix_server_name": "a.example", "token_type": "MAC"}],
)
async def test_malformed_token_objects_are_bad_requests(tmp_path: Path, token: dict[str, Any]) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        with pytest.raises(MatrixError) as caught:
            await hs1.hs.openid_verifier.verify_token_object(token)
        assert (caught.value.status, caught.value.errcode) == (400, "M_INVALID_PARAM")
