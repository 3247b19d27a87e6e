"""URL previews: fetch a page for a client and answer its OpenGraph data.

spec: data/api/client-server/authed-content-repo.yaml and content-repo.yaml, GET
preview_url. The page's og:image (or the URL itself, when it is an image) is stored in
the media repository and answered as an mxc:// URI with its size and dimensions.

Fetching arbitrary URLs from inside the server is a request-forgery risk, so previews are
off unless configured, and every address a name resolves to (or an IP literal in the URL,
after each redirect) must pass the denylist/allowlist before a connection is made.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from PIL import Image

from homeserver.config import MediaConfig
from homeserver.core.open_graph import parse_open_graph
from homeserver.errors import MatrixError, invalid_param
from homeserver.services.media.repository import MediaService

logger = logging.getLogger(__name__)

# As Synapse's recommended url_preview_ip_range_blacklist.
DEFAULT_DENYLIST = (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
    "192.0.0.0/24", "169.254.0.0/16", "192.88.99.0/24", "198.18.0.0/15", "192.0.2.0/24",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "0.0.0.0/8", "::1/128", "fe80::/10",
    "fc00::/7", "2001:db8::/32", "ff00::/8", "fec0::/10",
)
FETCH_TIMEOUT_S = 15.0
MAX_REDIRECTS = 5
MAX_PAGE_BYTES = 10 * 1024 * 1024
CACHE_TTL_S = 3600.0
MAX_CACHED = 1000
REDIRECT_STATUSES = (301, 302, 303, 307, 308)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class _FilteringResolver(AbstractResolver):
    """Resolves names like aiohttp does, then drops every address the policy refuses."""

    def __init__(self, allowed: Callable[[str], bool]) -> None:
        self._inner = DefaultResolver()
        self._allowed = allowed
        self.refused = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        kept = [r for r in results if self._allowed(r["host"])]
        if not kept:
            self.refused = True
            raise OSError(f"every address of {host} is refused for URL previews")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # not an image Pillow can read: preview without dimensions
        return None


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


class UrlPreviewService:
    def __init__(self, config: MediaConfig, media: MediaService) -> None:
        self.media = media
        self.enabled = config.url_preview_enabled
        denylist = config.url_preview_ip_range_denylist
        self._denied = [ipaddress.ip_network(n, strict=False) for n in (
            DEFAULT_DENYLIST if denylist is None else denylist
        )]
        self._allowed = [ipaddress.ip_network(n, strict=False) for n in config.url_preview_ip_range_allowlist]
        # url -> (monotonic expiry, preview)
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def address_allowed(self, address: str) -> bool:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if any(ip in net for net in self._allowed):
            return True
        return not any(ip in net for net in self._denied)

    async def preview(self, user_id: str, url: str) -> dict[str, Any]:
        if not self.enabled:
            raise MatrixError("M_UNRECOGNIZED", 404, "URL previews are not enabled on this server")
        self._check_url(url)
        now = time.monotonic()
        cached = self._cache.get(url)
        if cached is not None and cached[0] > now:
            return dict(cached[1])
        final_url, content_type, body = await self._fetch(url, MAX_PAGE_BYTES)
        media_type, charset = _split_content_type(content_type)
        og: dict[str, Any]
        if media_type.startswith("image/"):
            og = await self._image_properties(user_id, body, media_type)
        elif media_type in ("text/html", "application/xhtml+xml"):
            og = dict(parse_open_graph(_decode(body, charset), final_url))
            image_url = og.pop("og:image", None)
            if isinstance(image_url, str):
                og.update(await self._page_image(user_id, image_url))
        else:
            og = {}
        if len(self._cache) >= MAX_CACHED:
            self._cache.pop(next(iter(self._cache)))
        self._cache[url] = (now + CACHE_TTL_S, og)
        return dict(og)

    # --- fetching ------------------------------------------------------------------------
    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise invalid_param("url must be an http or https URL")
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return  # a name: checked address by address when it is resolved
        if not self.address_allowed(str(literal)):
            raise MatrixError("M_FORBIDDEN", 403, "This address may not be previewed")

    async def _fetch(self, url: str, limit: int) -> tuple[str, str, bytes]:
        """(final URL after redirects, Content-Type, body) of a 200 answer."""
        resolver = _FilteringResolver(self.address_allowed)
        connector = aiohttp.TCPConnector(resolver=resolver, limit=4)
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
        headers = {"User-Agent": "Parley URL preview", "Accept-Language": "en"}
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            for _ in range(MAX_REDIRECTS + 1):
                self._check_url(url)
                try:
                    async with session.get(url, allow_redirects=False, headers=headers) as resp:
                        location = resp.headers.get("Location")
                        if resp.status in REDIRECT_STATUSES and location:
                            url = urljoin(url, location)
                            continue
                        if resp.status != 200:
                            raise MatrixError("M_UNKNOWN", 502, f"The page answered HTTP {resp.status}")
                        if resp.content_length is not None and resp.content_length > limit:
                            raise MatrixError("M_TOO_LARGE", 502, "The page is too large to preview")
                        body = bytearray()
                        async for chunk in resp.content.iter_chunked(64 * 1024):
                            body += chunk
                            if len(body) > limit:
                                raise MatrixError("M_TOO_LARGE", 502, "The page is too large to preview")
                        return url, resp.headers.get("Content-Type", ""), bytes(body)
                except (TimeoutError, aiohttp.ClientError) as e:
                    if resolver.refused:
                        raise MatrixError("M_FORBIDDEN", 403, "This address may not be previewed") from None
                    logger.info("URL preview of %s failed: %s", url, e)
                    raise MatrixError("M_UNKNOWN", 502, "Could not fetch the page") from None
        raise MatrixError("M_UNKNOWN", 502, "Too many redirects")

    # --- images --------------------------------------------------------------------------
    async def _page_image(self, user_id: str, image_url: str) -> dict[str, Any]:
        try:
            _, content_type, body = await self._fetch(image_url, self.media.max_upload_bytes)
        except MatrixError as e:
            logger.info("og:image %s of a preview not fetched: %s", image_url, e.message)
            return {}
        media_type, _ = _split_content_type(content_type)
        if not media_type.startswith("image/"):
            return {}
        return await self._image_properties(user_id, body, media_type)

    async def _image_properties(self, user_id: str, body: bytes, media_type: str) -> dict[str, Any]:
        try:
            mxc = await self.media.upload(user_id, _one_chunk(body), media_type, None, len(body))
        except MatrixError as e:  # e.g. the user's quota: preview without the image
            logger.info("preview image for %s not stored: %s", user_id, e.message)
            return {}
        out: dict[str, Any] = {"og:image": mxc, "og:image:type": media_type, "matrix:image:size": len(body)}
        size = await asyncio.to_thread(_image_size, body)
        if size is not None:
            out["og:image:width"], out["og:image:height"] = size
        return out


def _split_content_type(value: str) -> tuple[str, str | None]:
    media_type, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.strip().partition("=")
        if key.lower() == "charset" and val:
            charset = val.strip('"').strip()
    return media_type.strip().lower(), charset


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        return body.decode("utf-8", errors="replace")
