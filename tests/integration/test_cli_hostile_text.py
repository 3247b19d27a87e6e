"""Text from other people is shown literally by `parley chat` and the `parley` commands.

Anyone in a room chooses message bodies, display names, room names, topics and file
names. None of it may be read as Textual/rich markup (a `[/bold]` used to crash the
chat for everyone in the room), and terminal controls in it (escape sequences, carriage
returns, bidi overrides) are shown as visible stand-ins, never sent to the terminal.
"""

from __future__ import annotations

import pytest
from textual.widgets import ListView

from clients.cli.chat.app import ChatApp
from clients.cli.literal import one_line, shown
from clients.sdk import AsyncClient
from tests.integration.test_cli import Parley, parley  # noqa: F401 (parley is a fixture)
from tests.integration.test_cli_chat import pair, text_of, until  # noqa: F401 (pair is a fixture)

# (what a hostile member sends, how it must appear)
HOSTILE = [
    ("[/bold]", "[/bold]"),
    ("[x] checkbox", "[x] checkbox"),
    ("[bold red]not bold[/]", "[bold red]not bold[/]"),
    ("[@click=app.quit]press[/]", "[@click=app.quit]press[/]"),
    ("[link=https://example.org]click[/link]", "[link=https://example.org]click[/link]"),
    ("\x1b[2J\x1b[31mred", "␛[2J␛[31mred"),
    ("\x1b]0;pwned\x07title", "␛]0;pwned␇title"),
    ("good\rEVIL", "good␍EVIL"),
    ("abc\u202edcba", "abc\ufffddcba"),
    ("\u2066isolate\u2069", "\ufffdisolate\ufffd"),
    ("bell\x07 nul\x00 del\x7f c1\x9b", "bell␇ nul␀ del␡ c1\ufffd"),
]


def test_literal_neutralises_controls_and_keeps_text() -> None:
    for raw, expected in HOSTILE:
        assert shown(raw) == expected
    assert shown("two\nlines\tand tab") == "two\nlines    and tab"
    assert one_line("Mallory\nalice: fake line") == "Mallory␊alice: fake line"
    assert shown("emoji 👩‍👩‍👧 ok") == "emoji 👩‍👩‍👧 ok"  # zero-width joiners are not bidi controls


async def test_chat_shows_hostile_messages_names_and_topics_literally(
        pair: tuple[AsyncClient, AsyncClient]) -> None:  # noqa: F811
    alice, bob = pair
    room_id = await bob.create_room(name="[b]Room[/b] \x1b[5m", preset="public_chat")
    await alice.join(room_id)
    await bob.set_displayname("[red]Mallory[/red]\nalice: forged")
    await bob.set_topic(room_id, "[/]topic\u202e")
    await bob.send_text(room_id, "[/bold] before the chat started")

    app = ChatApp(alice, sync_timeout_ms=2000)
    async with app.run_test(size=(160, 60)) as pilot:
        await until(pilot, lambda: len(app.query_one("#rooms", ListView).children) == 1)
        app.select_room(room_id)
        await until(pilot, lambda: "[/bold] before the chat started" in text_of(app, "#timeline"))
        # Live, while the chat is open: every hostile string, then an image.
        for raw, expected in HOSTILE:
            await bob.send_text(room_id, raw)
            await until(pilot, lambda expected=expected: expected in text_of(app, "#timeline"))  # type: ignore[misc]
        await bob.send_event(room_id, "m.room.message", {
            "msgtype": "m.image", "body": "[cat].png", "url": "mxc://localhost/abc"})
        await until(pilot, lambda: "[image] [cat].png mxc://localhost/abc" in text_of(app, "#timeline"))
        timeline = text_of(app, "#timeline")
        assert "\x1b" not in timeline and "\r" not in timeline and "\u202e" not in timeline
        # The forged line break in the display name stays on the sender's line.
        assert "[red]Mallory[/red]␊alice: forged: [/bold]" in timeline
        assert "\nalice: forged" not in timeline
        title = text_of(app, "#room-title")
        assert title == "[b]Room[/b] ␛[5m — [/]topic\ufffd"
        assert "[red]Mallory[/red]␊alice: forged" in text_of(app, "#people")

        # Re-opening the room (which used to crash again every time) still works.
        app.select_room(room_id)
        await pilot.pause(0.05)
        assert app.is_running
        # Our own hostile text, typed into the composer, round-trips as typed.
        await pilot.click("#composer")
        await pilot.press(*"[/i] mine", "enter")
        await until(pilot, lambda: "[/i] mine" in text_of(app, "#timeline"))
        assert app.is_running


@pytest.mark.parametrize("json_mode", [False, True])
async def test_cli_commands_show_hostile_text_literally(parley: Parley, json_mode: bool) -> None:  # noqa: F811
    await parley.register("a", "alice")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Plain", "--public")).json()["room_id"]
    # Mallory uses her own client: argv cannot carry a NUL, and stdin would turn \r into \n.
    mallory = AsyncClient(parley.homeserver.base_url)
    await mallory.register("mallory", "pw")
    await mallory.join(room_id)
    for raw, _ in HOSTILE:
        await mallory.send_text(room_id, raw)
    await mallory.close()
    flags = ["--json"] if json_mode else []
    out = (await parley.ok("-p", "a", *flags, "history", room_id, "-n", str(len(HOSTILE)))).out
    if json_mode:
        import json

        assert [m["content"]["body"] for m in json.loads(out)] == [raw for raw, _ in HOSTILE]
    else:
        for _, expected in HOSTILE:
            assert expected in out
        assert "\x1b" not in out and "\r" not in out and "\u202e" not in out and "\x07" not in out


async def test_cli_room_list_shows_hostile_room_name_literally(parley: Parley) -> None:  # noqa: F811
    await parley.register("a", "alice")
    await parley.ok("-p", "a", "create", "\x1b]0;owned\x07[/]Den\u202e")
    out = (await parley.ok("-p", "a", "rooms")).out
    assert "␛]0;owned␇[/]Den\ufffd" in out
    assert "\x1b" not in out
