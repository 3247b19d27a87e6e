"""Several federating Parley homeservers on loopback, for federation tests.

``async with federated_homeservers(tmp_path, 2) as (hs1, hs2): ...`` starts two
in-process homeservers, each named ``127.0.0.1:<its port>`` and federating over
plain HTTP on loopback (``federation.allow_plain_http: true``). An explicit
port in the server name means no ``.well-known`` or SRV lookup: peers connect
straight to ``host:port`` (spec: server-server-api.md, "Resolving server names").

``await server.stop()`` / ``await server.restart()`` stop and restart one of
them on the same data directory and port. ``FederatedParleyd`` runs a real
``parleyd`` child process named the same way.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from aiohttp import ClientSession, TCPConnector, web
from aiohttp.test_utils import TestServer

from federation.transport.tls import client_ssl_context, server_ssl_context
from homeserver.app.homeserver import Homeserver
from homeserver.app.web import build_app
from homeserver.config import Config
from tests.conftest import RunningHomeserver, make_config
from tests.federation.certificates import (
    TestCertificateAuthority,
    make_leaf_certificate,
    make_test_ca,
)
from tests.parleyd_process import Parleyd, free_port

LOOPBACK = "127.0.0.1"


def bind_loopback_socket(port: int = 0) -> socket.socket:
    """A listening-ready TCP socket on 127.0.0.1 (port 0: the kernel picks one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    return sock


def federation_overrides(**federation: Any) -> dict[str, Any]:
    """The ``federation:`` config every test server gets, plus any overrides."""
    return {"federation": {"allow_plain_http": True, "trusted_key_servers": [], **federation}}


class FederatedHomeserver(RunningHomeserver):
    """An in-process homeserver named ``127.0.0.1:<port>``; stoppable and restartable."""

    def __init__(
        self,
        config: Config,
        sock: socket.socket,
        session: ClientSession,
        extra_routes: web.RouteTableDef | None = None,
        tls: TestCertificateAuthority | None = None,
    ) -> None:
        self.config = config
        self.extra_routes = extra_routes
        self._server_ssl: ssl.SSLContext | None = None
        if tls is not None:
            cert, key = make_leaf_certificate(tls, Path(config.data_dir), "federation")
            self._server_ssl = server_ssl_context(str(cert), str(key))
        self.port = int(sock.getsockname()[1])
        self._pending_socket: socket.socket | None = sock
        self.session = session
        self.server_name = config.server_name
        scheme = "https" if tls is not None else "http"
        self.base_url = f"{scheme}://{LOOPBACK}:{self.port}"
        self.running = False

    async def start(self) -> None:
        """Start serving (again) on the same port and data directory."""
        assert not self.running, "already running"
        sock = self._pending_socket or bind_loopback_socket(self.port)
        self._pending_socket = None
        self.hs = Homeserver(self.config)
        app = build_app(self.hs)
        if self.extra_routes is not None:
            app.router.add_routes(self.extra_routes)
        self.server = TestServer(app, host=LOOPBACK, socket_factory=lambda *_: sock)
        try:
            await self.server.start_server(ssl=self._server_ssl)
        except BaseException:
            sock.close()
            raise
        self.running = True

    async def stop(self) -> None:
        """Stop serving; the database is closed and queued writes are finished."""
        if self.running:
            self.running = False
            await self.server.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@asynccontextmanager
async def federated_homeservers(
    tmp_path: Path,
    count: int = 2,
    *,
    extra_routes: web.RouteTableDef | None = None,
    tls: TestCertificateAuthority | None = None,
    **overrides: Any,
) -> AsyncIterator[list[FederatedHomeserver]]:
    """Start ``count`` federating homeservers; stop them all on exit.

    ``overrides`` are config keys merged into every server's config
    (``federation=...`` is merged into the federation defaults above).
    ``extra_routes`` (test-only endpoints) are served by every server. With
    ``tls`` (a test CA) every server serves HTTPS with a leaf of that CA and
    trusts only it (``federation.ca_bundle``); plain HTTP is off.
    """
    federation = overrides.pop("federation", {})
    connector: TCPConnector | None = None
    if tls is not None:
        federation = {"allow_plain_http": False, "ca_bundle": str(tls.cert_path), **federation}
        connector = TCPConnector(ssl=client_ssl_context(str(tls.cert_path)))
    servers: list[FederatedHomeserver] = []
    async with ClientSession(connector=connector) as session:
        try:
            for index in range(count):
                sock = bind_loopback_socket()
                server_name = f"{LOOPBACK}:{sock.getsockname()[1]}"
                config = make_config(
                    tmp_path / f"hs{index + 1}", server_name,
                    **federation_overrides(**federation), **overrides,
                )
                server = FederatedHomeserver(config, sock, session, extra_routes, tls)
                servers.append(server)
                await server.start()
            yield servers
        finally:
            for server in reversed(servers):
                await server.stop()
                if server._pending_socket is not None:
                    server._pending_socket.close()


class FederatedParleyd(Parleyd):
    """A real ``parleyd`` child process named ``127.0.0.1:<port>``.

    Without ``tls`` it federates over plain HTTP on its client port. With a
    test CA it serves federation over HTTPS on a second port
    (``federation.listen``), is named after that port, and trusts only that CA.
    """

    def __init__(self, tmp: Path, tls: TestCertificateAuthority | None = None, **federation: Any) -> None:
        super().__init__(tmp)
        self.tls = tls
        self.federation_port = free_port() if tls is not None else self.port
        self.server_name = f"{LOOPBACK}:{self.federation_port}"
        self.federation_url = f"{'https' if tls else 'http'}://{LOOPBACK}:{self.federation_port}"
        self._federation = federation

    async def init(self) -> None:
        await super().init()
        config = yaml.safe_load(self.config.read_text())
        config["server_name"] = self.server_name
        federation = federation_overrides(**self._federation)["federation"]
        if self.tls is not None:
            cert, key = make_leaf_certificate(self.tls, self.data, "federation")
            federation.update(
                allow_plain_http=False,
                ca_bundle=str(self.tls.cert_path),
                listen={
                    "host": LOOPBACK,
                    "port": self.federation_port,
                    "tls_certificate_path": str(cert),
                    "tls_private_key_path": str(key),
                },
            )
        config["federation"].update(federation)
        self.config.write_text(yaml.safe_dump(config))


__all__ = [
    "FederatedHomeserver",
    "FederatedParleyd",
    "LOOPBACK",
    "federated_homeservers",
    "make_test_ca",
    "free_port",
]
