"""Notifications delivered to an http pusher's push gateway (a loopback aiohttp server).

spec: push-gateway-api.md, data/api/push-gateway/push_notifier.yaml; pusher.yaml.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q

V3 = "/_matrix/client/v3"
NOTIFY_PATH = "/_matrix/push/v1/notify"


class Gateway:
    """Records every notify request; answers with the pushkeys in ``rejected``."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.rejected: list[str] = []
        self.server: TestServer | None = None

    async def notify(self, request: web.Request) -> web.Response:
        await self.received.put(await request.json())
        return web.json_response({"rejected": self.rejected})

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url(NOTIFY_PATH))

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.received.get(), 10)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway()
    app = web.Application()
    app.router.add_post(NOTIFY_PATH, gw.notify)
    gw.server = TestServer(app, host="127.0.0.1")
    await gw.server.start_server()
    yield gw
    await gw.server.close()


async def set_pusher(client: MatrixHttp, gateway: Gateway, pushkey: str = "key-1", **data: Any) -> None:
    await client.request("POST", f"{V3}/pushers/set", {
        "kind": "http", "app_id": "org.example.app", "pushkey": pushkey, "app_display_name": "Example",
        "device_display_name": "Phone", "lang": "en", "data": {"url": gateway.url, **data},
    })


async def room_with(homeserver: RunningHomeserver) -> tuple[MatrixHttp, MatrixHttp, str]:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat", name="Tea room")
    await bob.join(room_id)
    return alice, bob, room_id


async def test_message_is_pushed_to_the_gateway(homeserver: RunningHomeserver, gateway: Gateway) -> None:
    alice, bob, room_id = await room_with(homeserver)
    await set_pusher(bob, gateway, custom="kept")
    await alice.request("PUT", f"{V3}/profile/{q(alice.user_id or '')}/displayname", {"displayname": "Alice"})
    event_id = await alice.send(room_id, "tea?")
    body = await gateway.next()
    notification = body["notification"]
    assert notification["event_id"] == event_id and notification["room_id"] == room_id
    assert notification["type"] == "m.room.message" and notification["sender"] == alice.user_id
    assert notification["content"]["body"] == "tea?"
    assert notification["room_name"] == "Tea room" and notification["sender_display_name"] == "Alice"
    assert notification["counts"] == {"unread": 1}
    assert notification["prio"] == "high"  # two members: room_one_to_one sets a sound
    [device] = notification["devices"]
    assert device["app_id"] == "org.example.app" and device["pushkey"] == "key-1"
    assert device["data"] == {"custom": "kept"}  # everything but url
    assert device["tweaks"] == {"sound": "default"}
    assert isinstance(device["pushkey_ts"], int)


async def test_event_id_only_format(homeserver: RunningHomeserver, gateway: Gateway) -> None:
    alice, bob, room_id = await room_with(homeserver)
    await set_pusher(bob, gateway, format="event_id_only")
    event_id = await alice.send(room_id, "secret")
    notification = (await gateway.next())["notification"]
    assert notification["event_id"] == event_id
    assert "content" not in notification and "sender" not in notification and "type" not in notification
    assert notification["devices"][0]["data"] == {"format": "event_id_only"}


async def test_unread_count_grows_and_own_messages_are_not_pushed(
    homeserver: RunningHomeserver, gateway: Gateway
) -> None:
    alice, bob, room_id = await room_with(homeserver)
    await set_pusher(bob, gateway)
    await set_pusher(alice, gateway, pushkey="alice-key")
    await alice.send(room_id, "one")
    await alice.send(room_id, "two")
    first, second = await gateway.next(), await gateway.next()
    assert [first["notification"]["counts"], second["notification"]["counts"]] == [{"unread": 1}, {"unread": 2}]
    assert {b["notification"]["devices"][0]["pushkey"] for b in (first, second)} == {"key-1"}
    await bob.send(room_id, "reply")
    reply = await gateway.next()
    assert reply["notification"]["devices"][0]["pushkey"] == "alice-key"


async def test_rejected_pushkey_removes_the_pusher(homeserver: RunningHomeserver, gateway: Gateway) -> None:
    alice, bob, room_id = await room_with(homeserver)
    await set_pusher(bob, gateway)
    gateway.rejected = ["key-1"]
    await alice.send(room_id, "hello")
    await gateway.next()
    await asyncio.wait_for(homeserver.hs.notifications.gateway.wait_idle(), 10)
    assert (await bob.request("GET", f"{V3}/pushers"))["pushers"] == []
