"""Python function calls per operation, in-process: a cost proxy that machine load does not move.

Usage, from a checkout's root: ``python bench/cost_per_operation.py``. It starts a homeserver
in this process on a temporary directory, makes two users and ten shared rooms of 30
messages, then profiles each operation (a send, an initial sync, an incremental sync with
nothing new, one page of ``/messages``, a send woken into a waiting sync) and prints the
calls per operation. Compare two commits by running it in a checkout of each (``git worktree
add``). The load tool's wall-clock figures are the ones to report; this tells a real change
in work done from a busy machine.
"""

from __future__ import annotations

import asyncio
import cProfile
import itertools
import pstats
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import RunningHomeserver, make_config, start_homeserver  # noqa: E402

ROOMS = 10
MESSAGES_PER_ROOM = 30
WARM_UP = 3


async def calls_per_operation(n: int, operation: Callable[[], Awaitable[Any]]) -> float:
    for _ in range(WARM_UP):
        await operation()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        await operation()
    profile.disable()
    return pstats.Stats(profile).total_calls / n  # type: ignore[attr-defined]


async def main() -> None:
    hs, server = await start_homeserver(make_config(Path(tempfile.mkdtemp()) / "hs"))
    async with ClientSession() as session:
        running = RunningHomeserver(hs, server, session)
        alice = await running.register("alice")
        bob = await running.register("bob")
        rooms = []
        for _ in range(ROOMS):
            room = await alice.create_room(preset="public_chat")
            await bob.join(room)
            rooms.append(room)
            for m in range(MESSAGES_PER_ROOM):
                await alice.send(room, f"m{m}")
        counter = itertools.count()
        token = (await bob.request("GET", "/_matrix/client/v3/sync"))["next_batch"]

        async def send_and_wake() -> None:
            nonlocal token
            await alice.send(rooms[2], "hi")
            answer = await bob.request("GET", "/_matrix/client/v3/sync", params={"since": token, "timeout": "5000"})
            token = answer["next_batch"]

        operations: list[tuple[str, int, Callable[[], Awaitable[Any]]]] = [
            ("send", 200, lambda: alice.send(rooms[0], f"x{next(counter)}")),
            ("initial sync", 50, lambda: bob.request("GET", "/_matrix/client/v3/sync")),
            ("incremental sync, nothing new", 200,
             lambda: bob.request("GET", "/_matrix/client/v3/sync", params={"since": token})),
            ("/messages, 30 events", 100, lambda: bob.request(
                "GET", f"/_matrix/client/v3/rooms/{rooms[1]}/messages", params={"dir": "b", "limit": "30"})),
            ("send woken into a waiting sync", 100, send_and_wake),
        ]
        for label, n, operation in operations:
            print(f"{label}: {await calls_per_operation(n, operation):,.0f} calls/op")
    await server.close()


if __name__ == "__main__":
    asyncio.run(main())
