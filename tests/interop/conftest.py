"""Fixtures for interop tests against Synapse: a test CA, a Synapse peer, and a
Parley homeserver that serves federation over HTTPS (Synapse speaks nothing else).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, web

from homeserver.app.homeserver import Homeserver
from homeserver.app.web import build_app
from tests.conftest import make_config
from tests.http_client import MatrixHttp
from tests.interop.loopback_ca import LoopbackCA
from tests.interop.synapse_peer import SynapsePeer, free_port, synapse_python

LOOPBACK = "127.0.0.1"


@pytest.fixture
def loopback_ca(tmp_path: Path) -> LoopbackCA:
    return LoopbackCA(tmp_path / "ca")


@pytest.fixture
async def synapse(tmp_path: Path, loopback_ca: LoopbackCA) -> AsyncIterator[SynapsePeer]:
    python = synapse_python()
    if python is None:
        pytest.skip("Synapse is not installed (set PARLEY_SYNAPSE_PYTHON or create .synapse-venv)")
    peer = SynapsePeer(python, tmp_path / "synapse", loopback_ca)
    await peer.start()
    try:
        yield peer
    finally:
        peer.stop()


class TlsParley:
    """Parley in this process: client API over HTTP, federation over HTTPS, named 127.0.0.1:<fed port>."""

    def __init__(self, hs: Homeserver, runner: web.AppRunner, client_port: int, session: ClientSession) -> None:
        self.hs = hs
        self.runner = runner
        self.server_name = hs.server_name
        self.base_url = f"http://{LOOPBACK}:{client_port}"
        self.session = session

    def api(self, access_token: str | None = None) -> MatrixHttp:
        return MatrixHttp(self.session, self.base_url, access_token)

    async def register(self, username: str) -> MatrixHttp:
        api = self.api()
        await api.register(username)
        return api


@pytest.fixture
async def parley(tmp_path: Path, loopback_ca: LoopbackCA) -> AsyncIterator[TlsParley]:
    fed_port, client_port = free_port(), free_port()
    leaf = loopback_ca.issue(f"parley-{fed_port}")
    config = make_config(
        tmp_path / "parley", f"{LOOPBACK}:{fed_port}",
        listen={"host": LOOPBACK, "port": client_port},
        federation={
            "ca_bundle": str(loopback_ca.certificate_path),
            "trusted_key_servers": [],
            "listen": {"host": LOOPBACK, "port": fed_port,
                       "tls_certificate_path": str(leaf.certificate),
                       "tls_private_key_path": str(leaf.private_key)},
        },
    )
    hs = Homeserver(config)
    runner = web.AppRunner(build_app(hs))
    await runner.setup()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(leaf.certificate, leaf.private_key)
    await web.TCPSite(runner, LOOPBACK, client_port).start()
    await web.TCPSite(runner, LOOPBACK, fed_port, ssl_context=tls).start()
    async with ClientSession() as session:
        try:
            yield TlsParley(hs, runner, client_port, session)
        finally:
            await runner.cleanup()


@pytest.fixture
async def synapse_http(synapse: SynapsePeer) -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session
