"""The web client against Synapse: it is a Matrix client, not a Parley-only one.

The page comes from a parleyd (it serves the bundle); the people using it sign up and
sign in to Synapse by typing its address, and chat there.
"""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession
from playwright.async_api import expect

from tests.http_client import MatrixHttp
from tests.interop.synapse_peer import SynapsePeer
from tests.parleyd_process import Parleyd
from tests.web.conftest import browser, parleyd, screenshot  # noqa: F401  (fixtures)
from tests.web.pages import PASSWORD, open_client

WAIT_MS = 30_000


async def sign_up_on(page: Any, homeserver: str, username: str) -> None:
    await page.goto("/#/register")
    await page.get_by_label("Homeserver").fill(homeserver)
    await page.get_by_label("User name").fill(username)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Password again").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator(".user-header")).to_contain_text(f"@{username}:", timeout=WAIT_MS)


async def sign_in_on(page: Any, homeserver: str, username: str) -> None:
    await page.get_by_label("Homeserver").fill(homeserver)
    await page.get_by_label("User name").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".user-header")).to_contain_text(f"@{username}:", timeout=WAIT_MS)


async def test_sign_up_sign_in_and_chat_on_synapse(
    browser: Any, parleyd: Parleyd, synapse: SynapsePeer, screenshot: Any  # noqa: F811
) -> None:
    alice = await open_client(browser, parleyd.base_url)
    await sign_up_on(alice, synapse.client_url, "alice")
    async with ClientSession() as http:
        bob_http = MatrixHttp(http, synapse.client_url)
        await bob_http.register("bob", PASSWORD)
        alice_http = MatrixHttp(http, synapse.client_url)
        await alice_http.login("alice", PASSWORD)
        room_id = await alice_http.create_room(preset="public_chat", name="On Synapse")
        await bob_http.join(room_id)
        bob = await open_client(browser, parleyd.base_url)
        await sign_in_on(bob, synapse.client_url, "bob")

        for page in (alice, bob):
            await page.get_by_role("link", name="On Synapse").click()
        await alice.locator(".composer textarea").fill("hello from a browser, via Synapse")
        await alice.locator(".composer textarea").press("Enter")
        await expect(bob.locator(".timeline")).to_contain_text("hello from a browser, via Synapse",
                                                               timeout=WAIT_MS)
        await bob.locator(".composer textarea").fill("and back")
        await bob.locator(".composer textarea").press("Enter")
        await expect(alice.locator(".timeline")).to_contain_text("and back", timeout=WAIT_MS)
        await screenshot(alice, "synapse-room")

        # Really on Synapse: its own /messages has both lines from the right senders.
        messages = await bob_http.messages(room_id, dir="b", limit=20)
        bodies = [(e["sender"], e["content"].get("body")) for e in messages["chunk"]
                  if e["type"] == "m.room.message"]
        assert (alice_http.user_id, "hello from a browser, via Synapse") in bodies
        assert (bob_http.user_id, "and back") in bodies
    for page in (alice, bob):
        assert page.console_errors == [], page.console_errors
