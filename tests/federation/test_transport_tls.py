"""Federation over HTTPS with a private CA (spec: server-server-api.md, "TLS"; SYNAPSE.md §3)."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from federation.crypto.signing import generate_signing_key
from federation.keys import parse_key_response
from federation.transport.client import FederationClient, TransportSettings
from federation.transport.errors import FederationUnreachable
from federation.transport.tls import client_ssl_context
from tests.federation.certificates import make_test_ca
from tests.federation.harness import FederatedParleyd, federated_homeservers


async def test_servers_fetch_keys_over_https_trusting_only_the_configured_ca(tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path / "ca")
    async with federated_homeservers(tmp_path, 2, tls=ca) as (hs1, hs2):
        assert hs2.base_url.startswith("https://")
        key = await hs1.hs.keyring.get_verify_key(hs2.server_name, hs2.hs.signing_key.key_id)
        assert key == hs2.hs.signing_key.verify_key_bytes
        version = await hs1.hs.federation_client.get_json(hs2.server_name, "/_matrix/federation/v1/version")
        assert version["server"]["name"] == "Parley"


async def test_certificate_from_an_untrusted_ca_is_refused(tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path / "ca")
    other_ca = make_test_ca(tmp_path / "other-ca")
    async with federated_homeservers(tmp_path, 1, tls=ca) as (hs1,):
        for ca_bundle in (str(other_ca.cert_path), None):  # another CA; the system store
            client = FederationClient(
                "127.0.0.1:1", generate_signing_key(), TransportSettings(ca_bundle=ca_bundle)
            )
            try:
                with pytest.raises(FederationUnreachable, match="(?i)certificate"):
                    await client.get_json(hs1.server_name, "/_matrix/key/v2/server", timeout=10)
            finally:
                await client.close()


async def test_plain_http_server_is_not_used_without_allow_plain_http(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):  # plain HTTP server
        client = FederationClient("127.0.0.1:1", generate_signing_key(), TransportSettings())
        try:
            with pytest.raises(FederationUnreachable):
                await client.get_json(hs1.server_name, "/_matrix/key/v2/server", timeout=10)
        finally:
            await client.close()


def test_minimum_tls_version_is_configurable() -> None:
    assert client_ssl_context(None, "1.3").minimum_version == ssl.TLSVersion.TLSv1_3
    assert client_ssl_context(None, "1.2").minimum_version == ssl.TLSVersion.TLSv1_2


async def test_parleyd_serves_federation_over_https_on_its_federation_port(tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path / "ca")
    parleyd = FederatedParleyd(tmp_path / "p1", tls=ca)
    await parleyd.init()
    await parleyd.start()
    try:
        connector = aiohttp.TCPConnector(ssl=client_ssl_context(str(ca.cert_path)))
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(parleyd.federation_url + "/_matrix/key/v2/server") as resp:
                assert resp.status == 200
                response = await resp.json()
        assert parse_key_response(response, parleyd.server_name, 0)
        # An in-process server trusting the same CA fetches the keys over HTTPS too.
        async with federated_homeservers(tmp_path / "inproc", 1, tls=ca) as (hs1,):
            key_id = next(iter(response["verify_keys"]))
            await hs1.hs.keyring.get_verify_key(parleyd.server_name, key_id)
    finally:
        assert await parleyd.stop() == 0
