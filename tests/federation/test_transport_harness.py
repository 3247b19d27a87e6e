"""The federation test harness: servers named 127.0.0.1:<port> that answer federation."""

from __future__ import annotations

from pathlib import Path

from aiohttp import ClientSession

from tests.federation.harness import FederatedParleyd, federated_homeservers


async def _version(session: ClientSession, base_url: str) -> dict[str, object]:
    async with session.get(base_url + "/_matrix/federation/v1/version") as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        return await resp.json()  # type: ignore[no-any-return]


async def test_two_servers_are_named_by_their_loopback_port_and_answer_version(
    tmp_path: Path,
) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        assert hs1.server_name == f"127.0.0.1:{hs1.port}"
        assert hs2.server_name == f"127.0.0.1:{hs2.port}"
        assert hs1.server_name != hs2.server_name
        for server in (hs1, hs2):
            body = await _version(server.session, server.base_url)
            assert body["server"]["name"] == "Parley"  # type: ignore[index]
            assert server.hs.config.federation.allow_plain_http


async def test_restarted_server_keeps_its_port_and_data(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        alice = await hs1.register("alice")
        await hs1.restart()
        assert hs1.base_url.endswith(f":{hs1.port}")
        body = await _version(hs1.session, hs1.base_url)
        assert body["server"]["name"] == "Parley"  # type: ignore[index]
        whoami = await alice.request("GET", "/_matrix/client/v3/account/whoami")
        assert whoami["user_id"] == f"@alice:{hs1.server_name}"


async def test_parleyd_subprocess_federates_under_its_loopback_name(tmp_path: Path) -> None:
    parleyd = FederatedParleyd(tmp_path / "p1")
    await parleyd.init()
    await parleyd.start()
    try:
        async with ClientSession() as session:
            body = await _version(session, parleyd.base_url)
        assert body["server"]["name"] == "Parley"  # type: ignore[index]
    finally:
        assert await parleyd.stop() == 0


async def test_two_parleyd_processes_exchange_keys_over_plain_http(tmp_path: Path) -> None:
    from federation.keys import parse_key_response

    first, second = FederatedParleyd(tmp_path / "p1"), FederatedParleyd(tmp_path / "p2")
    for parleyd in (first, second):
        await parleyd.init()
        await parleyd.start()
    try:
        async with ClientSession() as session:
            # The first server, as a notary, fetches the second's keys over federation.
            async with session.post(
                first.base_url + "/_matrix/key/v2/query", json={"server_keys": {second.server_name: {}}}
            ) as resp:
                assert resp.status == 200
                [answer] = (await resp.json())["server_keys"]
        assert parse_key_response(answer, second.server_name, 0)
        assert set(answer["signatures"]) == {first.server_name, second.server_name}
    finally:
        for parleyd in (first, second):
            assert await parleyd.stop() == 0
