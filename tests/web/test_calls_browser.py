"""1:1 voice calls in the browser (Matrix VoIP through matrix-js-sdk's MatrixCall): Alice
calls Bob from their DM's header, Bob answers in the call panel, both hear the other's
microphone (Chromium's fake device: periodic beeps), mute silences Alice for Bob, and
hanging up ends the call on both sides."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import numpy as np
from playwright.async_api import Page, expect

from clients.sdk import AsyncClient
from clients.sdk.backoff import Backoff
from clients.sdk.calls import CallManager
from clients.voice.audio import dominant_frequency, read_wav, tone_source, wav_sink
from tests.integration.calls_helpers import wait_for_audio
from tests.integration.test_sdk_client import Syncing
from tests.parleyd_process import Parleyd
from tests.web.pages import open_client, sign_up
from tests.web.test_voice_channel import (
    ATTACH_PROBE,
    TONE_HZ,
    WAIT_S,
    loopback_parleyd,
    page_hears,
    session_of,
)

__all__ = ["loopback_parleyd"]

CALL_AUDIO = "audio.call-audio"


async def dm(base: str, alice: dict[str, Any], bob: dict[str, Any]) -> str:
    """A direct chat of the two, created and joined over HTTP (the DM UI is not ours)."""
    async with aiohttp.ClientSession() as http:
        async def call(session: dict[str, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with http.post(f"{base}/_matrix/client/v3/{path}", json=body,
                                 headers={"Authorization": f"Bearer {session['accessToken']}"}) as resp:
                assert resp.status == 200, await resp.text()
                return dict(await resp.json())
        room_id = str((await call(alice, "createRoom", {
            "preset": "trusted_private_chat", "is_direct": True, "invite": [bob["userId"]]}))["room_id"])
        await call(bob, f"join/{quote(room_id, safe='')}", {})
        return room_id


async def open_room(page: Page, name: str) -> None:
    await page.get_by_role("navigation", name="Conversations").get_by_role("link", name=name).click()
    await expect(page.locator(".room-header").get_by_role("heading")).to_have_text(name, timeout=WAIT_S * 1000)


async def test_browser_calls_browser_both_hear_mute_and_hang_up(
    browser: Any, loopback_parleyd: Parleyd, screenshot: Any
) -> None:
    base = loopback_parleyd.base_url
    alice_page = await open_client(browser, base)
    await sign_up(alice_page, "alice")
    bob_page = await open_client(browser, base)
    await sign_up(bob_page, "bob")
    alice, bob = await session_of(alice_page), await session_of(bob_page)
    await dm(base, alice, bob)
    await open_room(alice_page, bob["userId"])  # no display names: rooms and people go by user ID
    await open_room(bob_page, alice["userId"])

    await alice_page.get_by_role("button", name=f"Start a voice call with {bob['userId']}").click()
    alice_panel = alice_page.get_by_role("region", name=f"Voice call with {bob['userId']}")
    await expect(alice_panel).to_contain_text("Calling", timeout=WAIT_S * 1000)
    ringing = bob_page.get_by_role("alertdialog", name=f"Voice call with {alice['userId']}")
    await expect(ringing).to_contain_text("Incoming voice call", timeout=WAIT_S * 1000)
    await screenshot(bob_page, "incoming")
    await expect(ringing.get_by_role("button", name="Answer")).to_be_focused()
    await bob_page.keyboard.press("Enter")  # the keyboard answers

    bob_panel = bob_page.get_by_role("region", name=f"Voice call with {alice['userId']}")
    for panel in (alice_panel, bob_panel):
        await expect(panel).to_have_attribute("data-call-state", "connected", timeout=WAIT_S * 1000)
        await expect(panel).to_have_attribute("data-peer-state", "connected", timeout=WAIT_S * 1000)
    await screenshot(alice_page, "connected")

    for page in (alice_page, bob_page):
        assert await page.evaluate(ATTACH_PROBE, CALL_AUDIO)
        await page_hears(page, 1.0)
    alice_hears, bob_hears = await page_hears(alice_page), await page_hears(bob_page)

    await alice_panel.get_by_role("button", name="Mute").click()
    await expect(alice_panel.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
    await page_hears(bob_page, 0.5)  # what was in flight
    bob_hears_muted = await page_hears(bob_page)
    print(f"\nalice hears {alice_hears}; bob hears {bob_hears}; with alice muted {bob_hears_muted}")
    assert alice_hears["rms"] > 0.005 and bob_hears["rms"] > 0.005, (alice_hears, bob_hears)
    assert bob_hears_muted["rms"] < bob_hears["rms"] / 20, (bob_hears, bob_hears_muted)

    await bob_panel.get_by_role("button", name="Hang up").click()
    for panel in (alice_panel, bob_panel):
        await expect(panel).to_have_attribute("data-call-state", "ended", timeout=WAIT_S * 1000)
    await expect(alice_panel).to_contain_text("Call ended")
    await screenshot(alice_page, "ended")
    for page in (alice_page, bob_page):
        assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]


async def test_python_call_client_calls_the_browser_and_they_hear_each_other(
    browser: Any, loopback_parleyd: Parleyd, screenshot: Any, tmp_path: Path
) -> None:
    """Interop: Parley's own call client (clients/sdk/calls.py, aiortc, a 660 Hz tone) rings
    the browser; the browser answers, hears the tone, the Python side hears the browser's
    beeps, and the browser's hang-up ends the Python side's call."""
    base = loopback_parleyd.base_url
    page = await open_client(browser, base)
    await sign_up(page, "alice")
    alice = await session_of(page)
    bob = AsyncClient(base, backoff=Backoff(initial=0.05, maximum=0.5))
    calls = CallManager(bob, ice_servers=[])
    heard_by_bob = tmp_path / "bob.wav"
    try:
        await bob.register("bob", "pw-bob")
        room_id = await bob.create_room(invite=[alice["userId"]], is_direct=True, preset="trusted_private_chat")
        async with aiohttp.ClientSession() as http, http.post(
                f"{base}/_matrix/client/v3/join/{quote(room_id, safe='')}", json={},
                headers={"Authorization": f"Bearer {alice['accessToken']}"}) as resp:
            assert resp.status == 200, await resp.text()
        async with Syncing(bob):
            outgoing = await calls.place_call(room_id, tone_source(TONE_HZ), wav_sink(heard_by_bob),
                                              invitee=alice["userId"])
            ringing = page.get_by_role("alertdialog", name=f"Voice call with {bob.require_user_id()}")
            await expect(ringing).to_contain_text("Incoming voice call", timeout=WAIT_S * 1000)
            await ringing.get_by_role("button", name="Answer").click()
            panel = page.get_by_role("region", name=f"Voice call with {bob.require_user_id()}")
            await expect(panel).to_have_attribute("data-call-state", "connected", timeout=WAIT_S * 1000)
            await expect(panel).to_have_attribute("data-peer-state", "connected", timeout=WAIT_S * 1000)
            await outgoing.wait_connected(WAIT_S)
            await screenshot(page, "with-python")

            assert await page.evaluate(ATTACH_PROBE, CALL_AUDIO)
            await page_hears(page, 1.0)
            heard = await page_hears(page)
            await wait_for_audio(heard_by_bob, 3.0, WAIT_S)

            await panel.get_by_role("button", name="Hang up").click()
            reason = await outgoing.wait_ended(WAIT_S)
            await expect(panel).to_have_attribute("data-call-state", "ended", timeout=WAIT_S * 1000)
            await calls.close()
        samples, rate = read_wav(heard_by_bob)
        bob_peak = dominant_frequency(samples[rate:].astype(np.float64), rate)
        bob_rms = float(np.sqrt(np.mean(samples[rate:].astype(np.float64) ** 2)))
        print(f"\nbrowser hears {heard}; python hears peak {bob_peak:.0f} Hz, rms {bob_rms:.0f}; ended: {reason}")
        assert abs(heard["peakHz"] - TONE_HZ) < 15, heard
        assert bob_rms > 200, bob_rms
        assert outgoing.call.ended_by_remote
        assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]
    finally:
        await calls.close()
        await bob.close()
