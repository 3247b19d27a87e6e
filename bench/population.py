"""Building the users and rooms a scenario needs, with bounded concurrency."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from bench import api
from bench.api import Account
from bench.http import HomeserverClient, make_session

log = logging.getLogger("bench.population")

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """Where and how to drive the server (the common CLI options)."""

    base_url: str
    server_pid: int | None
    registration_token: str | None
    setup_concurrency: int


@asynccontextmanager
async def scenario_client(target: Target, request_timeout_s: float = 60.0
                          ) -> AsyncIterator[HomeserverClient]:
    """One aiohttp session (TCPConnector limit=0) for one scenario, always closed."""
    session = make_session(request_timeout_s)
    try:
        yield HomeserverClient(session, target.base_url, request_timeout_s)
    finally:
        await session.close()
        # Let the connector finish closing transports before the loop moves on.
        await asyncio.sleep(0.1)


async def bounded_gather(
    factories: Sequence[Callable[[], Awaitable[T]]], concurrency: int
) -> list[T]:
    """Run coroutine factories with at most ``concurrency`` in flight, in order."""
    semaphore = asyncio.Semaphore(max(concurrency, 1))

    async def run(factory: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await factory()

    return list(await asyncio.gather(*(run(f) for f in factories)))


async def register_users(
    client: HomeserverClient, target: Target, count: int, label: str
) -> list[Account]:
    """Register ``count`` fresh users with unique random names."""
    run_id = api.new_run_id()
    password = secrets.token_urlsafe(12)
    log.info("registering %d users (%s)", count, label)

    def factory(i: int) -> Callable[[], Awaitable[Account]]:
        name = api.random_username(f"{label}{run_id}", i)
        return lambda: api.register(client, name, password, target.registration_token)

    return await bounded_gather([factory(i) for i in range(count)], target.setup_concurrency)


async def join_all(
    client: HomeserverClient, target: Target, memberships: Sequence[tuple[Account, str]]
) -> None:
    """Join each (account, room) pair."""
    log.info("performing %d joins", len(memberships))
    await bounded_gather(
        [lambda a=a, r=r: api.join_room(client, a, r) for a, r in memberships],
        target.setup_concurrency,
    )


async def fill_room(
    client: HomeserverClient, account: Account, room_id: str, count: int, concurrency: int
) -> None:
    """Send ``count`` plain messages into a room, ``concurrency`` at a time."""
    await bounded_gather(
        [lambda i=i: api.send_message(client, account, room_id, api.bench_content(body=f"fill {i}"))
         for i in range(count)],
        concurrency,
    )
