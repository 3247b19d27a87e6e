"""Waiting on /sync for something to show up: long-polls, never sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.http_client import MatrixHttp

Response = dict[str, Any]


async def sync_until(
    client: MatrixHttp,
    since: str | None,
    found: Callable[[Response], bool],
    *,
    within: float = 10.0,
    **params: Any,
) -> tuple[Response, str]:
    """Long-poll /sync from ``since`` until ``found(response)``; returns it and its next_batch."""

    async def loop() -> tuple[Response, str]:
        token = since
        while True:
            response = await client.sync(since=token, timeout=5000 if token else 0, **params)
            if found(response):
                return response, response["next_batch"]
            token = response["next_batch"]

    return await asyncio.wait_for(loop(), within)


def joined_room(response: Response, room_id: str) -> Response:
    return response.get("rooms", {}).get("join", {}).get(room_id, {})


def ephemeral_of(response: Response, room_id: str, event_type: str) -> list[Response]:
    events = joined_room(response, room_id).get("ephemeral", {}).get("events", [])
    return [e for e in events if e["type"] == event_type]


def timeline_of(response: Response, room_id: str) -> list[Response]:
    return joined_room(response, room_id).get("timeline", {}).get("events", [])
