"""The one signed HTTP client for all outbound Server-Server requests.

Every request is signed with X-Matrix over the exact method, URI and body
bytes that go on the wire (spec: server-server-api.md, "Request
Authentication"; SYNAPSE.md §5: the URL is passed to aiohttp pre-encoded so
yarl cannot re-encode it after signing). Destinations are resolved with
``ServerResolver``; HTTPS is used unless ``federation.allow_plain_http`` is on
*and* the target resolves to loopback addresses only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from yarl import URL

from federation.crypto.signing import SigningKey
from federation.rooms.server_names import ServerNameError, is_ip_literal
from federation.transport.discovery import HttpWellKnownFetcher, ResolvedServer, ServerResolver
from federation.transport.errors import (
    FederationBadResponse,
    FederationHttpError,
    FederationResponseTooLarge,
    FederationUnreachable,
)
from federation.transport.tls import client_ssl_context
from federation.transport.x_matrix import sign_request

logger = logging.getLogger(__name__)

QueryValue = str | int | bool | Sequence[str | int]
Query = Mapping[str, QueryValue]

DEFAULT_MAX_JSON_BYTES = 64 * 1024 * 1024
USER_AGENT = "Parley"


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """How the client connects (the homeserver builds it from its federation config)."""

    # Plain HTTP, and only to destinations resolving to loopback addresses (development).
    allow_plain_http: bool = False
    # CA bundle for TLS; replaces the system trust store when set.
    ca_bundle: str | None = None
    tls_min_version: Literal["1.2", "1.3"] = "1.2"


def encode_query(query: Query | None) -> str:
    """``?a=1&b=x%3Ay`` (or ``""``); lists repeat the name (``ver=10&ver=11``)."""
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((name, text))
    return "?" + urlencode(pairs, quote_via=quote, safe="")


def is_loopback_address(address: str) -> bool:
    return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback


class FederationClient:
    """``get_json`` / ``put_json`` / ``post_json`` / ``get_bytes`` to other servers.

    ``path`` is the full path (``/_matrix/federation/v1/...``) whose variable
    segments the caller already quoted with ``urllib.parse.quote(seg, safe="")``.
    Raises ``FederationHttpError`` for non-2xx answers and ``FederationUnreachable``
    when the server cannot be reached in time.
    """

    def __init__(
        self,
        server_name: str,
        signing_key: SigningKey,
        settings: TransportSettings,
        resolver: ServerResolver | None = None,
    ) -> None:
        self.server_name = server_name
        self.signing_key = signing_key
        self.settings = settings
        self._ssl = client_ssl_context(settings.ca_bundle, settings.tls_min_version)
        self._http: aiohttp.ClientSession | None = None
        self._closed = False
        self.resolver = resolver or ServerResolver(HttpWellKnownFetcher(self.session))

    def session(self) -> aiohttp.ClientSession:
        """The shared connection pool, created on first use inside the event loop."""
        if self._http is None or self._http.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=200, limit_per_host=8)
            self._http = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": USER_AGENT}, auto_decompress=True
            )
        return self._http

    async def close(self) -> None:
        """Stop: later requests fail as unreachable instead of opening a new pool."""
        self._closed = True
        await self.resolver.stop()
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self._http = None

    # --- public API -------------------------------------------------------------

    async def get_json(
        self, destination: str, path: str, query: Query | None = None, *, timeout: float = 30.0  # noqa: ASYNC109 (team interface)
    ) -> Any:
        body, _ = await self._request("GET", destination, path, query, None, timeout, DEFAULT_MAX_JSON_BYTES)
        return _parse_json(destination, body)

    async def put_json(
        self, destination: str, path: str, body: Any, query: Query | None = None, *, timeout: float = 60.0  # noqa: ASYNC109 (team interface)
    ) -> Any:
        raw, _ = await self._request("PUT", destination, path, query, body, timeout, DEFAULT_MAX_JSON_BYTES)
        return _parse_json(destination, raw)

    async def post_json(
        self, destination: str, path: str, body: Any, query: Query | None = None, *, timeout: float = 60.0  # noqa: ASYNC109 (team interface)
    ) -> Any:
        raw, _ = await self._request("POST", destination, path, query, body, timeout, DEFAULT_MAX_JSON_BYTES)
        return _parse_json(destination, raw)

    async def get_bytes(
        self,
        destination: str,
        path: str,
        query: Query | None = None,
        *,
        max_bytes: int,
        timeout: float = 60.0,  # noqa: ASYNC109 (team interface)
    ) -> tuple[bytes, str]:
        """The raw body and its Content-Type; more than ``max_bytes`` is an error."""
        return await self._request("GET", destination, path, query, None, timeout, max_bytes)

    # --- the request ----------------------------------------------------------------

    async def _request(
        self,
        method: str,
        destination: str,
        path: str,
        query: Query | None,
        body: Any,
        timeout: float,  # noqa: ASYNC109 (one deadline for resolve, connect and read)
        max_bytes: int,
    ) -> tuple[bytes, str]:
        if not path.startswith("/"):
            raise ValueError(f"federation path must start with '/': {path!r}")
        if self._closed:
            raise FederationUnreachable(destination, "this server is shutting down")
        uri = path + encode_query(query)
        try:
            async with asyncio.timeout(timeout):
                resolved = await self.resolver.resolve(destination)
                scheme, connect_host = await self._transport_for(resolved)
                authorization = sign_request(
                    self.signing_key, self.server_name, destination, method, uri, body
                )
                headers = {"Authorization": authorization, "Host": resolved.host_header}
                data: bytes | None = None
                if body is not None:
                    data = orjson.dumps(body)
                    headers["Content-Type"] = "application/json"
                url_host = f"[{connect_host}]" if ":" in connect_host else connect_host
                url = URL(f"{scheme}://{url_host}:{resolved.port}{uri}", encoded=True)
                async with self.session().request(
                    method, url, data=data, headers=headers, allow_redirects=False
                ) as resp:
                    raw = await _read_capped(resp, destination, max_bytes)
                    content_type = resp.headers.get("Content-Type", "application/octet-stream")
                    if not 200 <= resp.status < 300:
                        raise _http_error(resp.status, raw)
                    return raw, content_type
        except ServerNameError as e:
            raise FederationUnreachable(destination, str(e)) from None
        except TimeoutError:
            raise FederationUnreachable(destination, f"no answer within {timeout:g} s") from None
        except aiohttp.ClientError as e:
            raise FederationUnreachable(destination, f"{type(e).__name__}: {e}") from None
        except OSError as e:
            raise FederationUnreachable(destination, str(e)) from None

    async def _transport_for(self, resolved: ResolvedServer) -> tuple[str, str]:
        """(scheme, host to connect to): plain HTTP only to loopback when allowed."""
        if not self.settings.allow_plain_http:
            return "https", resolved.connect_host
        addresses = await _resolve_addresses(resolved.connect_host, resolved.port)
        if addresses and all(is_loopback_address(a) for a in addresses):
            # Connect to the address we checked, so the name cannot re-resolve elsewhere.
            return "http", addresses[0]
        # spec: server-server-api.md, "TLS": plain HTTP is refused off loopback.
        return "https", resolved.connect_host


async def _read_capped(resp: aiohttp.ClientResponse, destination: str, max_bytes: int) -> bytes:
    """The whole body, read to its end; more than ``max_bytes`` is refused.

    (``StreamReader.read(n)`` returns only what has arrived so far, so one call
    would cut a body sent in several pieces short.)
    """
    length = resp.content_length
    if length is not None and length > max_bytes:
        raise FederationResponseTooLarge(destination, max_bytes)
    chunks: list[bytes] = []
    received = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        received += len(chunk)
        if received > max_bytes:
            raise FederationResponseTooLarge(destination, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


async def _resolve_addresses(host: str, port: int) -> list[str]:
    if is_ip_literal(host):
        return [host]
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


def _parse_json(destination: str, raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FederationBadResponse(destination, "response is not JSON") from None


def _http_error(status: int, raw: bytes) -> FederationHttpError:
    errcode: str | None = None
    message = ""
    body: Any = None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        message = raw[:200].decode("utf-8", "replace")
    if isinstance(body, dict):
        errcode = body.get("errcode") if isinstance(body.get("errcode"), str) else None
        error = body.get("error")
        message = error if isinstance(error, str) else ""
    return FederationHttpError(status, errcode, message, body)
