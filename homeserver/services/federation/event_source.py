"""Fetching events from other servers: the outbound half of the history endpoints.

``RemoteEventSource`` is what ``FederatedEventHandler`` needs from the network;
``FederationEventSource`` implements it over the ``FederationClient`` (FA's signed
HTTP client). Tests substitute an in-memory source serving a hand-built graph.
spec: server-server-api.md, "Retrieving events", "Backfilling and retrieving
missing events".
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

from federation.transport.client import FederationClient

FETCH_TIMEOUT_SECONDS = 30.0


class RemoteEventSource(Protocol):
    async def get_event(self, destination: str, event_id: str) -> dict[str, Any]: ...

    async def get_event_auth(self, destination: str, room_id: str, event_id: str) -> list[Any]: ...

    async def get_state_ids(
        self, destination: str, room_id: str, event_id: str
    ) -> tuple[list[str], list[str]]: ...

    async def get_missing_events(
        self,
        destination: str,
        room_id: str,
        earliest_events: list[str],
        latest_events: list[str],
        limit: int,
        min_depth: int,
    ) -> list[Any]: ...

    async def backfill(
        self, destination: str, room_id: str, event_ids: list[str], limit: int
    ) -> list[Any]: ...


class RemoteAnswerError(ValueError):
    """A remote server answered with a body of the wrong shape."""


def _seg(value: str) -> str:
    return quote(value, safe="")


def _list_of(body: Any, key: str) -> list[Any]:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, list):
        raise RemoteAnswerError(f"answer has no list {key!r}")
    return value


def _str_list(body: Any, key: str) -> list[str]:
    values = _list_of(body, key)
    if not all(isinstance(v, str) for v in values):
        raise RemoteAnswerError(f"{key!r} must list strings")
    return values


class FederationEventSource:
    """``RemoteEventSource`` over the signed federation client."""

    def __init__(self, client: FederationClient) -> None:
        self._client = client

    async def get_event(self, destination: str, event_id: str) -> dict[str, Any]:
        body = await self._client.get_json(
            destination, f"/_matrix/federation/v1/event/{_seg(event_id)}", timeout=FETCH_TIMEOUT_SECONDS
        )
        pdus = _list_of(body, "pdus")
        if len(pdus) != 1 or not isinstance(pdus[0], dict):
            raise RemoteAnswerError("GET /event must answer exactly one PDU")
        return pdus[0]

    async def get_event_auth(self, destination: str, room_id: str, event_id: str) -> list[Any]:
        body = await self._client.get_json(
            destination,
            f"/_matrix/federation/v1/event_auth/{_seg(room_id)}/{_seg(event_id)}",
            timeout=FETCH_TIMEOUT_SECONDS,
        )
        return _list_of(body, "auth_chain")

    async def get_state_ids(
        self, destination: str, room_id: str, event_id: str
    ) -> tuple[list[str], list[str]]:
        body = await self._client.get_json(
            destination,
            f"/_matrix/federation/v1/state_ids/{_seg(room_id)}",
            {"event_id": event_id},
            timeout=FETCH_TIMEOUT_SECONDS,
        )
        return _str_list(body, "pdu_ids"), _str_list(body, "auth_chain_ids")

    async def get_missing_events(
        self,
        destination: str,
        room_id: str,
        earliest_events: list[str],
        latest_events: list[str],
        limit: int,
        min_depth: int,
    ) -> list[Any]:
        body = await self._client.post_json(
            destination,
            f"/_matrix/federation/v1/get_missing_events/{_seg(room_id)}",
            {
                "earliest_events": earliest_events,
                "latest_events": latest_events,
                "limit": limit,
                "min_depth": min_depth,
            },
            timeout=FETCH_TIMEOUT_SECONDS,
        )
        return _list_of(body, "events")

    async def backfill(
        self, destination: str, room_id: str, event_ids: list[str], limit: int
    ) -> list[Any]:
        query: dict[str, list[str] | int] = {"v": event_ids, "limit": limit}
        body = await self._client.get_json(
            destination,
            f"/_matrix/federation/v1/backfill/{_seg(room_id)}",
            query,
            timeout=FETCH_TIMEOUT_SECONDS,
        )
        return _list_of(body, "pdus")
