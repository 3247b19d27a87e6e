"""`parley chat` under Textual's pilot against a real homeserver: /help, the room list
re-sorting by activity, and text-art previews of images."""

from __future__ import annotations

import io

from PIL import Image
from textual.widgets import Input, ListView

from clients.cli.chat.app import ChatApp, RoomItem
from clients.cli.chat.commands import SLASH_COMMANDS
from clients.sdk import AsyncClient
from tests.integration.test_cli_chat import pair, text_of, until  # noqa: F401 (pair is a fixture)


def room_order(app: ChatApp) -> list[str]:
    return [item.room_id for item in app.query_one("#rooms", ListView).children if isinstance(item, RoomItem)]


def notifications(app: ChatApp) -> str:
    return "\n".join(n.message for n in app._notifications)


async def test_help_lists_every_command(pair: tuple[AsyncClient, AsyncClient]) -> None:  # noqa: F811
    alice, _ = pair
    await alice.create_room(name="Den")
    app = ChatApp(alice, sync_timeout_ms=2000)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.current_room_id is not None)
        composer = app.query_one("#composer", Input)
        composer.focus()
        composer.value = "/help"
        await pilot.press("enter")
        await until(pilot, lambda: "Commands:" in notifications(app))
        shown = notifications(app)
        assert all(f"/{name}" in shown for name in SLASH_COMMANDS)


async def test_room_list_resorts_as_messages_arrive(pair: tuple[AsyncClient, AsyncClient]) -> None:  # noqa: F811
    alice, bob = pair
    first = await bob.create_room(name="First", preset="public_chat")
    second = await bob.create_room(name="Second", preset="public_chat")
    await alice.join(first)
    await alice.join(second)
    app = ChatApp(alice, sync_timeout_ms=500)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: set(room_order(app)) == {first, second})
        assert room_order(app) == [second, first]  # joined last, so most recent
        await bob.send_text(first, "news in the first room")
        await until(pilot, lambda: room_order(app) == [first, second])
        await bob.send_text(second, "and now the second")
        await until(pilot, lambda: room_order(app) == [second, first])


async def test_image_messages_get_a_text_preview(pair: tuple[AsyncClient, AsyncClient]) -> None:  # noqa: F811
    alice, bob = pair
    room_id = await bob.create_room(name="Gallery", preset="public_chat")
    await alice.join(room_id)
    buffer = io.BytesIO()
    image = Image.new("L", (64, 64), 255)
    image.paste(0, (0, 0, 64, 32))  # dark top half, light bottom half
    image.save(buffer, format="PNG")
    await bob.send_file_bytes(room_id, "stripes.png", buffer.getvalue())
    app = ChatApp(alice, sync_timeout_ms=2000)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "stripes.png" in text_of(app, "#timeline"))
        await until(pilot, lambda: "@@@@" in text_of(app, "#timeline"))
        lines = text_of(app, "#timeline").splitlines()
        art = [line for line in lines if line.startswith("      ")]
        assert art[0].strip().startswith("@") and len(art) >= 4


async def test_bare_names_in_chat_commands_are_local_users(pair: tuple[AsyncClient, AsyncClient]) -> None:  # noqa: F811
    alice, bob = pair
    room_id = await alice.create_room(name="Den")
    app = ChatApp(alice, sync_timeout_ms=2000)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.current_room_id == room_id)
        composer = app.query_one("#composer", Input)
        composer.focus()
        composer.value = "/invite bob"
        await pilot.press("enter")
        await until(pilot, lambda: f"Invite: {bob.user_id}" in notifications(app))
    await bob.sync_once()
    assert bob.state is not None and bob.state.rooms[room_id].my_membership == "invite"
