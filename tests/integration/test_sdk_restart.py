"""The SDK survives its homeserver going away: the sync loop backs off and resumes from its
token, and a send made while the server is down is delivered once after it returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clients.sdk import AsyncClient, JsonFileSyncStore
from clients.sdk.backoff import Backoff
from tests.parleyd_process import Parleyd as SubprocessHomeserver

WAIT = 20.0


@pytest.fixture
async def subprocess_homeserver(tmp_path: Path) -> AsyncIterator[SubprocessHomeserver]:
    server = SubprocessHomeserver(tmp_path)
    await server.init()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def fast_client(base_url: str, **kwargs: object) -> AsyncClient:
    return AsyncClient(base_url, backoff=Backoff(initial=0.05, maximum=0.5), **kwargs)  # type: ignore[arg-type]


@pytest.mark.slow
async def test_sync_loop_resumes_across_server_restart(
    subprocess_homeserver: SubprocessHomeserver, tmp_path: Path
) -> None:
    server = subprocess_homeserver
    store_path = tmp_path / "alice-sync.json"
    alice = fast_client(server.base_url, store=JsonFileSyncStore(store_path))
    bob = fast_client(server.base_url)
    await alice.register("alice", "pw")
    await bob.register("bob", "pw")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)

    bodies: list[str] = []
    alice.callbacks.on_message(lambda room, event: bodies.append(event["content"]["body"]))
    stop = asyncio.Event()
    loop = asyncio.create_task(alice.sync_forever(timeout_ms=2000, stop=stop))
    try:
        await bob.send_text(room_id, "before restart")
        await alice.wait_until(lambda: "before restart" in bodies, WAIT)

        await server.stop()
        # Sent while the server is down: the SDK keeps retrying with one transaction ID.
        pending = asyncio.create_task(bob.send_text(room_id, "during outage"))
        await asyncio.sleep(0.3)  # let the send and the sync loop fail a few times
        assert not pending.done()
        await server.start()

        await asyncio.wait_for(pending, WAIT)
        await bob.send_text(room_id, "after restart")
        await alice.wait_until(lambda: "after restart" in bodies, WAIT)
        assert bodies == ["before restart", "during outage", "after restart"]
    finally:
        stop.set()
        await asyncio.wait_for(loop, WAIT)
        await alice.close()

    # A new client process with the same store resumes from the token: only new messages.
    await bob.send_text(room_id, "while alice was away")
    resumed = fast_client(server.base_url, store=JsonFileSyncStore(store_path))
    resumed.restore_session(alice.user_id, alice.device_id, alice.access_token)  # type: ignore[arg-type]
    later: list[str] = []
    resumed.callbacks.on_message(lambda room, event: later.append(event["content"]["body"]))
    await resumed.sync_once()
    assert later == ["while alice was away"]
    await resumed.close()
    await bob.close()
