"""Resolving server names to where we connect (spec: server-server-api.md,
"Resolving server names").

Implemented: IP literals (IPv6 in brackets) and explicit ports (steps 1–2),
``/.well-known/matrix/server`` delegation with caching (step 3; 24 h default,
at most 48 h, errors cached with exponential back-off up to 1 h), and the
final fallback to port 8448 (steps 3.5 and 6). SRV lookups (steps 3.3, 3.4,
4, 5) are skipped: Python has no DNS SRV resolver in the standard library
and this project takes no extra dependency for it, so a server that is only
reachable through an SRV record cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import orjson

from federation.rooms.server_names import (
    parse_server_name,
)

logger = logging.getLogger(__name__)

DEFAULT_FEDERATION_PORT = 8448
WELL_KNOWN_DEFAULT_CACHE_S = 24 * 3600
WELL_KNOWN_MAX_CACHE_S = 48 * 3600
WELL_KNOWN_ERROR_MIN_CACHE_S = 120
WELL_KNOWN_ERROR_MAX_CACHE_S = 3600
WELL_KNOWN_TIMEOUT_S = 10.0
WELL_KNOWN_MAX_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ResolvedServer:
    """Where to connect for a server name, and how to present the request.

    ``connect_host`` is also the name the TLS certificate must be valid for
    (an IP literal: IP SAN and no SNI).
    """

    server_name: str
    connect_host: str
    port: int
    host_header: str

    @property
    def url_host(self) -> str:
        return f"[{self.connect_host}]" if ":" in self.connect_host else self.connect_host


# --- .well-known/matrix/server ----------------------------------------------


@dataclass(frozen=True, slots=True)
class WellKnownResult:
    """``m.server`` of a valid answer (None when the lookup failed) and its cache time."""

    delegated_server: str | None
    cache_seconds: float


WellKnownFetcher = Callable[[str], Awaitable[WellKnownResult]]

_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def cache_seconds_from_headers(cache_control: str | None) -> float:
    """Cache time of a successful answer: Cache-Control max-age, else 24 h; at most 48 h."""
    if cache_control:
        directives = cache_control.lower()
        if "no-store" in directives or "no-cache" in directives:
            return 0.0
        match = _MAX_AGE.search(cache_control)
        if match:
            return float(min(int(match.group(1)), WELL_KNOWN_MAX_CACHE_S))
    return float(WELL_KNOWN_DEFAULT_CACHE_S)


def parse_well_known_body(raw: bytes) -> str:
    """The ``m.server`` value of a well-known body, or raise ValueError."""
    body = orjson.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("well-known body is not a JSON object")
    delegated = body.get("m.server")
    if not isinstance(delegated, str):
        raise ValueError("well-known body has no m.server string")
    parse_server_name(delegated)  # raises ServerNameError (a ValueError)
    return delegated


class HttpWellKnownFetcher:
    """Fetches ``https://<hostname>/.well-known/matrix/server``, following redirects."""

    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        url_for: Callable[[str], str] | None = None,
    ) -> None:
        self._session = session
        self._url_for = url_for or (lambda hostname: f"https://{hostname}/.well-known/matrix/server")

    async def __call__(self, hostname: str) -> WellKnownResult:
        url = self._url_for(hostname)
        try:
            async with self._session().get(
                url,
                allow_redirects=True,
                max_redirects=10,  # redirect loops end here
                timeout=aiohttp.ClientTimeout(total=WELL_KNOWN_TIMEOUT_S),
            ) as resp:
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                raw = await resp.content.read(WELL_KNOWN_MAX_BYTES + 1)
                if len(raw) > WELL_KNOWN_MAX_BYTES:
                    raise ValueError("well-known body too large")
                delegated = parse_well_known_body(raw)
                return WellKnownResult(delegated, cache_seconds_from_headers(resp.headers.get("Cache-Control")))
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            logger.info("no usable .well-known/matrix/server for %s: %s", hostname, e)
            return WellKnownResult(None, 0.0)


@dataclass(slots=True)
class _CachedWellKnown:
    delegated_server: str | None
    expires_at: float
    consecutive_failures: int


class ServerResolver:
    """Resolves server names to connection targets, caching well-known answers."""

    def __init__(
        self,
        fetch_well_known: WellKnownFetcher,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch_well_known = fetch_well_known
        self._now = monotonic
        self._cache: dict[str, _CachedWellKnown] = {}
        self._in_flight: dict[str, asyncio.Task[str | None]] = {}

    async def resolve(self, server_name: str) -> ResolvedServer:
        address = parse_server_name(server_name)
        # Steps 1 and 2: IP literal, or hostname with an explicit port.
        if address.is_ip_literal or address.port is not None:
            return ResolvedServer(
                server_name, address.host, address.port or DEFAULT_FEDERATION_PORT, server_name
            )
        # Step 3: delegation through .well-known.
        delegated = await self._well_known(address.host)
        if delegated is not None:
            target = parse_server_name(delegated)
            if target.is_ip_literal:  # 3.1
                return ResolvedServer(
                    server_name, target.host, target.port or DEFAULT_FEDERATION_PORT, delegated
                )
            if target.port is not None:  # 3.2
                return ResolvedServer(server_name, target.host, target.port, delegated)
            # 3.3/3.4 (SRV) skipped; 3.5: the delegated hostname on 8448.
            return ResolvedServer(server_name, target.host, DEFAULT_FEDERATION_PORT, target.host)
        # Steps 4/5 (SRV) skipped; step 6: the hostname on 8448.
        return ResolvedServer(server_name, address.host, DEFAULT_FEDERATION_PORT, address.host)

    async def _well_known(self, hostname: str) -> str | None:
        cached = self._cache.get(hostname)
        if cached is not None and cached.expires_at > self._now():
            return cached.delegated_server
        # One fetch per hostname at a time; concurrent callers share it.
        task = self._in_flight.get(hostname)
        if task is None:
            task = asyncio.create_task(self._fetch_and_remember(hostname), name=f"well-known:{hostname}")
            self._in_flight[hostname] = task
            task.add_done_callback(lambda _t: self._in_flight.pop(hostname, None))
        return await asyncio.shield(task)

    async def _fetch_and_remember(self, hostname: str) -> str | None:
        previous = self._cache.get(hostname)
        result = await self._fetch_well_known(hostname)
        self._remember(hostname, result, previous)
        return result.delegated_server

    def _remember(
        self, hostname: str, result: WellKnownResult, previous: _CachedWellKnown | None
    ) -> None:
        if result.delegated_server is not None:
            self._cache[hostname] = _CachedWellKnown(
                result.delegated_server, self._now() + result.cache_seconds, 0
            )
            return
        # Errors: cached with exponential back-off, at most an hour.
        failures = (previous.consecutive_failures + 1) if previous and previous.delegated_server is None else 1
        seconds = min(WELL_KNOWN_ERROR_MIN_CACHE_S * 2 ** (failures - 1), WELL_KNOWN_ERROR_MAX_CACHE_S)
        self._cache[hostname] = _CachedWellKnown(None, self._now() + seconds, failures)

    async def stop(self) -> None:
        """Cancel well-known lookups still in flight (shutdown)."""
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def forget(self, hostname: str) -> None:
        self._cache.pop(hostname, None)
