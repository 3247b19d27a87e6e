"""The home sidebar: unread and mention badges, the last message, newest rooms first."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from playwright.async_api import expect

from tests.parleyd_process import Parleyd
from tests.web.pages import open_client, sign_up
from tests.web.pages_social import register_api


async def test_room_list_shows_unread_and_mention_badges_and_last_message(
    browser: Any, parleyd: Parleyd, screenshot: Any
) -> None:
    bob = await open_client(browser, parleyd.base_url)
    await sign_up(bob, "bob")
    alice = await register_api(parleyd.base_url, "alice")
    status, created = await alice.request("POST", "/createRoom", {"name": "Kitchen", "invite": ["@bob:localhost"]})
    assert status == 200, created
    room_id = created["room_id"]

    zone = bob.locator(".notification-zone")
    await expect(zone).to_contain_text("invites you to Kitchen", timeout=15_000)
    await zone.get_by_role("button", name="Accept").click()
    await expect(bob.locator(".room-header h2")).to_have_text("Kitchen", timeout=15_000)
    await bob.get_by_role("link", name="Friends").click()  # away from the room

    for n, content in enumerate([
        {"msgtype": "m.text", "body": "soup is ready"},
        {"msgtype": "m.text", "body": "bob: come and eat", "m.mentions": {"user_ids": ["@bob:localhost"]}},
    ]):
        status, data = await alice.request("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/t{n}", content)
        assert status == 200, data

    entry = bob.locator(f'.room-entry[data-room-id="{room_id}"]')
    await expect(entry.locator(".room-preview")).to_have_text("@alice:localhost: bob: come and eat", timeout=15_000)
    await expect(entry.locator(".unread-count")).to_contain_text("2", timeout=15_000)
    await expect(entry.locator(".mention")).to_contain_text("@1")
    await screenshot(bob, "badges")
