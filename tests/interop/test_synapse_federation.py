"""Parley and Synapse federating on loopback, both directions (issue 3).

Run alone with ``pytest -m synapse``. Synapse comes from PyPI in its own
virtualenv (see tests/interop/synapse_peer.py); without it these tests skip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.http_client import MatrixHttp, q
from tests.interop.conftest import TlsParley
from tests.interop.synapse_peer import SynapsePeer

pytestmark = [pytest.mark.synapse, pytest.mark.slow]

DEADLINE_S = 30.0


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, within: float = DEADLINE_S) -> Any:
    """Re-ask ``probe`` until it returns something truthy (federation is asynchronous)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await probe()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


def bodies_in(sync: dict[str, Any], room_id: str) -> list[str]:
    room = sync.get("rooms", {}).get("join", {}).get(room_id, {})
    return [e["content"].get("body") for e in room.get("timeline", {}).get("events", [])
            if e.get("type") == "m.room.message"]


class Syncer:
    """Follows one account's /sync and remembers every message body per room."""

    def __init__(self, api: MatrixHttp) -> None:
        self.api = api
        self.since: str | None = None
        self.seen: dict[str, list[str]] = {}
        self.invites: set[str] = set()

    async def poll(self) -> None:
        sync = await self.api.sync(self.since, timeout=500)
        self.since = sync["next_batch"]
        for room_id in sync.get("rooms", {}).get("join", {}):
            self.seen.setdefault(room_id, []).extend(bodies_in(sync, room_id))
        self.invites |= set(sync.get("rooms", {}).get("invite", {}))

    async def wait_for_body(self, room_id: str, body: str) -> None:
        async def probe() -> bool:
            await self.poll()
            return body in self.seen.get(room_id, [])
        await eventually(probe, f"{body!r} in {room_id}")

    async def wait_for_invite(self, room_id: str) -> None:
        async def probe() -> bool:
            await self.poll()
            return room_id in self.invites
        await eventually(probe, f"invite to {room_id}")


async def synapse_user(synapse: SynapsePeer, session: ClientSession, name: str) -> MatrixHttp:
    api = MatrixHttp(session, synapse.client_url)
    await api.register(name)
    return api


async def test_synapse_user_accepts_parley_invite_and_they_chat(
    parley: TlsParley, synapse: SynapsePeer, synapse_http: ClientSession
) -> None:
    alice = await parley.register("alice")
    bob = await synapse_user(synapse, synapse_http, "bob")
    room_id = await alice.create_room(preset="private_chat", name="Parley room")
    await alice.invite(room_id, bob.user_id)  # type: ignore[arg-type]
    bob_sync = Syncer(bob)
    await bob_sync.wait_for_invite(room_id)
    await bob.request("POST", f"/_matrix/client/v3/join/{q(room_id)}", {})
    alice_sync = Syncer(alice)

    async def bob_joined() -> bool:
        members = await alice.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/joined_members")
        return bob.user_id in members["joined"]
    await eventually(bob_joined, "bob's join on Parley")

    await alice.send(room_id, "hello from Parley")
    await bob_sync.wait_for_body(room_id, "hello from Parley")
    await bob.send(room_id, "hello from Synapse")
    await alice_sync.wait_for_body(room_id, "hello from Synapse")


async def test_parley_user_joins_synapse_room_and_pages_its_history(
    parley: TlsParley, synapse: SynapsePeer, synapse_http: ClientSession
) -> None:
    bob = await synapse_user(synapse, synapse_http, "bob")
    room_id = await bob.create_room(preset="public_chat", name="Synapse room")
    version = await bob.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.create/")
    assert version.get("room_version") == "12"
    sent = [f"history {i}" for i in range(60)]
    for body in sent:
        await bob.send(room_id, body)

    alice = await parley.register("alice")
    await alice.request(
        "POST", f"/_matrix/client/v3/join/{q(room_id)}", {}, params={"server_name": synapse.server_name}
    )

    async def full_history() -> list[str] | None:
        seen: list[str] = []
        token: str | None = None
        for _ in range(20):
            params: dict[str, Any] = {"dir": "b", "limit": 50}
            if token:
                params["from"] = token
            page = await alice.messages(room_id, **params)
            seen += [e["content"]["body"] for e in page["chunk"] if e["type"] == "m.room.message"]
            token = page.get("end")
            if not token:
                break
        return seen if list(reversed(seen)) == sent else None

    await eventually(full_history, "the whole history through backfill", within=60)
    await alice.send(room_id, "thanks for the history")
    bob_sync = Syncer(bob)
    await bob_sync.wait_for_body(room_id, "thanks for the history")
