"""A real bridge bot written with mautrix-python's ``mautrix.appservice`` against Parley.

The bot registers a puppet, receives transactions, and answers a user's message with a
reply from the puppet; the user sees the reply through /sync.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession

mautrix = pytest.importorskip("mautrix")

from mautrix.appservice import AppService  # noqa: E402
from mautrix.appservice.state_store import ASStateStore  # noqa: E402
from mautrix.client.state_store import MemoryStateStore  # noqa: E402
from mautrix.types import (  # noqa: E402
    EventType,
    Membership,
    MessageEvent,
    MessageType,
    StateEvent,
    TextMessageEventContent,
)

from tests.appservice_fake import AS_TOKEN, HS_TOKEN, write_registration  # noqa: E402
from tests.conftest import RunningHomeserver, make_config, start_homeserver  # noqa: E402
from tests.parleyd_process import free_port  # noqa: E402

PUPPET = "@_bridge_echo:localhost"
WAIT_S = 20.0


class MemoryASStateStore(ASStateStore, MemoryStateStore):
    def __init__(self) -> None:
        ASStateStore.__init__(self)
        MemoryStateStore.__init__(self)


class EchoBridge:
    """Joins rooms it is invited to with its puppet, and answers messages with a reply."""

    def __init__(self, appservice: AppService) -> None:
        self.appservice = appservice
        appservice.matrix_event_handler(self.on_event)

    async def on_event(self, event: object) -> None:
        intent = self.appservice.intent
        if isinstance(event, StateEvent) and event.type == EventType.ROOM_MEMBER:
            if event.state_key == intent.mxid and event.content.membership == Membership.INVITE:
                await intent.join_room(event.room_id)
                puppet = intent.user(PUPPET)
                await puppet.ensure_registered()
                await intent.invite_user(event.room_id, PUPPET)
                await puppet.join_room(event.room_id)
            return
        if isinstance(event, MessageEvent) and not event.sender.startswith(("@_bridge_", "@bridgebot")):
            content = TextMessageEventContent(msgtype=MessageType.NOTICE, body=f"echo: {event.content.body}")
            content.set_reply(event)
            await intent.user(PUPPET).send_message(event.room_id, content)


@pytest.fixture
async def bridge_and_hs(tmp_path: Path) -> AsyncIterator[tuple[EchoBridge, RunningHomeserver]]:
    port = free_port()
    registration = write_registration(tmp_path / "bridge.yaml", f"http://127.0.0.1:{port}")
    config = make_config(tmp_path / "hs", app_service_config_files=[str(registration)],
                         app_service_transactions={"retry_initial_ms": 50, "retry_max_ms": 500})
    hs, server = await start_homeserver(config)
    async with ClientSession() as session:
        running = RunningHomeserver(hs, server, session)
        appservice = AppService(
            server=running.base_url, domain="localhost", as_token=AS_TOKEN, hs_token=HS_TOKEN,
            bot_localpart="bridgebot", id="bridge", state_store=MemoryASStateStore(),
            ephemeral_events=True,
        )
        bridge = EchoBridge(appservice)
        await appservice.start(host="127.0.0.1", port=port)
        appservice.ready = True
        try:
            yield bridge, running
        finally:
            await appservice.stop()
    await server.close()


async def test_a_mautrix_bridge_answers_a_message_with_a_puppet_reply_seen_through_sync(
    bridge_and_hs: tuple[EchoBridge, RunningHomeserver],
) -> None:
    bridge, hs = bridge_and_hs
    assert await bridge.appservice.ping_self("hello") >= 0  # POST /appservice/{id}/ping both ways
    alice = await hs.register("alice")
    room_id = await alice.create_room(preset="public_chat", invite=["@bridgebot:localhost"])
    since = (await alice.sync())["next_batch"]
    async with asyncio.timeout(WAIT_S):
        while True:  # the bot joins, then its puppet
            sync = await alice.sync(since=since, timeout=10000)
            since = sync["next_batch"]
            members = await alice.request("GET", f"/_matrix/client/v3/rooms/{room_id}/joined_members")
            if PUPPET in members["joined"]:
                break
    message_id = await alice.send(room_id, "hello bridge")

    async with asyncio.timeout(WAIT_S):
        while True:
            sync = await alice.sync(since=since, timeout=10000)
            since = sync["next_batch"]
            timeline = sync.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {})
            replies = [e for e in timeline.get("events", []) if e["sender"] == PUPPET
                       and e["type"] == "m.room.message"]
            if replies:
                break
    reply = replies[0]
    assert reply["content"]["body"] == "echo: hello bridge"
    assert reply["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == message_id
