"""HTTP requests from the homeserver to application services.

spec: application-service-api.md. Every request carries the service's ``hs_token``
as ``Authorization: Bearer`` and has a timeout; path parameters are percent-encoded.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from homeserver.core.appservice import AppService
from homeserver.errors import MatrixError

logger = logging.getLogger(__name__)

APP_PREFIX = "/_matrix/app/v1"


class AppServiceUnavailable(Exception):
    """The service could not be reached, timed out or did not answer 2xx."""


class AppServiceClient:
    def __init__(self, timeout_seconds: float) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:  # used before start (e.g. in a unit test)
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    @staticmethod
    def _url(service: AppService, path: str) -> URL:
        assert service.url is not None
        return URL(service.url + APP_PREFIX + path, encoded=True)

    @staticmethod
    def _headers(service: AppService) -> dict[str, str]:
        return {"Authorization": f"Bearer {service.hs_token}", "Content-Type": "application/json"}

    async def _request(
        self, method: str, service: AppService, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """(status, JSON body or None); AppServiceUnavailable when the service cannot be reached."""
        if service.url is None:
            raise AppServiceUnavailable(f"{service.id} has no url")
        data = orjson.dumps(body) if body is not None else None
        try:
            async with self._http().request(
                method, self._url(service, path), data=data, headers=self._headers(service)
            ) as resp:
                raw = await resp.read()
                try:
                    parsed = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    parsed = None
                return resp.status, parsed
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise AppServiceUnavailable(f"{service.id}: {type(e).__name__}: {e}") from e

    # --- transactions ----------------------------------------------------------
    async def push(self, service: AppService, txn_id: str, body: dict[str, Any]) -> None:
        """PUT /transactions/{txnId}; returns once the service answered 200."""
        status, _ = await self._request("PUT", service, f"/transactions/{quote(txn_id, safe='')}", body)
        if status != 200:
            raise AppServiceUnavailable(f"{service.id} answered transaction {txn_id} with {status}")

    # --- queries ---------------------------------------------------------------
    async def query_user(self, service: AppService, user_id: str) -> bool:
        """GET /users/{userId}: whether the service says the user exists (it creates it first)."""
        return await self._query(service, f"/users/{quote(user_id, safe='')}")

    async def query_alias(self, service: AppService, alias: str) -> bool:
        """GET /rooms/{roomAlias}: whether the service says the alias exists (it creates it first)."""
        return await self._query(service, f"/rooms/{quote(alias, safe='')}")

    async def _query(self, service: AppService, path: str) -> bool:
        try:
            status, _ = await self._request("GET", service, path)
        except AppServiceUnavailable as e:
            logger.warning("application service query failed: %s", e)
            return False
        return status == 200

    async def thirdparty_protocol(self, service: AppService, protocol: str) -> dict[str, Any] | None:
        try:
            status, body = await self._request("GET", service, f"/thirdparty/protocol/{quote(protocol, safe='')}")
        except AppServiceUnavailable as e:
            logger.warning("application service protocol query failed: %s", e)
            return None
        return body if status == 200 and isinstance(body, dict) else None

    # --- ping ------------------------------------------------------------------
    async def ping(self, service: AppService, transaction_id: str | None) -> int:
        """POST /ping; the round trip in ms, or the spec's errors for the client.

        spec: client-server-api, "POST /_matrix/client/v1/appservice/{appserviceId}/ping".
        """
        if service.url is None:
            raise MatrixError("M_URL_NOT_SET", 400, "The application service has no URL")
        body = {} if transaction_id is None else {"transaction_id": transaction_id}
        start = time.monotonic()
        try:
            async with self._http().post(
                self._url(service, "/ping"), data=orjson.dumps(body), headers=self._headers(service)
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError:
            raise MatrixError("M_CONNECTION_TIMEOUT", 504, "Timed out waiting for the application service") from None
        except (aiohttp.ClientError, OSError) as e:
            raise MatrixError("M_CONNECTION_FAILED", 502, f"Could not reach the application service: {e}") from None
        if not 200 <= status < 300:
            error = MatrixError("M_BAD_STATUS", 502, "The application service answered with an error",
                                body=raw.decode("utf-8", "replace"))
            error.extra["status"] = status  # the service's status, beside the body (spec)
            raise error
        # Rounded up: a loopback round trip is not "0 ms" (mautrix reads a 0 as no answer).
        return math.ceil((time.monotonic() - start) * 1000)
