"""Searching a room's messages on the server from the header, and jumping to a result
that is far back in the history."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from tests.parleyd_process import Parleyd
from tests.web.pages import open_client
from tests.web.pages_conversation import message, open_room, register


async def test_search_lists_results_and_jumps_to_an_old_message(
    parleyd: Parleyd, browser: Any, screenshot: Any,
) -> None:
    alice_api = await register(parleyd.base_url, "alice")
    bob_api = await register(parleyd.base_url, "bob")
    room_id = await alice_api.create_room("Recipes", invite=[bob_api])
    await bob_api.send_text(room_id, "Banana bread needs three ripe bananas")
    for n in range(60):
        await alice_api.send_text(room_id, f"Filler {n}")
    await alice_api.send_text(room_id, "No more banana talk")
    other = await alice_api.create_room("Elsewhere")
    await alice_api.send_text(other, "A banana in another room")

    alice = await open_client(browser, parleyd.base_url)
    await open_room(alice, "alice", "Recipes")
    assert await message(alice, "Banana bread needs three ripe bananas").count() == 0

    await alice.get_by_role("button", name="Search messages").click()
    box = alice.get_by_role("searchbox", name="Search this room")
    await box.fill("banana")
    await box.press("Enter")
    results = alice.locator(".search-result")
    await expect(results).to_have_count(2)
    await expect(results.filter(has_text="Banana bread")).to_contain_text("Bob")
    await expect(results.filter(has_text="No more banana talk")).to_contain_text("Alice")
    await expect(results.first.locator("time")).to_have_text(re.compile(r"\d{1,2}:\d{2}"))
    await screenshot(alice, "results")

    await results.filter(has_text="Banana bread").get_by_role("button", name="Jump to message").click()
    old = message(alice, "Banana bread needs three ripe bananas")
    await expect(old).to_be_in_viewport(timeout=20_000)
    await expect(old).to_have_class(re.compile(r"\bhighlighted\b"))
    await screenshot(alice, "jumped")

    await box.fill("courgette")
    await box.press("Enter")
    await expect(alice.get_by_text("No messages found for “courgette”.")).to_be_visible()
