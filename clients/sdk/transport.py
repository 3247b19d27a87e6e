"""The network edge: sends sans-I/O :class:`Request`s over aiohttp with a timeout on every call."""

from __future__ import annotations

import logging

import aiohttp
import orjson

from clients.sdk.api import Request
from clients.sdk.errors import NotLoggedInError, TransportError
from clients.sdk.responses import Response

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0


class HttpTransport:
    """Owns one aiohttp session; ``send`` returns the raw answer or raises TransportError."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.default_timeout = timeout
        self.access_token: str | None = None
        self._session: aiohttp.ClientSession | None = None

    async def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(json_serialize=lambda o: orjson.dumps(o).decode())
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def send(self, request: Request) -> Response:
        headers: dict[str, str] = {}
        if request.requires_auth:
            if self.access_token is None:
                raise NotLoggedInError(f"{request.method} {request.path} needs an access token")
            headers["Authorization"] = f"Bearer {self.access_token}"
        data: bytes | None = None
        if request.data is not None:
            data = request.data
            headers["Content-Type"] = request.content_type or "application/octet-stream"
        elif request.json is not None:
            data = orjson.dumps(request.json)
            headers["Content-Type"] = "application/json"
        timeout = aiohttp.ClientTimeout(total=request.timeout or self.default_timeout)
        session = await self._get_session()
        try:
            async with session.request(
                request.method,
                self.base_url + request.path,
                params=request.query or None,
                data=data,
                headers=headers,
                timeout=timeout,
            ) as resp:
                body = await resp.read()
                return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            log.debug("%s %s failed: %r", request.method, request.path, e)
            raise TransportError(f"{self.base_url}: {_reason(e)} ({request.method} {request.path})") from e


def _reason(error: BaseException) -> str:
    """One short line saying why a request got no answer."""
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect ({error.os_error.strerror or error.os_error})"
    return " ".join(str(error).split()) or type(error).__name__
