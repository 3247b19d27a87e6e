"""Across two real parleyd processes, federated: each person uses the web client of
their own server. Alice (first server) invites Carol (second server) from the room's
settings; Carol accepts in her notification zone, and they chat both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import expect

from tests.federation.test_parleyd_processes import parleyd_processes
from tests.web.pages import open_client, sign_up
from tests.web.pages_conversation import composer, message
from tests.web.pages_social import Api, create_room, open_room_settings

pytestmark = pytest.mark.slow

WAIT_MS = 60_000  # federation between processes on a loaded machine; reached only on failure


async def test_a_user_of_a_second_server_is_invited_joins_and_chats(
    tmp_path: Path, browser: Any, screenshot: Any
) -> None:
    async with parleyd_processes(tmp_path, 2) as (p1, p2):
        alice = await open_client(browser, p1.base_url)
        await sign_up(alice, "alice")
        carol = await open_client(browser, p2.base_url)
        await sign_up(carol, "carol")
        carol_id = f"@carol:{p2.server_name}"

        room_id = await create_room(alice, "Across servers", "public")
        dialog = await open_room_settings(alice)
        await dialog.get_by_role("tab", name="Members").click()
        await dialog.get_by_label("Invite someone").fill(carol_id)
        await dialog.get_by_role("button", name="Invite", exact=True).click()
        await expect(dialog.get_by_role("status")).to_have_text(f"Invited {carol_id}.", timeout=WAIT_MS)
        await alice.keyboard.press("Escape")

        zone = carol.locator(".notification-zone")
        await expect(zone).to_contain_text("Across servers", timeout=WAIT_MS)
        await zone.get_by_role("button", name="Accept").click()
        await expect(carol.locator(".room-header h2")).to_have_text("Across servers", timeout=WAIT_MS)

        await composer(carol).fill("hello from the second server")
        await composer(carol).press("Enter")
        await expect(message(alice, "hello from the second server")).to_be_visible(timeout=WAIT_MS)
        await composer(alice).fill("welcome, carol")
        await composer(alice).press("Enter")
        await expect(message(carol, "welcome, carol")).to_be_visible(timeout=WAIT_MS)
        await screenshot(carol, "second-server")

        # Both servers hold both lines, from the right senders.
        for server, name in ((p1, "alice"), (p2, "carol")):
            api = await Api.login(server.base_url, name)
            history = await api.get(f"/rooms/{quote(room_id)}/messages?dir=b&limit=50")
            lines = [(e["sender"], e["content"].get("body")) for e in history["chunk"]
                     if e["type"] == "m.room.message"]
            assert (carol_id, "hello from the second server") in lines, (server.server_name, lines)
            assert (f"@alice:{p1.server_name}", "welcome, carol") in lines, (server.server_name, lines)
        for page in (alice, carol):
            assert page.console_errors == [], page.console_errors
