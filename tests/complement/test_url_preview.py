"""URL previews, after Complement's url_preview_test.go.

spec: data/api/client-server/authed-content-repo.yaml, GET /_matrix/client/v1/media/preview_url.
A small web site on loopback plays the page being previewed.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from PIL import Image

from homeserver.app.homeserver import Homeserver
from homeserver.app.web import build_app
from tests.conftest import RunningHomeserver, make_config
from tests.http_client import MatrixHttp
from tests.integration.test_media import get_raw, mxc_path

PREVIEW = "/_matrix/client/v1/media/preview_url"
LEGACY_PREVIEW = "/_matrix/media/v3/preview_url"


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


IMAGE = png(48, 32)
PAGE = """<!DOCTYPE html><html><head>
<title>Fallback title</title>
<meta property="og:title" content="The Sky is Blue &amp; Wide" />
<meta property="og:type" content="website" />
<meta property="og:url" content="https://example.com/sky" />
<meta property="og:image" content="/test.png" />
<meta property="og:description" content="About the sky" />
</head><body>Hello</body></html>"""
PLAIN_PAGE = "<html><head><title>Just a title</title><meta name='description' content='words'></head></html>"


@dataclass
class Site:
    server: TestServer
    hits: dict[str, int]

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    hits: dict[str, int] = {}

    def counted(path: str, response: web.StreamResponse) -> web.StreamResponse:
        hits[path] = hits.get(path, 0) + 1
        return response

    async def page(request: web.Request) -> web.StreamResponse:
        return counted("/page", web.Response(text=PAGE, content_type="text/html"))

    async def plain(request: web.Request) -> web.StreamResponse:
        return counted("/plain", web.Response(text=PLAIN_PAGE, content_type="text/html"))

    async def image(request: web.Request) -> web.StreamResponse:
        return counted("/test.png", web.Response(body=IMAGE, content_type="image/png"))

    async def moved(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/page")

    async def missing(request: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/plain", plain)
    app.router.add_get("/test.png", image)
    app.router.add_get("/moved", moved)
    app.router.add_get("/missing", missing)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield Site(server, hits)
    await server.close()


async def start_server(tmp_path: Path, media: dict[str, Any]) -> AsyncIterator[RunningHomeserver]:
    hs = Homeserver(make_config(tmp_path / "hs", media=media))
    server = TestServer(build_app(hs), host="127.0.0.1")
    await server.start_server()
    async with ClientSession() as session:
        yield RunningHomeserver(hs, server, session)
    await server.close()


@pytest.fixture
async def previewing(tmp_path: Path) -> AsyncIterator[RunningHomeserver]:
    """A homeserver with previews on and loopback allowed (the test site lives there)."""
    async for running in start_server(tmp_path, {
        "url_preview_enabled": True, "url_preview_ip_range_allowlist": ["127.0.0.1/32"],
    }):
        yield running


async def preview(client: MatrixHttp, url: str, path: str = PREVIEW) -> tuple[int, Any]:
    return await client.status_of("GET", path, params={"url": url})


@pytest.mark.parametrize("path", [PREVIEW, LEGACY_PREVIEW])
async def test_preview_has_open_graph_data_and_the_image_as_mxc(
    previewing: RunningHomeserver, site: Site, path: str
) -> None:
    # Complement: TestUrlPreview
    alice = await previewing.register("alice")
    status, body = await preview(alice, site.url("/page"), path)
    assert status == 200, body
    assert body["og:title"] == "The Sky is Blue & Wide"
    assert body["og:type"] == "website"
    assert body["og:url"] == "https://example.com/sky"
    assert body["og:description"] == "About the sky"
    assert body["og:image"].startswith(f"mxc://{previewing.server_name}/")
    assert (body["og:image:width"], body["og:image:height"]) == (48, 32)
    assert body["matrix:image:size"] == len(IMAGE)
    assert body["og:image:type"] == "image/png"
    resp, data = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(body['og:image'])}")
    assert resp.status == 200 and data == IMAGE


async def test_preview_is_cached(previewing: RunningHomeserver, site: Site) -> None:
    alice = await previewing.register("alice")
    first = await preview(alice, site.url("/page"))
    second = await preview(alice, site.url("/page"))
    assert first == second and site.hits["/page"] == 1


async def test_page_without_open_graph_falls_back_to_title_and_description(
    previewing: RunningHomeserver, site: Site
) -> None:
    alice = await previewing.register("alice")
    status, body = await preview(alice, site.url("/plain"))
    assert status == 200
    assert body == {"og:title": "Just a title", "og:description": "words"}


async def test_preview_of_an_image_url_describes_the_image(previewing: RunningHomeserver, site: Site) -> None:
    alice = await previewing.register("alice")
    status, body = await preview(alice, site.url("/test.png"))
    assert status == 200
    assert body["og:image"].startswith("mxc://") and body["matrix:image:size"] == len(IMAGE)


async def test_redirects_are_followed(previewing: RunningHomeserver, site: Site) -> None:
    alice = await previewing.register("alice")
    status, body = await preview(alice, site.url("/moved"))
    assert status == 200 and body["og:title"] == "The Sky is Blue & Wide"


async def test_bad_urls_and_failing_pages_are_errors(previewing: RunningHomeserver, site: Site) -> None:
    alice = await previewing.register("alice")
    status, body = await preview(alice, "ftp://example.com/file")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await alice.status_of("GET", PREVIEW)
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await preview(alice, site.url("/missing"))
    assert status == 502
    status, body = await previewing.api().status_of("GET", PREVIEW, params={"url": site.url("/page")})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_loopback_is_refused_by_the_default_denylist(tmp_path: Path, site: Site) -> None:
    async for running in start_server(tmp_path, {"url_preview_enabled": True}):
        alice = await running.register("alice")
        status, body = await preview(alice, site.url("/page"))
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        for host in ("localhost", "[::ffff:127.0.0.1]"):
            status, body = await preview(alice, site.url("/page").replace("127.0.0.1", host))
            assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), host
        assert site.hits == {}


async def test_previews_are_off_by_default(homeserver: RunningHomeserver, site: Site) -> None:
    alice = await homeserver.register("alice")
    status, body = await preview(alice, site.url("/page"))
    assert (status, body["errcode"]) == (404, "M_UNRECOGNIZED")
    assert site.hits == {}
