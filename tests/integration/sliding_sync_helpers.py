"""Helpers for Simplified Sliding Sync (MSC4186) tests over real HTTP."""

from __future__ import annotations

from typing import Any

from tests.http_client import MatrixHttp

SLIDING_SYNC = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"


async def sliding_sync(
    client: MatrixHttp,
    body: dict[str, Any],
    pos: str | None = None,
    timeout: int | None = None,
    expect: int = 200,
) -> Any:
    params: dict[str, str] = {}
    if pos is not None:
        params["pos"] = pos
    if timeout is not None:
        params["timeout"] = str(timeout)
    return await client.request("POST", SLIDING_SYNC, body, params=params, expect=expect)


def all_rooms(ranges: list[list[int]] | None = None, timeline_limit: int = 10,
              required_state: list[list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    """A request body with one list, "all"."""
    spec: dict[str, Any] = {
        "ranges": ranges if ranges is not None else [[0, 19]],
        "timeline_limit": timeline_limit,
        "required_state": required_state if required_state is not None else [],
    }
    return {"lists": {"all": spec}, **extra}


def list_room_ids(response: dict[str, Any], name: str = "all") -> list[str]:
    return [r for op in response["lists"][name].get("ops", []) for r in op["room_ids"]]


def bodies(room: dict[str, Any]) -> list[str]:
    return [e["content"].get("body") for e in room.get("timeline", []) if e["type"] == "m.room.message"]


async def sliding_sync_until(
    client: MatrixHttp,
    body: dict[str, Any],
    pos: str,
    found: Any,
    *,
    within: float = 10.0,
) -> dict[str, Any]:
    """Long-poll from ``pos`` until ``found(response)``; returns that response."""
    import asyncio

    async def loop() -> dict[str, Any]:
        current = pos
        while True:
            response = await sliding_sync(client, body, pos=current, timeout=5000)
            if found(response):
                return response
            current = response["pos"]

    return await asyncio.wait_for(loop(), within)
