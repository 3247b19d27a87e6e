"""`parley chat` driven with Textual's pilot against a real homeserver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from textual.widgets import Input, ListView, Static

from clients.cli.chat.app import ChatApp, RoomItem
from clients.sdk import AsyncClient
from clients.sdk.backoff import Backoff
from tests.conftest import RunningHomeserver

WAIT = 15.0


@pytest.fixture
async def pair(homeserver: RunningHomeserver) -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    alice = AsyncClient(homeserver.base_url, backoff=Backoff(initial=0.05, maximum=0.5))
    bob = AsyncClient(homeserver.base_url, backoff=Backoff(initial=0.05, maximum=0.5))
    await alice.register("alice", "pw")
    await bob.register("bob", "pw")
    yield alice, bob
    await alice.close()
    await bob.close()


def text_of(app: ChatApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def until(pilot: object, condition: Callable[[], bool]) -> None:
    """Let the app process messages until `condition` holds (bounded by WAIT)."""
    async with asyncio.timeout(WAIT):
        while not condition():
            await pilot.pause(0.02)  # type: ignore[attr-defined]


async def test_chat_send_see_reply_and_switch_rooms(pair: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = pair
    lounge = await bob.create_room(name="Lounge", preset="public_chat")
    other = await bob.create_room(name="Other", preset="public_chat")
    await bob.send_text(other, "message in other room")
    await alice.join(lounge)
    await alice.join(other)
    await bob.send_text(lounge, "welcome")

    app = ChatApp(alice, sync_timeout_ms=2000)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.query_one("#rooms", ListView).children) == 2)
        app.select_room(lounge)
        await until(pilot, lambda: "welcome" in text_of(app, "#timeline"))
        assert "Lounge" in text_of(app, "#room-title")

        await pilot.click("#composer")
        await pilot.press(*"hello bob", "enter")
        got: list[str] = []
        bob.callbacks.on_message(lambda room, event: got.append(event["content"]["body"]))
        async with asyncio.timeout(WAIT):
            while "hello bob" not in got:
                await bob.sync_once(timeout_ms=1000)
        await bob.send_reply(lounge, next(i.event_id for i in bob.state.rooms[lounge].timeline  # type: ignore[union-attr]
                                          if i.body == "hello bob"), "hi alice")
        await until(pilot, lambda: "hi alice" in text_of(app, "#timeline"))
        assert "↪" in text_of(app, "#timeline")  # shown as a reply

        # Switch rooms with the keyboard: focus the list, move, select.
        rooms = app.query_one("#rooms", ListView)
        rooms.focus()
        index = next(i for i, item in enumerate(rooms.children)
                     if isinstance(item, RoomItem) and item.room_id == other)
        rooms.index = index
        await pilot.press("enter")
        await until(pilot, lambda: "message in other room" in text_of(app, "#timeline"))
        assert app.current_room_id == other
        assert "hello bob" not in text_of(app, "#timeline")


async def test_chat_slash_commands_topic_and_emote(pair: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = pair
    room_id = await alice.create_room(name="Den")
    app = ChatApp(alice, sync_timeout_ms=2000)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.current_room_id == room_id)
        composer = app.query_one("#composer", Input)
        composer.focus()
        for line in ("/topic cosy corner", "/me waves", "/invite " + str(bob.user_id), "/bogus"):
            composer.value = line
            await pilot.press("enter")
        await until(pilot, lambda: "cosy corner" in text_of(app, "#room-title"))
        await until(pilot, lambda: "* @alice:localhost waves" in text_of(app, "#timeline"))
    await bob.sync_once()
    assert bob.state is not None and bob.state.rooms[room_id].my_membership == "invite"


async def test_chat_shows_invites_and_accepts_with_join(pair: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = pair
    room_id = await bob.create_room(name="Party", invite=[alice.user_id])  # type: ignore[list-item]
    app = ChatApp(alice, sync_timeout_ms=2000)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: room_id in app._items)
        assert "[invite]" in app._items[room_id].label_text
        app.select_room(room_id)
        composer = app.query_one("#composer", Input)
        composer.value = "/join " + room_id
        composer.focus()
        await pilot.press("enter")
        await until(pilot, lambda: alice.state is not None and alice.state.rooms[room_id].my_membership == "join")
        await until(pilot, lambda: "[invite]" not in app._items[room_id].label_text)
