"""The conversation view: two people chatting in their browsers, the timeline's history,
typing notifications and read receipts."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from tests.parleyd_process import Parleyd
from tests.web.pages import open_client, sign_in
from tests.web.pages_conversation import composer, message, open_room, register, send


async def test_two_people_chat_both_ways_with_typing_and_read_receipts(
    parleyd: Parleyd, browser: Any, screenshot: Any,
) -> None:
    alice_api = await register(parleyd.base_url, "alice")
    bob_api = await register(parleyd.base_url, "bob")
    room_id = await alice_api.create_room("Tea time", invite=[bob_api])
    alice = await open_client(browser, parleyd.base_url)
    bob = await open_client(browser, parleyd.base_url)
    await open_room(alice, "alice", "Tea time")
    await open_room(bob, "bob", "Tea time")
    # Membership changes are small lines in the timeline.
    await expect(alice.locator(".state-change", has_text="Bob joined")).to_be_visible()

    await send(alice, "Hello Bob, tea?")
    await expect(message(bob, "Hello Bob, tea?")).to_be_visible()

    # Bob types: Alice sees it, then his message.
    await composer(bob).press_sequentially("Yes ple")
    await expect(alice.locator(".typing")).to_have_text("Bob is typing…")
    await composer(bob).press_sequentially("ase!")
    await composer(bob).press("Shift+Enter")
    await composer(bob).press_sequentially("Green.")
    await composer(bob).press("Enter")
    await expect(message(alice, "Yes please!\nGreen.")).to_be_visible()
    await expect(alice.locator(".typing")).to_have_text("")
    # Grouped: Alice's second message in a row shows no second name.
    await send(alice, "Kettle on")
    await send(alice, "Coming")
    await expect(message(alice, "Kettle on")).not_to_have_class(re.compile(r"\bcontinuation\b"))
    await expect(message(alice, "Coming")).to_have_class(re.compile(r"\bcontinuation\b"))

    # Read receipts: each sees the other's avatar under the last message they read.
    await expect(message(bob, "Coming").locator(".receipts")).to_contain_text("Seen by Alice")
    await expect(message(alice, "Coming").locator(".receipts")).to_contain_text("Seen by Bob")
    await screenshot(alice, "alice")
    await screenshot(bob, "bob")

    # It all happened on the server.
    assert await alice_api.texts(room_id) == [
        (alice_api.user_id, "Hello Bob, tea?"),
        (bob_api.user_id, "Yes please!\nGreen."),
        (alice_api.user_id, "Kettle on"),
        (alice_api.user_id, "Coming"),
    ]
    assert alice.console_errors == [], alice.console_errors  # type: ignore[attr-defined]
    assert bob.console_errors == [], bob.console_errors  # type: ignore[attr-defined]


async def test_scrolling_up_loads_older_messages(parleyd: Parleyd, browser: Any, screenshot: Any) -> None:
    alice_api = await register(parleyd.base_url, "alice")
    room_id = await alice_api.create_room("History")
    for n in range(1, 71):
        await alice_api.send_text(room_id, f"Message number {n}")
    alice = await open_client(browser, parleyd.base_url)
    await open_room(alice, "alice", "History")
    await expect(message(alice, "Message number 70")).to_be_in_viewport()
    assert await message(alice, "Message number 1").count() == 0

    scroller = alice.locator(".timeline-scroller")
    for _ in range(30):
        if await alice.get_by_text("This is the beginning of the conversation.").is_visible():
            break
        await scroller.evaluate("el => { el.scrollTop = -el.scrollHeight; }")
        await alice.wait_for_timeout(200)
    await expect(alice.get_by_text("This is the beginning of the conversation.")).to_be_visible()
    await expect(message(alice, "Message number 1")).to_be_visible()
    await expect(alice.locator(".state-change", has_text="created the room")).to_be_visible()
    assert await alice.locator("li.message").count() == 70
    await screenshot(alice, "top")

    # New messages keep the view at the bottom when it is there.
    await scroller.evaluate("el => { el.scrollTop = 0; }")
    await alice_api.send_text(room_id, "A new one")
    await expect(message(alice, "A new one")).to_be_in_viewport()


async def test_conversation_in_french_on_a_phone(parleyd: Parleyd, browser: Any, screenshot: Any) -> None:
    alice_api = await register(parleyd.base_url, "alice")
    bob_api = await register(parleyd.base_url, "bob")
    room_id = await alice_api.create_room("Apéro", invite=[bob_api])
    await bob_api.send_text(room_id, "On se retrouve à 19 h ?")
    alice = await open_client(browser, parleyd.base_url)
    await alice.set_viewport_size({"width": 360, "height": 740})
    await sign_in(alice, "alice")
    await alice.evaluate("localStorage.setItem('parley.lang', 'fr')")
    await alice.goto(f"/#/room/{room_id}")
    await alice.reload()  # the language is read when the page loads
    await expect(message(alice, "On se retrouve à 19 h ?")).to_be_visible()

    box = alice.get_by_role("textbox", name="Message pour Apéro")
    await box.fill("Parfait")
    await box.press("Enter")
    await expect(message(alice, "Parfait")).to_be_visible()
    await expect(alice.get_by_role("button", name="Rechercher des messages")).to_be_visible()
    await expect(alice.locator(".state-change", has_text="Bob a rejoint le salon")).to_be_visible()
    # Nothing wider than the phone.
    assert await alice.evaluate("document.documentElement.scrollWidth") <= 360  # noqa: PLR2004
    await screenshot(alice, "phone")
    await alice.get_by_role("link", name="Retour aux salons").click()
    await expect(alice.get_by_role("navigation", name="Conversations").get_by_role("link", name="Apéro")).to_be_visible()
    assert (alice_api.user_id, "Parfait") in await alice_api.texts(room_id)
