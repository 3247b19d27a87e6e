"""A real `parleyd` stopped with SIGTERM and started again keeps everything.

Accounts, access tokens, rooms, memberships, history order and sync tokens all
survive a restart on the same data directory (spec: sync tokens stay valid; a
client resumes with its old `since`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.http_client import MatrixHttp

V3 = "/_matrix/client/v3"
WAIT_S = 30.0
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Parleyd:
    """`python -m homeserver.cli run` in a child process, restartable on the same data."""

    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "homeserver.yaml"
        self.data = tmp / "data"
        self.log = tmp / "parleyd.log"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None

    async def init(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "homeserver.cli", "init", "--server-name", "localhost",
            "--config", str(self.config), "--data-dir", str(self.data), "--port", str(self.port),
            cwd=REPO, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        config = yaml.safe_load(self.config.read_text())
        config["password_hashing"] = {"opslimit": 1, "memlimit_kib": 8}  # fast tests
        config["registration"].update({"rate_per_minute": 100000, "burst": 100000})
        self.config.write_text(yaml.safe_dump(config))

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeserver.cli", "run", "--config", str(self.config),
                cwd=REPO, stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        # Ready means /health answers; the process exiting first is a failure.
        async with aiohttp.ClientSession() as session, asyncio.timeout(WAIT_S):
            while True:
                assert self.process.returncode is None, self.log.read_text()
                try:
                    async with session.get(self.base_url + "/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)  # by PID: only the child we started
            try:
                await asyncio.wait_for(self.process.wait(), WAIT_S)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
                raise AssertionError("parleyd did not exit on SIGTERM") from None
        return self.process.returncode  # type: ignore[return-value]


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
