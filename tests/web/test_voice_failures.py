"""Voice channel failures are said in words, here in French: no microphone, the focus
refusing the offer, and the connection dropping (the server goes away mid-call)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp
from playwright.async_api import Page, expect

from clients.sdk import AsyncClient
from clients.voice.room import CALL_MEMBER_TYPE
from tests.parleyd_process import Parleyd
from tests.web.pages import open_client, sign_up
from tests.web.test_voice_channel import WAIT_S, loopback_parleyd, session_of

__all__ = ["loopback_parleyd"]

NO_MICROPHONE = """() => {
    navigator.mediaDevices.getUserMedia = () =>
        Promise.reject(new DOMException("Requested device not found", "NotFoundError"));
}"""


async def voice_room(page: Page, base: str) -> tuple[AsyncClient, str]:
    """A room with a voice channel anyone may join, the page's user in it and looking at it."""
    alice = await session_of(page)
    bob = AsyncClient(base)
    await bob.register("bob", "pw-bob")
    room_id = await bob.create_room(name="Salon", invite=[alice["userId"]], extra={
        "power_level_content_override": {"events": {CALL_MEMBER_TYPE: 0}}})
    async with aiohttp.ClientSession() as http, http.post(
            f"{base}/_matrix/client/v3/join/{quote(room_id, safe='')}", json={},
            headers={"Authorization": f"Bearer {alice['accessToken']}"}) as resp:
        assert resp.status == 200, await resp.text()
    return bob, room_id


async def reload_in_room(page: Page) -> None:
    """Load the app afresh (dropping test patches) and open the room once it has synced."""
    await page.goto("/")
    await page.get_by_role("navigation").get_by_role("link", name="Salon").click()


async def test_no_microphone_refusal_and_dropped_connection_are_shown_in_french(
    browser: Any, loopback_parleyd: Parleyd, screenshot: Any
) -> None:
    base = loopback_parleyd.base_url
    page = await open_client(browser, base)  # pages.sign_up speaks English; French after it
    await sign_up(page, "alice")
    bob, _room_id = await voice_room(page, base)
    try:
        await page.evaluate("localStorage.setItem('parley.lang', 'fr')")
        await reload_in_room(page)
        channel = page.get_by_role("group", name="Salon vocal")
        join = channel.get_by_role("button", name="Rejoindre le vocal")
        await expect(channel).to_contain_text("Personne en vocal", timeout=WAIT_S * 1000)

        # No microphone.
        await page.evaluate(NO_MICROPHONE)
        await join.click()
        alert = page.locator(".voice-error")
        await expect(alert).to_have_attribute("role", "alert")
        await expect(alert).to_contain_text("Aucun micro n'est disponible", timeout=WAIT_S * 1000)
        await screenshot(page, "no-microphone")
        await alert.get_by_role("button", name="Fermer").click()
        await expect(alert).to_have_count(0)

        # The focus refuses (as it would a user without the power level): its words are shown.
        await reload_in_room(page)
        await page.route("**/_parley/voice/v1/rooms/*/join", lambda route: route.fulfill(
            status=403, content_type="application/json",
            body=json.dumps({"errcode": "M_FORBIDDEN", "error": "Not allowed to join the voice channel"})))
        await join.click()
        await expect(alert).to_contain_text(
            "Le serveur vocal a refusé la connexion : Not allowed to join the voice channel (M_FORBIDDEN)",
            timeout=WAIT_S * 1000)
        await expect(join).to_be_visible()  # one can try again
        await page.unroute("**/_parley/voice/v1/rooms/*/join")

        # Connected, then the server goes away: the connection is reported lost.
        await join.click()
        await expect(channel.get_by_role("button", name="Couper le micro")).to_be_enabled(timeout=WAIT_S * 1000)
        await loopback_parleyd.stop()
        await expect(alert).to_contain_text("La connexion vocale a été perdue", timeout=WAIT_S * 1000)
        await expect(join).to_be_visible()
        await screenshot(page, "dropped")
    finally:
        await bob.close()
