"""A real `parleyd` stopped with SIGTERM and started again keeps everything.

Accounts, access tokens, rooms, memberships, history order and sync tokens all
survive a restart on the same data directory (spec: sync tokens stay valid; a
client resumes with its old `since`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.http_client import MatrixHttp
from tests.parleyd_process import Parleyd

V3 = "/_matrix/client/v3"


@pytest.fixture
async def parleyd(tmp_path: Path) -> AsyncIterator[Parleyd]:
    server = Parleyd(tmp_path)
    await server.init()
    await server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.returncode is None:
            server.process.kill()
            await server.process.wait()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_everything_survives_a_restart(parleyd: Parleyd, session: aiohttp.ClientSession) -> None:
    alice = MatrixHttp(session, parleyd.base_url)
    await alice.register("alice", "alice's password")
    bob = MatrixHttp(session, parleyd.base_url)
    await bob.register("bob", "bob's password")
    room_id = await alice.create_room(preset="public_chat", name="Durable", room_alias_name="durable")
    await bob.join(room_id)
    invited_room = await alice.create_room(invite=[bob.user_id])
    sent = [await alice.send(room_id, f"before {i}") for i in range(20)]
    since = (await bob.sync())["next_batch"]
    old_token = alice.access_token

    assert await parleyd.stop() == 0, parleyd.log.read_text()[-2000:]
    await parleyd.start()

    # The old access token still works.
    assert (await alice.request("GET", f"{V3}/account/whoami"))["user_id"] == alice.user_id
    assert alice.access_token == old_token
    # Login works with the same password (and not with a wrong one).
    again = MatrixHttp(session, parleyd.base_url)
    await again.login("alice", "alice's password")
    status, _ = await MatrixHttp(session, parleyd.base_url).status_of(
        "POST", f"{V3}/login",
        body={"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
              "password": "wrong"},
    )
    assert status == 403
    # Rooms, memberships, state and aliases are intact.
    assert room_id in (await bob.request("GET", f"{V3}/joined_rooms"))["joined_rooms"]
    assert (await alice.get_state(room_id, "m.room.name"))["name"] == "Durable"
    joined = (await alice.request("GET", f"{V3}/rooms/{room_id}/joined_members"))["joined"]
    assert set(joined) == {alice.user_id, bob.user_id}
    alias = (await bob.request("GET", f"{V3}/directory/room/%23durable:localhost"))
    assert alias["room_id"] == room_id
    assert invited_room in (await bob.sync())["rooms"]["invite"]
    # History is all there, in order.
    chunk = (await bob.messages(room_id, dir="b", limit=100))["chunk"]
    history = [e["event_id"] for e in chunk if e["type"] == "m.room.message"]
    assert history == list(reversed(sent))
    # An incremental sync from the pre-restart token has only what was sent after it.
    after = [await alice.send(room_id, f"after {i}") for i in range(3)]
    timeline = (await bob.sync(since=since))["rooms"]["join"][room_id]["timeline"]
    assert [e["event_id"] for e in timeline["events"]] == after
    assert timeline["limited"] is False
    # And new events continue the same room graph: the room still accepts state changes.
    await alice.send_state(room_id, "m.room.topic", {"topic": "after restart"})
    assert (await bob.get_state(room_id, "m.room.topic"))["topic"] == "after restart"


async def test_long_poll_from_old_token_wakes_after_restart(parleyd: Parleyd, session: aiohttp.ClientSession) -> None:
    alice = MatrixHttp(session, parleyd.base_url)
    await alice.register("alice")
    room_id = await alice.create_room()
    await alice.send(room_id, "before")
    since = (await alice.sync())["next_batch"]
    await parleyd.stop()
    await parleyd.start()
    poll = asyncio.create_task(alice.sync(since=since, timeout=20_000))
    done, _ = await asyncio.wait({poll}, timeout=0.2)
    assert not done, "sync from an up-to-date token returned with nothing new"
    event_id = await alice.send(room_id, "after")
    sync = await asyncio.wait_for(poll, timeout=10)
    assert [e["event_id"] for e in sync["rooms"]["join"][room_id]["timeline"]["events"]] == [event_id]


async def test_transaction_ids_are_deduplicated_across_a_restart(parleyd: Parleyd, session: aiohttp.ClientSession) -> None:
    alice = MatrixHttp(session, parleyd.base_url)
    await alice.register("alice")
    room_id = await alice.create_room()
    first = await alice.send(room_id, "once", txn_id="retry-me")
    await parleyd.stop()
    await parleyd.start()
    assert await alice.send(room_id, "once", txn_id="retry-me") == first


async def test_redaction_survives_a_restart(parleyd: Parleyd, session: aiohttp.ClientSession) -> None:
    alice = MatrixHttp(session, parleyd.base_url)
    await alice.register("alice")
    room_id = await alice.create_room()
    message = await alice.send(room_id, "secret")
    await alice.request("PUT", f"{V3}/rooms/{room_id}/redact/{message}/r1", {})
    await parleyd.stop()
    await parleyd.start()
    event = await alice.request("GET", f"{V3}/rooms/{room_id}/event/{message}")
    assert event["content"] == {} and "redacted_because" in event["unsigned"]


async def test_sigterm_answers_parked_long_polls_instead_of_cutting_them(
    parleyd: Parleyd, session: aiohttp.ClientSession
) -> None:
    # A browser or SDK parks a /sync for up to 30 s. Shutting down answers it with what
    # there is (an empty incremental sync), so the client keeps its position and simply
    # reconnects; before, the handler was cancelled after the shutdown grace period and
    # the client saw the connection cut.
    alice = MatrixHttp(session, parleyd.base_url)
    await alice.register("alice", "alice's password")
    first = await alice.sync()
    parked = asyncio.ensure_future(alice.sync(since=first["next_batch"], timeout=30_000))
    await asyncio.sleep(0.5)  # parked on the server
    assert parleyd.process is not None
    parleyd.process.terminate()
    answer = await asyncio.wait_for(parked, 30)
    assert answer["next_batch"]
    assert await parleyd.process.wait() == 0
