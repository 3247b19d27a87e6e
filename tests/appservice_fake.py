"""A small application service on a loopback port, recording what the homeserver sends it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

AS_TOKEN = "as-token-bridge"
HS_TOKEN = "hs-token-bridge"
WAIT_S = 15.0


def registration(url: str | None, **extra: Any) -> dict[str, Any]:
    """A registration for the @_bridge_* users and #_bridge_* aliases (both exclusive)."""
    return {
        "id": "bridge",
        "url": url,
        "as_token": AS_TOKEN,
        "hs_token": HS_TOKEN,
        "sender_localpart": "bridgebot",
        "namespaces": {
            "users": [{"exclusive": True, "regex": "@_bridge_.*"}],
            "aliases": [{"exclusive": True, "regex": "#_bridge_.*"}],
            "rooms": [],
        },
        "rate_limited": False,
        "protocols": ["fakechat"],
        "receive_ephemeral": True,
        "org.matrix.msc3202": True,
        **extra,
    }


def write_registration(path: Path, url: str | None, **extra: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(registration(url, **extra)))
    return path


class FakeAppService:
    """Answers /_matrix/app/v1: transactions (recorded), user and alias queries, ping."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.transactions: list[tuple[str, dict[str, Any]]] = []
        self.attempts: list[str] = []  # every txnId received, failed ones included
        self.pings: list[dict[str, Any]] = []
        self.user_queries: list[str] = []
        self.alias_queries: list[str] = []
        self.failing = False  # answer transactions with 503
        self.homeserver_url: str | None = None  # for queries that create users and aliases
        self._changed = asyncio.Event()
        self._server: TestServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_put("/_matrix/app/v1/transactions/{txn_id}", self._transaction)
        app.router.add_get("/_matrix/app/v1/users/{user_id}", self._user)
        app.router.add_get("/_matrix/app/v1/rooms/{alias}", self._alias)
        app.router.add_post("/_matrix/app/v1/ping", self._ping)
        app.router.add_get("/_matrix/app/v1/thirdparty/protocol/{protocol}", self._protocol)
        self._server = TestServer(app, host="127.0.0.1", port=self.port or None)
        await self._server.start_server()
        self.port = self._server.port  # type: ignore[assignment]

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    def _authorised(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {HS_TOKEN}":
            raise web.HTTPForbidden(text='{"errcode": "M_FORBIDDEN"}', content_type="application/json")

    async def _transaction(self, request: web.Request) -> web.Response:
        self._authorised(request)
        self.attempts.append(request.match_info["txn_id"])
        self._changed.set()
        if self.failing:
            return web.json_response({"errcode": "M_UNKNOWN"}, status=503)
        self.transactions.append((request.match_info["txn_id"], await request.json()))
        self._changed.set()
        return web.json_response({})

    async def _user(self, request: web.Request) -> web.Response:
        self._authorised(request)
        user_id = request.match_info["user_id"]
        self.user_queries.append(user_id)
        if not user_id.startswith("@_bridge_known") or self.homeserver_url is None:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        async with ClientSession() as http, http.post(
            f"{self.homeserver_url}/_matrix/client/v3/register",
            json={"type": "m.login.application_service", "username": user_id[1:].split(":")[0]},
            headers={"Authorization": f"Bearer {AS_TOKEN}"},
        ) as resp:
            assert resp.status == 200, await resp.text()
        return web.json_response({})

    async def _alias(self, request: web.Request) -> web.Response:
        self._authorised(request)
        alias = request.match_info["alias"]
        self.alias_queries.append(alias)
        if not alias.startswith("#_bridge_known") or self.homeserver_url is None:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        async with ClientSession() as http, http.post(
            f"{self.homeserver_url}/_matrix/client/v3/createRoom",
            json={"room_alias_name": alias[1:].split(":")[0]},
            headers={"Authorization": f"Bearer {AS_TOKEN}"},
        ) as resp:
            assert resp.status == 200, await resp.text()
        return web.json_response({})

    async def _ping(self, request: web.Request) -> web.Response:
        self._authorised(request)
        self.pings.append(await request.json())
        return web.json_response({})

    async def _protocol(self, request: web.Request) -> web.Response:
        self._authorised(request)
        return web.json_response({
            "user_fields": ["nick"], "location_fields": ["channel"], "icon": "mxc://example.org/icon",
            "field_types": {}, "instances": [],
        })

    # --- waiting ----------------------------------------------------------------
    def events(self, predicate: Callable[[dict[str, Any]], bool] = lambda e: True, key: str = "events",
               ) -> list[dict[str, Any]]:
        return [e for _, body in self.transactions for e in body.get(key, []) if predicate(e)]

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], key: str = "events") -> dict[str, Any]:
        """The first item under ``key`` of any transaction matching ``predicate``."""
        async with asyncio.timeout(WAIT_S):
            while True:
                found = self.events(predicate, key)
                if found:
                    return found[0]
                self._changed.clear()
                await self._changed.wait()
