"""A room's voice channel in the browser (docs/voice.md): the web client joins through the
room header together with a Python participant (clients/voice/room.py, a 660 Hz tone);
the page hears the tone (a WebAudio analyser on the received stream, FFT), the Python
side hears Chromium's fake microphone (its periodic beeps), Mute silences each for the
other, and the browser's MatrixRTC member event appears and is emptied on Leave.

Loopback only: parleyd (a child process) gets a sitecustomize restricting aioice to
127.0.0.1, this process patches aioice the same way, and Chromium runs with
--allow-loopback-in-peer-connection (tests/web/conftest.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import aioice.ice
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from playwright.async_api import Page, expect

from clients.sdk import AsyncClient
from clients.voice.audio import ToneTrack
from clients.voice.room import CALL_MEMBER_TYPE, FocusConnection, VoiceRoom
from tests.integration.calls_helpers import loopback_env
from tests.parleyd_process import Parleyd
from tests.web.conftest import _require_chromium
from tests.web.pages import open_client, sign_up

TONE_HZ = 660.0
WAIT_S = 60.0  # WebRTC set-up on a loaded machine; reached only on failure
PROBE_SECONDS = 2.0


@pytest.fixture
async def loopback_parleyd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Parleyd]:
    """parleyd whose focus offers ICE host candidates on 127.0.0.1 only; this process too."""
    _require_chromium()
    monkeypatch.setenv("PYTHONPATH", loopback_env(tmp_path / "site")["PYTHONPATH"])
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    server = Parleyd(tmp_path / "hs")
    await server.init()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class Listener:
    """Keeps what a received aiortc track carries (mono int16 at 48 kHz), with arrival times."""

    def __init__(self) -> None:
        self.chunks: list[tuple[float, np.ndarray]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self, track: MediaStreamTrack) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(track), name="listener")

    async def _run(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, AudioFrame):
                data = frame.to_ndarray().reshape(-1)
                channels = len(frame.layout.channels)
                if channels > 1:
                    data = data.reshape(-1, channels).mean(axis=1)
                self.chunks.append((time.monotonic(), data.astype(np.float64)))

    def since(self, t0: float) -> np.ndarray:
        parts = [c for t, c in self.chunks if t >= t0]
        return np.concatenate(parts) if parts else np.zeros(0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


async def listen(listener: Listener, seconds: float) -> np.ndarray:
    t0 = time.monotonic()
    await asyncio.sleep(seconds)  # a recording window, not a wait for an event
    return listener.since(t0)


# The page side: an analyser on the stream an <audio> element plays, read several times.
ATTACH_PROBE = """(selector) => {
    const el = document.querySelector(selector);
    if (!el || !el.srcObject) return false;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    ctx.createMediaStreamSource(el.srcObject).connect(analyser);
    window.__probe = { ctx, analyser };
    return ctx.resume().then(() => true);
}"""

MEASURE = """async (seconds) => {
    const { ctx, analyser } = window.__probe;
    const freq = new Float32Array(analyser.frequencyBinCount);
    const time = new Float32Array(analyser.fftSize);
    const power = new Float64Array(analyser.frequencyBinCount);
    let energy = 0, reads = 0;
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        analyser.getFloatFrequencyData(freq);
        for (let i = 0; i < freq.length; i++) power[i] += Math.pow(10, freq[i] / 10);
        analyser.getFloatTimeDomainData(time);
        let sum = 0;
        for (const v of time) sum += v * v;
        energy += Math.sqrt(sum / time.length);
        reads++;
    }
    let peak = 1;
    for (let i = 2; i < power.length; i++) if (power[i] > power[peak]) peak = i;
    return { peakHz: peak * ctx.sampleRate / analyser.fftSize, rms: energy / reads, state: ctx.state };
}"""


async def page_hears(page: Page, seconds: float = PROBE_SECONDS) -> dict[str, float]:
    return dict(await page.evaluate(MEASURE, seconds))


async def session_of(page: Page) -> dict[str, Any]:
    return dict(json.loads(await page.evaluate("localStorage.getItem('parley.session')")))


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `condition` (room state over HTTP: there is no event to wait on) until it holds."""
    deadline = time.monotonic() + WAIT_S
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def member_content(state: list[dict[str, Any]], user_id: str) -> dict[str, Any] | None:
    for ev in state:
        if ev["type"] == CALL_MEMBER_TYPE and ev["state_key"].startswith(f"_{user_id}_"):
            return dict(ev["content"])
    return None


