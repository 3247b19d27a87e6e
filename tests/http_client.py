"""A thin raw-HTTP Matrix client for black-box tests (no SDK logic on purpose)."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

from aiohttp import ClientSession

_txn = itertools.count()


class MatrixError(AssertionError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body
        self.errcode = body.get("errcode") if isinstance(body, dict) else None


def q(part: str) -> str:
    return quote(part, safe="")


class MatrixHttp:
    def __init__(self, session: ClientSession, base_url: str, access_token: str | None = None) -> None:
        self.session = session
        self.base_url = base_url
        self.access_token = access_token
        self.user_id: str | None = None
        self.device_id: str | None = None

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        raw: bytes | None = None,
        expect: int | None = 200,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send a request; return the JSON body. Raise MatrixError if status != expect."""
        hdrs = dict(headers or {})
        if self.access_token:
            hdrs["Authorization"] = f"Bearer {self.access_token}"
        url = path if path.startswith("http") else self.base_url + path
        kwargs: dict[str, Any] = {"headers": hdrs, "params": params}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.session.request(method, url, **kwargs) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = await resp.text()
            if expect is not None and resp.status != expect:
                raise MatrixError(resp.status, data)
            return data

    async def status_of(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            return 200, await self.request(method, path, expect=200, **kwargs)
        except MatrixError as e:
            return e.status, e.body

    # --- accounts ---------------------------------------------------------------
    async def register(self, username: str, password: str = "correct horse", **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"username": username, "password": password, **extra}
        status, first = await self.status_of("POST", "/_matrix/client/v3/register", body=body)
        if status == 200:
            result = first
        else:
            if status != 401:
                raise MatrixError(status, first)
            body["auth"] = {"type": "m.login.dummy", "session": first["session"]}
            result = await self.request("POST", "/_matrix/client/v3/register", body)
        self.access_token = result["access_token"]
        self.user_id = result["user_id"]
        self.device_id = result["device_id"]
        return result

    async def login(self, user: str, password: str = "correct horse", **extra: Any) -> dict[str, Any]:
        result = await self.request(
            "POST",
            "/_matrix/client/v3/login",
            {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
             "password": password, **extra},
        )
        self.access_token = result["access_token"]
        self.user_id = result["user_id"]
        self.device_id = result["device_id"]
        return result

    # --- rooms ------------------------------------------------------------------
    async def create_room(self, **body: Any) -> str:
        result = await self.request("POST", "/_matrix/client/v3/createRoom", body)
        return result["room_id"]

    async def join(self, room: str) -> str:
        result = await self.request("POST", f"/_matrix/client/v3/join/{q(room)}", {})
        return result["room_id"]

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.request("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/invite", {"user_id": user_id})

    async def leave(self, room_id: str) -> None:
        await self.request("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/leave", {})

    async def send(self, room_id: str, body: str | dict[str, Any], event_type: str = "m.room.message",
                   txn_id: str | None = None) -> str:
        content = {"msgtype": "m.text", "body": body} if isinstance(body, str) else body
        txn = txn_id or f"t{next(_txn)}"
        result = await self.request(
            "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/send/{q(event_type)}/{q(txn)}", content
        )
        return result["event_id"]

    async def send_state(self, room_id: str, event_type: str, content: dict[str, Any],
                         state_key: str = "", expect: int | None = 200) -> Any:
        return await self.request(
            "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}",
            content, expect=expect,
        )

    async def get_state(self, room_id: str, event_type: str, state_key: str = "") -> Any:
        return await self.request(
            "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}"
        )

    async def sync(self, since: str | None = None, timeout: int = 0, **params: Any) -> dict[str, Any]:
        p: dict[str, Any] = {"timeout": str(timeout), **params}
        if since:
            p["since"] = since
        return await self.request("GET", "/_matrix/client/v3/sync", params=p)

    async def messages(self, room_id: str, **params: Any) -> dict[str, Any]:
        return await self.request(
            "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/messages",
            params={k: str(v) for k, v in params.items()},
        )
