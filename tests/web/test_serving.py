"""parleyd serves the web client: the page, hashed assets, a strict CSP, a switch."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import ClientSession

from homeserver.config import Config
from tests.conftest import make_config, start_homeserver
from tests.web.conftest import REPO

DIST = REPO / "clients" / "web" / "dist"


@asynccontextmanager
async def serving(config: Config) -> AsyncIterator[str]:
    _hs, server = await start_homeserver(config)
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_index_and_assets_with_csp_and_cache_lifetimes(tmp_path: Path) -> None:
    async with serving(make_config(tmp_path / "hs")) as base_url, ClientSession() as http:
        async with http.get(base_url + "/") as resp:
            assert resp.status == 200
            assert resp.content_type == "text/html"
            page = await resp.text()
            csp = resp.headers["Content-Security-Policy"]
            assert resp.headers["Cache-Control"] == "no-cache"
        # No inline script: every <script> has a src on this origin.
        scripts = re.findall(r"<script[^>]*>", page)
        assert scripts and all('src="/assets/' in s for s in scripts)
        assert "script-src 'self' 'wasm-unsafe-eval'" in csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp.replace("wasm-unsafe-eval", "")
        assert "frame-ancestors 'none'" in csp

        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page)
        wasm = [p.name for p in (DIST / "assets").glob("*.wasm")]
        assert wasm, "the crypto WebAssembly is part of the build"
        for path in [*assets, f"/assets/{wasm[0]}"]:
            async with http.get(base_url + path) as resp:
                assert resp.status == 200, path
                assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
                assert resp.headers["Content-Security-Policy"] == csp
                body = await resp.read()
                assert body == (DIST / "assets" / Path(path).name).read_bytes()
                if path.endswith(".wasm"):
                    assert resp.content_type == "application/wasm"  # instantiateStreaming needs it
                if path.endswith(".js"):
                    assert resp.content_type == "text/javascript"

        for bad in ["/assets/..%2Fhomeserver.db", "/assets/nope.js", "/assets/.hidden"]:
            async with http.get(base_url + bad) as resp:
                assert resp.status == 404, bad


async def test_switched_off_serves_no_page(tmp_path: Path) -> None:
    config = make_config(tmp_path / "hs", web_client={"enabled": False})
    async with serving(config) as base_url, ClientSession() as http:
        async with http.get(base_url + "/") as resp:
            assert resp.status == 404
        async with http.get(base_url + "/_matrix/client/versions") as resp:
            assert resp.status == 200


async def test_well_known_client_names_the_serving_homeserver(tmp_path: Path) -> None:
    config = make_config(tmp_path / "hs", public_baseurl="https://chat.example.org/")
    async with serving(config) as base_url, ClientSession() as http:
        async with http.get(base_url + "/.well-known/matrix/client") as resp:
            body = await resp.json()
    assert body["m.homeserver"]["base_url"].rstrip("/") == "https://chat.example.org"
