"""The web client (clients/web) at / on the client port.

`index.html` is never cached (it names the current build's assets); the assets carry a
content hash in their names, so they are cached for a year. Every answer carries a strict
Content-Security-Policy: scripts only from this origin, no inline script or style
sheet, and `wasm-unsafe-eval` because the end-to-end encryption is WebAssembly
(matrix-sdk-crypto-wasm). `connect-src` allows other origins: the client can sign in to
any Matrix homeserver, not only this one.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from aiohttp import web

from homeserver.config import WebClientConfig

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "font-src 'self'",
    "connect-src 'self' https: http: wss: ws:",
    "worker-src 'self' blob:",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
ASSET_CACHE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
# Asset names are what build.mjs writes: letters, digits, dots, dashes, underscores.
_ASSET_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+$")


def bundled_web_client() -> Path:
    """The build installed with Parley (package data of clients.web)."""
    return Path(str(files("clients.web").joinpath("dist")))


def web_client_routes(config: WebClientConfig) -> list[web.RouteDef]:
    """Routes serving the web client, or none when it is switched off."""
    if not config.enabled:
        return []
    root = Path(config.path) if config.path else bundled_web_client()
    index = root / "index.html"
    assets = root / "assets"

    async def page(request: web.Request) -> web.StreamResponse:
        if not index.is_file():
            raise web.HTTPNotFound(text="The web client is not built (scripts/build-web).")
        return web.Response(
            body=index.read_bytes(),
            content_type="text/html",
            charset="utf-8",
            headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
        )

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = assets / name
        if not _ASSET_NAME.match(name) or not path.is_file():
            raise web.HTTPNotFound()
        response = web.FileResponse(
            path,
            headers={
                **SECURITY_HEADERS,
                "Cache-Control": ASSET_CACHE,
                "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            },
        )
        return response

    return [web.get("/", page), web.get("/assets/{name}", asset)]