async def test_browser_and_python_participant_hear_each_other_mute_and_leave(
    browser: Any, loopback_parleyd: Parleyd, screenshot: Any
) -> None:
    base = loopback_parleyd.base_url
    page = await open_client(browser, base)
    await sign_up(page, "alice")
    alice = await session_of(page)

    bob = AsyncClient(base)
    listener = Listener()
    bob_voice: VoiceRoom | None = None
    try:
        await bob.register("bob", "pw-bob")
        room_id = await bob.create_room(name="Voice lounge", invite=[alice["userId"]], extra={
            "power_level_content_override": {"events": {CALL_MEMBER_TYPE: 0}}})
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/_matrix/client/v3/join/{quote(room_id, safe='')}", json={},
                                 headers={"Authorization": f"Bearer {alice['accessToken']}"}) as resp:
                assert resp.status == 200, await resp.text()

        roster: list[dict[str, Any]] = []
        bob_voice = VoiceRoom(bob, room_id, lambda url: FocusConnection(
            url, room_id, ToneTrack(TONE_HZ), on_track=listener.start, on_roster=lambda r: roster.__setitem__(
                slice(None), r)))
        await bob_voice.join(now_ms=int(time.time() * 1000))

        await page.get_by_role("navigation", name="Conversations").get_by_role("link", name="Voice lounge").click()
        header = page.locator(".room-header")
        await expect(header.get_by_role("heading")).to_have_text("Voice lounge", timeout=WAIT_S * 1000)
        channel = header.get_by_role("group", name="Voice channel")
        await expect(channel).to_contain_text("1 in voice", timeout=WAIT_S * 1000)
        await channel.get_by_role("button", name="Join voice").click()
        await expect(channel).to_contain_text("2 in voice", timeout=WAIT_S * 1000)
        mute = channel.get_by_role("button", name="Mute")
        await expect(mute).to_be_enabled(timeout=WAIT_S * 1000)  # connected

        # While in the channel, alice's homeserver holds her leave as a delayed event
        # (MSC4140), which the page keeps postponing: a closed tab leaves by itself.
        async def delayed_events() -> list[dict[str, Any]]:
            async with aiohttp.ClientSession() as http, http.get(
                f"{base}/_matrix/client/unstable/org.matrix.msc4140/delayed_events",
                headers={"Authorization": f"Bearer {alice['accessToken']}"},
            ) as resp:
                assert resp.status == 200, await resp.text()
                return list((await resp.json())["delayed_events"])

        async def leave_scheduled() -> bool:
            return any(e["type"] == CALL_MEMBER_TYPE and e["content"] == {} for e in await delayed_events())
        await wait_until(leave_scheduled, "alice's delayed leave")

        # The browser's member event, published through its homeserver, names the focus.
        async def alice_published() -> bool:
            content = member_content(await bob.get_room_state(room_id), alice["userId"])
            return bool(content)
        await wait_until(alice_published, "alice's call member event")
        content = member_content(await bob.get_room_state(room_id), alice["userId"])
        assert content is not None
        assert content["device_id"] == alice["deviceId"]
        assert content["foci_preferred"] == [{"type": "parley", "focus_url": base}]

        # The page hears Bob's tone.
        assert await page.evaluate(ATTACH_PROBE, "audio.voice-channel-audio")
        await page_hears(page, 1.0)  # the jitter buffers settle
        heard = await page_hears(page)
        assert abs(heard["peakHz"] - TONE_HZ) < 15, heard
        # Bob hears the browser's fake microphone (its beeps).
        async def bob_receives() -> bool:
            return bool(listener.chunks)
        await wait_until(bob_receives, "audio at bob")
        bob_heard = rms(await listen(listener, PROBE_SECONDS))
        # Both speak: the roster marks them, and the header shows it.
        await expect(channel.locator(".voice-participant.speaking")).not_to_have_count(0, timeout=WAIT_S * 1000)
        await screenshot(page, "in-channel")

        # Alice mutes: Bob hears silence, the roster shows her muted.
        await mute.click()
        await expect(channel.get_by_role("button", name="Unmute")).to_be_visible()
        await expect(channel.locator(f'.voice-participant.muted[data-user-id="{alice["userId"]}"]')).to_have_count(
            1, timeout=WAIT_S * 1000)
        await asyncio.sleep(0.5)  # what was in flight before the mute
        bob_heard_muted = rms(await listen(listener, PROBE_SECONDS))
        await screenshot(page, "muted")
        await channel.get_by_role("button", name="Unmute").click()
        await expect(channel.locator(".voice-participant.muted")).to_have_count(0, timeout=WAIT_S * 1000)

        # Bob mutes: the page's received energy drops.
        assert bob_voice.connection is not None
        await bob_voice.connection.set_muted(True)
        await asyncio.sleep(0.5)
        heard_bob_muted = await page_hears(page)
        await bob_voice.connection.set_muted(False)

        print(f"\npage heard {heard}; bob heard rms {bob_heard:.1f} (alice muted: {bob_heard_muted:.1f}); "
              f"page with bob muted {heard_bob_muted}")
        assert bob_heard > 200, bob_heard
        assert bob_heard_muted < bob_heard / 20, (bob_heard, bob_heard_muted)
        assert heard_bob_muted["rms"] < heard["rms"] / 20, (heard, heard_bob_muted)

        # Leave: the header says so, and the member event is emptied.
        await channel.get_by_role("button", name="Leave voice").click()
        await expect(channel.get_by_role("button", name="Join voice")).to_be_visible(timeout=WAIT_S * 1000)
        await expect(channel).to_contain_text("1 in voice", timeout=WAIT_S * 1000)

        async def alice_left() -> bool:
            return member_content(await bob.get_room_state(room_id), alice["userId"]) == {}
        await wait_until(alice_left, "alice's emptied call member event")
        assert await delayed_events() == []  # a clean leave cancels the delayed one
        assert [p["user_id"] for p in roster] == [bob.require_user_id()]
        await screenshot(page, "left")
        assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]
    finally:
        await listener.stop()
        if bob_voice is not None and bob_voice.connection is not None:
            await bob_voice.connection.close()
        await bob.close()
