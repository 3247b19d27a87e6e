"""Acting on messages in the browser: edit, react, reply, delete; and a failed send that
keeps its text and is retried."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.async_api import Route, expect

from tests.parleyd_process import Parleyd
from tests.web.pages import open_client
from tests.web.pages_conversation import (
    composer,
    message,
    message_actions,
    open_room,
    register,
    send,
)


async def test_edit_react_reply_and_delete(parleyd: Parleyd, browser: Any, screenshot: Any) -> None:
    alice_api = await register(parleyd.base_url, "alice")
    bob_api = await register(parleyd.base_url, "bob")
    room_id = await alice_api.create_room("Plans", invite=[bob_api])
    alice = await open_client(browser, parleyd.base_url)
    bob = await open_client(browser, parleyd.base_url)
    await open_room(alice, "alice", "Plans")
    await open_room(bob, "bob", "Plans")

    # Edit from the message's menu.
    await send(alice, "Lunch at noon")
    await (await message_actions(alice, "Lunch at noon")).get_by_role("button", name="Edit").click()
    await expect(alice.get_by_text("Editing your message")).to_be_visible()
    await composer(alice).fill("Lunch at one")
    await composer(alice).press("Enter")
    for page in (alice, bob):
        await expect(message(page, "Lunch at one")).to_contain_text("(edited)")
    await expect(message(bob, "Lunch at noon")).to_have_count(0)

    # Edit with Up on the empty composer.
    await composer(alice).press("ArrowUp")
    await expect(composer(alice)).to_have_value("Lunch at one")
    await composer(alice).fill("Lunch at two")
    await composer(alice).press("Enter")
    await expect(message(bob, "Lunch at two")).to_contain_text("(edited)")

    # Bob reacts; Alice sees the count and adds hers; Bob takes his back.
    await (await message_actions(bob, "Lunch at two")).get_by_role("button", name="React").click()
    await bob.get_by_role("button", name="React with 👍").click()
    thumbs = message(alice, "Lunch at two").locator("button.reaction", has_text="👍")
    await expect(thumbs).to_contain_text("1")
    await thumbs.click()
    await expect(thumbs).to_contain_text("2")
    await expect(thumbs).to_have_attribute("aria-pressed", "true")
    bob_thumbs = message(bob, "Lunch at two").locator("button.reaction", has_text="👍")
    await expect(bob_thumbs).to_contain_text("2")
    await bob_thumbs.click()
    await expect(thumbs).to_contain_text("1")
    await expect(bob_thumbs).to_have_attribute("aria-pressed", "false")

    # Bob replies: the reply quotes the message.
    await (await message_actions(bob, "Lunch at two")).get_by_role("button", name="Reply").click()
    await expect(bob.get_by_text("Replying to Alice")).to_be_visible()
    await composer(bob).fill("Two works")
    await composer(bob).press("Enter")
    reply = message(alice, "Two works")
    await expect(reply.locator(".reply-quote")).to_contain_text("Alice")
    await expect(reply.locator(".reply-quote")).to_contain_text("Lunch at two")

    # Alice deletes a message of hers.
    await send(alice, "Oops, wrong room")
    await (await message_actions(alice, "Oops, wrong room")).get_by_role("button", name="Delete").click()
    await alice.get_by_role("dialog").get_by_role("button", name="Delete").click()
    for page in (alice, bob):
        await expect(page.locator("li.message .body.deleted")).to_have_text("Message deleted")
        await expect(message(page, "Oops, wrong room")).to_have_count(0)
    await screenshot(alice, "alice")
    await screenshot(bob, "bob")

    # The server has the edits, the reactions (Bob's redacted), the reply and the redaction.
    events = list(reversed(await alice_api.messages(room_id)))
    original = next(e for e in events if e["content"].get("body") == "Lunch at noon")
    edits = [e["content"]["m.new_content"]["body"] for e in events
             if e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"]
    assert edits == ["Lunch at one", "Lunch at two"]
    assert all(e["content"]["m.relates_to"]["event_id"] == original["event_id"] for e in events
               if e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace")
    reactions = {(e["sender"], bool(e["content"])) for e in events if e["type"] == "m.reaction"}
    assert reactions == {(alice_api.user_id, True), (bob_api.user_id, False)}
    replies = [e for e in events if e["content"].get("body") == "Two works"]
    assert replies[0]["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == original["event_id"]
    assert any(e["type"] == "m.room.redaction" for e in events)
    assert alice.console_errors == [], alice.console_errors  # type: ignore[attr-defined]


async def test_failed_send_keeps_the_text_and_can_be_retried(parleyd: Parleyd, browser: Any) -> None:
    alice_api = await register(parleyd.base_url, "alice")
    room_id = await alice_api.create_room("Flaky")
    alice = await open_client(browser, parleyd.base_url)
    await open_room(alice, "alice", "Flaky")

    async def refuse(route: Route) -> None:
        await route.fulfill(status=403, content_type="application/json",
                            body=json.dumps({"errcode": "M_FORBIDDEN", "error": "Not today"}))

    pattern = re.compile(r".*/send/m\.room\.message/.*")
    await alice.route(pattern, refuse)
    await composer(alice).fill("Important words")
    await composer(alice).press("Enter")
    await expect(alice.get_by_role("alert")).to_contain_text("Your message was not sent: Not today")
    await expect(composer(alice)).to_have_value("Important words")
    await expect(message(alice, "Important words")).to_have_count(0)

    await alice.unroute(pattern, refuse)
    await alice.get_by_role("button", name="Retry").click()
    await expect(message(alice, "Important words")).to_be_visible()
    await expect(composer(alice)).to_have_value("")
    await expect(alice.get_by_role("alert")).to_have_count(0)
    assert await alice_api.texts(room_id) == [(alice_api.user_id, "Important words")]
