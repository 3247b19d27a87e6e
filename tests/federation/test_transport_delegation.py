"""Delegation through /.well-known/matrix/server, end to end on loopback
(spec: server-server-api.md, "Resolving server names", step 3.2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.transport.discovery import HttpWellKnownFetcher, ServerResolver
from homeserver.config import ConfigError
from tests.conftest import make_config
from tests.federation.harness import (
    FederatedHomeserver,
    bind_loopback_socket,
    federated_homeservers,
    federation_overrides,
)


async def test_well_known_is_404_without_delegation(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        async with hs1.session.get(hs1.base_url + "/.well-known/matrix/server") as resp:
            assert resp.status == 404
            assert (await resp.json())["errcode"] == "M_NOT_FOUND"


def test_well_known_server_must_be_a_server_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="well_known_server"):
        make_config(tmp_path / "x", "x.example", federation={"well_known_server": "https://x"})


async def test_keys_of_a_delegated_server_are_fetched_through_its_well_known(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (asker,):
        sock = bind_loopback_socket()
        port = sock.getsockname()[1]
        delegated_to = f"127.0.0.1:{port}"
        config = make_config(
            tmp_path / "delegating", "parley.test",
            **federation_overrides(well_known_server=delegated_to),
        )
        delegating = FederatedHomeserver(config, sock, asker.session)
        await delegating.start()
        try:
            async with asker.session.get(delegating.base_url + "/.well-known/matrix/server") as resp:
                assert await resp.json() == {"m.server": delegated_to}
            # "https://parley.test/.well-known/..." stands in for this loopback URL.
            client = asker.hs.federation_client
            client.resolver = ServerResolver(
                HttpWellKnownFetcher(client.session, url_for=lambda host: delegating.base_url + "/.well-known/matrix/server")
            )
            resolved = await client.resolver.resolve("parley.test")
            assert (resolved.connect_host, resolved.port, resolved.host_header) == ("127.0.0.1", port, delegated_to)
            key = delegating.hs.signing_key
            assert await asker.hs.keyring.get_verify_key("parley.test", key.key_id) == key.verify_key_bytes
        finally:
            await delegating.stop()
