"""Fixtures that start real Parley homeservers on loopback ports."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from federation.crypto.signing import generate_signing_key
from federation.key_files import write_signing_key_file
from homeserver.app.homeserver import Homeserver
from homeserver.app.web import build_app
from homeserver.config import Config, parse_config
from tests.http_client import MatrixHttp


def make_config(data_dir: Path, server_name: str = "localhost", **overrides: object) -> Config:
    data_dir.mkdir(parents=True, exist_ok=True)
    key_path = data_dir / "signing.key"
    if not key_path.exists():
        write_signing_key_file(key_path, generate_signing_key())
    raw: dict[str, object] = {
        "server_name": server_name,
        "data_dir": str(data_dir),
        # Cheap password hashing keeps tests fast; production uses the OWASP default.
        "password_hashing": {"opslimit": 1, "memlimit_kib": 8},
        "registration": {"rate_per_minute": 100000, "burst": 100000},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}  # type: ignore[dict-item]
        else:
            raw[key] = value
    return parse_config(raw)


class RunningHomeserver:
    """A homeserver serving HTTP on a loopback port, in this process."""

    def __init__(self, hs: Homeserver, server: TestServer, session: ClientSession) -> None:
        self.hs = hs
        self.server = server
        self.session = session
        self.base_url = str(server.make_url("")).rstrip("/")
        self.server_name = hs.server_name

    def api(self, access_token: str | None = None) -> MatrixHttp:
        return MatrixHttp(self.session, self.base_url, access_token)

    async def register(self, username: str, password: str = "correct horse") -> MatrixHttp:
        """Register a user and return a client logged in as them."""
        api = self.api()
        await api.register(username, password)
        return api


async def start_homeserver(config: Config) -> tuple[Homeserver, TestServer]:
    hs = Homeserver(config)
    app = build_app(hs)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return hs, server


@pytest.fixture
async def homeserver(tmp_path: Path) -> AsyncIterator[RunningHomeserver]:
    config = make_config(tmp_path / "hs")
    hs, server = await start_homeserver(config)
    async with ClientSession() as session:
        yield RunningHomeserver(hs, server, session)
    await server.close()


@pytest.fixture
def config_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    def factory(name: str = "hs", **overrides: object) -> Config:
        return make_config(tmp_path / name, **overrides)

    return factory


os.environ.setdefault("PARLEY_TESTING", "1")
