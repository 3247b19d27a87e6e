"""Friends in the browser are `parley friends`: a request is a DM invite (is_direct),
accepting joins it, and both sides record the room in m.direct."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.web.pages import open_client, sign_up
from tests.web.pages_social import Api, directory_parleyd, room_id_of


async def test_friend_request_found_in_directory_accepted_from_notifications_then_dm(
    browser: Any, tmp_path: Path, screenshot: Any
) -> None:
    async with directory_parleyd(tmp_path) as parleyd:
        alice = await open_client(browser, parleyd.base_url)
        await sign_up(alice, "alice")
        bob = await open_client(browser, parleyd.base_url)
        await sign_up(bob, "bob")

        # Alice finds Bob in the user directory and sends a request.
        await alice.get_by_role("link", name="Friends").click()
        await alice.get_by_label("Find people").fill("bob")
        await alice.get_by_role("button", name="Search").click()
        await alice.get_by_role("button", name="Add friend: @bob:localhost").click()
        await expect(alice.locator(".outgoing")).to_contain_text("@bob:localhost")

        # Bob sees it in his notification zone and accepts.
        zone = bob.locator(".notification-zone")
        await expect(zone).to_contain_text("wants to be your friend", timeout=15_000)
        await screenshot(bob, "notifications")
        await zone.get_by_role("button", name="Accept").click()
        await expect(zone).to_be_hidden(timeout=15_000)
        await expect(bob).to_have_url(re.compile("#/room/"), timeout=15_000)
        room_id = room_id_of(bob)

        # On the server: a DM room both joined, in both m.direct.
        alice_api = await Api.login(parleyd.base_url, "alice")
        bob_api = await Api.login(parleyd.base_url, "bob")
        assert room_id in await bob_api.joined_rooms()
        assert await alice_api.membership(room_id, "@bob:localhost") == "join"
        assert room_id in (await bob_api.account_data("m.direct"))["@alice:localhost"]
        assert room_id in (await alice_api.account_data("m.direct"))["@bob:localhost"]

        # Alice sees Bob as a friend, online, and opens their chat from the friends page.
        contact = alice.locator(".contacts .friend", has_text="@bob:localhost")
        await expect(contact).to_be_visible(timeout=15_000)
        await expect(contact.locator(".presence")).to_have_text("online", timeout=20_000)
        await expect(alice.locator(".direct-chats")).to_contain_text("bob")
        await screenshot(alice, "friends")
        await contact.get_by_role("button", name="Message").click()
        await expect(alice.locator(".room-header h2")).to_be_visible()
        assert room_id_of(alice) == room_id
        assert alice.console_errors == [], alice.console_errors  # type: ignore[attr-defined]
        assert bob.console_errors == [], bob.console_errors  # type: ignore[attr-defined]
