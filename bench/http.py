"""HTTP transport for the load tool: JSON requests with timeouts and 429 back-off.

Everything goes through :class:`HomeserverClient.request_raw` so that every call
has a timeout, rate limiting is honoured the same way everywhere, and each
scenario can report how often the server pushed back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from yarl import URL

log = logging.getLogger("bench.http")

JsonDict = dict[str, Any]

# Bounds for honouring 429 responses; a load tool must never wait forever.
MAX_RATE_LIMIT_RETRIES = 30
MAX_RATE_LIMIT_WAIT_S = 30.0
DEFAULT_RATE_LIMIT_WAIT_S = 1.0


class HomeserverError(Exception):
    """A non-success response from the homeserver (or a transport failure)."""

    def __init__(self, method: str, path: str, status: int, errcode: str, error: str) -> None:
        super().__init__(f"{method} {path} -> {status} {errcode}: {error}")
        self.status = status
        self.errcode = errcode
        self.error = error


# What a load loop counts as a failed request and carries on after.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    HomeserverError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


def path_segment(value: str) -> str:
    """Percent-encode one path segment (room ids contain '!' and ':')."""
    return quote(value, safe="")


def retry_delay_s(headers: Mapping[str, str], body: JsonDict) -> float:
    """How long to wait after a 429, from Retry-After or the deprecated retry_after_ms.

    spec: client-server-api "Rate limiting" — Retry-After header preferred (v1.10+).
    """
    header = headers.get("Retry-After")
    if header is not None:
        try:
            return min(max(float(header), 0.0), MAX_RATE_LIMIT_WAIT_S)
        except ValueError:
            pass
    ms = body.get("retry_after_ms")
    if isinstance(ms, int | float):
        return min(max(ms / 1000.0, 0.0), MAX_RATE_LIMIT_WAIT_S)
    return DEFAULT_RATE_LIMIT_WAIT_S


def make_session(
    request_timeout_s: float = 60.0, trace_configs: list[aiohttp.TraceConfig] | None = None
) -> aiohttp.ClientSession:
    """One session per scenario; limit=0 so that thousands of long polls can be open."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=request_timeout_s, sock_connect=15)
    return aiohttp.ClientSession(connector=connector, timeout=timeout,
                                 trace_configs=trace_configs)


class HomeserverClient:
    """Raw JSON calls against one homeserver, sharing one aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        request_timeout_s: float = 30.0,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.request_timeout_s = request_timeout_s
        self.rate_limited = 0
        self.errors: Counter[str] = Counter()
        self.requests = 0

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> URL:
        query = ""
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            if clean:
                query = "?" + urlencode(clean)
        return URL(self.base_url + path + query, encoded=True)

    async def request_raw(
        self,
        method: str,
        path: str,
        *,
        access_token: str | None = None,
        body: JsonDict | None = None,
        params: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[int, JsonDict, int]:
        """Send one request, retrying (bounded) on 429. Returns (status, json, bytes)."""
        headers = {"Accept": "application/json"}
        if access_token is not None:
            headers["Authorization"] = f"Bearer {access_token}"
        data: bytes | None = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        url = self.url(path, params)
        timeout = aiohttp.ClientTimeout(
            total=timeout_s if timeout_s is not None else self.request_timeout_s, sock_connect=15
        )
        for _attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
            self.requests += 1
            async with self.session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as resp:
                raw = await resp.read()
                status = resp.status
                resp_headers = resp.headers
            parsed = _parse_json(raw)
            if status == 429:
                self.rate_limited += 1
                delay = retry_delay_s(resp_headers, parsed)
                log.debug("429 on %s %s, waiting %.2fs", method, path, delay)
                await asyncio.sleep(delay)
                continue
            return status, parsed, len(raw)
        return status, parsed, len(raw)

    async def request(
        self,
        method: str,
        path: str,
        *,
        access_token: str | None = None,
        body: JsonDict | None = None,
        params: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
        ok: Iterable[int] = (200,),
    ) -> JsonDict:
        """Like request_raw but raises HomeserverError unless the status is in ``ok``."""
        status, parsed, _size = await self.request_raw(
            method, path, access_token=access_token, body=body, params=params, timeout_s=timeout_s
        )
        if status not in tuple(ok):
            errcode = str(parsed.get("errcode", f"HTTP_{status}"))
            self.errors[errcode] += 1
            raise HomeserverError(method, path, status, errcode, str(parsed.get("error", "")))
        return parsed


def _parse_json(raw: bytes) -> JsonDict:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"error": raw[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"value": value}


class Stopwatch:
    """Monotonic elapsed-time measurement."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start
