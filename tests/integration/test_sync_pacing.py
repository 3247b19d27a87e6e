"""Incremental /sync responses are paced per device (services/sync_pacer.py): a device
answered a moment ago waits out the interval, and what arrives meanwhile rides along;
a device not answered lately, and every other device, is answered at once. Nothing is
lost or repeated on the way."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from homeserver.services.sync.pacer import SyncPacer
from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp

LONG_INTERVAL_S = 30.0  # longer than any wait below: pacing would show as a timeout


def bodies(response: dict[str, Any], room_id: str) -> list[str]:
    timeline = response.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {})
    return [e["content"]["body"] for e in timeline.get("events", []) if e["type"] == "m.room.message"]


@pytest.fixture
async def chat(homeserver: RunningHomeserver) -> tuple[MatrixHttp, MatrixHttp, str]:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    return alice, bob, room_id


async def test_a_device_not_answered_lately_is_woken_at_once(
    homeserver: RunningHomeserver, chat: tuple[MatrixHttp, MatrixHttp, str]
) -> None:
    alice, bob, room_id = chat
    homeserver.hs.sync.pacer = SyncPacer(LONG_INTERVAL_S)
    since = (await bob.sync())["next_batch"]  # initial syncs are never paced
    poll = asyncio.create_task(bob.sync(since=since, timeout=20_000))
    await alice.send(room_id, "hello")
    response = await asyncio.wait_for(poll, 10)
    assert bodies(response, room_id) == ["hello"]


async def test_a_device_answered_a_moment_ago_waits_and_gets_what_arrived_meanwhile(
    homeserver: RunningHomeserver, chat: tuple[MatrixHttp, MatrixHttp, str]
) -> None:
    alice, bob, room_id = chat
    since = (await bob.sync())["next_batch"]
    await alice.send(room_id, "one")
    homeserver.hs.sync.pacer = SyncPacer(LONG_INTERVAL_S)
    first = await asyncio.wait_for(bob.sync(since=since, timeout=20_000), 10)
    assert bodies(first, room_id) == ["one"]
    await alice.send(room_id, "two")
    await alice.send(room_id, "three")
    started = time.monotonic()
    # Paced for 30 s, so the poll answers at its own 1 s deadline, carrying both events.
    second = await asyncio.wait_for(bob.sync(since=first["next_batch"], timeout=1000), 10)
    assert time.monotonic() - started >= 0.9
    assert bodies(second, room_id) == ["two", "three"]


async def test_another_device_of_the_same_user_is_not_held_back(
    homeserver: RunningHomeserver, chat: tuple[MatrixHttp, MatrixHttp, str]
) -> None:
    alice, bob, room_id = chat
    bob_laptop = homeserver.api()
    await bob_laptop.login("bob")
    since = (await bob.sync())["next_batch"]
    homeserver.hs.sync.pacer = SyncPacer(LONG_INTERVAL_S)
    await alice.send(room_id, "one")
    await asyncio.wait_for(bob.sync(since=since, timeout=20_000), 10)  # the phone was just answered
    response = await asyncio.wait_for(bob_laptop.sync(since=since, timeout=20_000), 10)
    assert bodies(response, room_id) == ["one"]


async def test_a_burst_arrives_complete_in_order_and_once(chat: tuple[MatrixHttp, MatrixHttp, str]) -> None:
    alice, bob, room_id = chat
    sent = [f"message {i}" for i in range(40)]
    since = (await bob.sync(filter='{"room": {"timeline": {"limit": 50}}}'))["next_batch"]

    async def receive() -> list[str]:
        received: list[str] = []
        token = since
        while len(received) < len(sent):
            response = await bob.sync(since=token, timeout=5000, filter='{"room": {"timeline": {"limit": 50}}}')
            received += bodies(response, room_id)
            token = response["next_batch"]
        return received

    receiving = asyncio.create_task(receive())
    for body in sent:
        await alice.send(room_id, body)
    assert await asyncio.wait_for(receiving, 30) == sent
