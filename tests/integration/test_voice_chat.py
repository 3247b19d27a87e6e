"""`parley chat` and a room's voice channel: who is in it, /voice, /voice leave (docs/voice.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from textual.widgets import Input

from clients.cli.chat import voice as chat_voice
from clients.cli.chat.app import ChatApp
from clients.sdk import AsyncClient
from clients.voice._focus_audio import WavRecorder, read_wav
from clients.voice.audio import AudioUnavailableError, ToneTrack
from clients.voice.room import CALL_MEMBER_TYPE, FocusConnection, VoiceRoom
from tests.conftest import RunningHomeserver
from tests.integration.test_cli_chat import pair, text_of
from tests.integration.test_voice_focus import tone_strength

__all__ = ["pair"]

HEARD_FRAMES = 150  # 3 s
WAIT_S = 60.0  # WebRTC set-up on a loaded CI machine: generous, and only reached on failure


async def until(pilot: Any, condition: Callable[[], bool]) -> None:
    """Let the app process messages until `condition` holds (bounded by WAIT_S)."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await pilot.pause(0.05)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield


class Bob:
    """The other participant: an SDK-level client in the channel, sending 880 Hz, recording."""

    def __init__(self, client: AsyncClient, room_id: str, wav: Path) -> None:
        self.recorder = WavRecorder(wav)
        self.roster: list[dict[str, Any]] = []
        self.room = VoiceRoom(client, room_id, lambda url: FocusConnection(
            url, room_id, ToneTrack(880), on_track=self.recorder.start, on_roster=self._on_roster))

    def _on_roster(self, roster: list[dict[str, Any]]) -> None:
        self.roster = roster


@pytest.fixture
async def voice_pair(pair: tuple[AsyncClient, AsyncClient], tmp_path: Path
                     ) -> AsyncIterator[tuple[AsyncClient, AsyncClient, str, Bob]]:
    alice, bob = pair
    room_id = await bob.create_room(name="Voice", invite=[alice.require_user_id()],
                                    extra={"power_level_content_override": {"events": {CALL_MEMBER_TYPE: 0}}})
    await alice.join(room_id)
    await bob.set_displayname("Bob\x1b[2J")  # shown literally, never obeyed
    other = Bob(bob, room_id, tmp_path / "bob.wav")
    yield alice, bob, room_id, other
    await other.recorder.stop()
    if other.room.connection is not None:
        await other.room.connection.close()


async def submit(pilot: Any, app: ChatApp, text: str) -> None:
    """Type `text` into the composer and press Enter. Set at once: with audio flowing the
    process is never idle, and the pilot waits up to 2 s for idleness after every key."""
    app.query_one("#composer", Input).value = text
    await pilot.press("enter")


def voice_line(app: ChatApp) -> str:
    return next((line for line in text_of(app, "#people").splitlines() if line.startswith("🔊")), "")


async def test_chat_shows_the_channel_joins_with_a_tone_that_is_heard_and_leaves(
    voice_pair: tuple[AsyncClient, AsyncClient, str, Bob], homeserver: RunningHomeserver
) -> None:
    alice, _bob, room_id, bob = voice_pair
    app = ChatApp(alice, sync_timeout_ms=2000)
    async with app.run_test(size=(140, 40)) as pilot:
        app.select_room(room_id)
        await until(pilot, lambda: app.current_room is not None and app.current_room.my_membership == "join")
        assert voice_line(app) == ""
        await bob.room.join(now_ms=int(time.time() * 1000))
        await until(pilot, lambda: voice_line(app) == "🔊 in voice: Bob␛[2J")

        await submit(pilot, app, "/voice --tone 440")
        # The chat's own line comes from the focus's roster once it is connected.
        await until(pilot, lambda: voice_line(app).startswith("🔊 in voice (you too): ")
                    and "alice" in voice_line(app) and "Bob␛[2J" in voice_line(app))
        assert app.voice is not None and not app.voice.muted
        alice_id = alice.require_user_id()
        await until(pilot, lambda: any(e["user_id"] == alice_id and e["speaking"] for e in bob.roster))
        start = bob.recorder.frames_written
        await until(pilot, lambda: bob.recorder.frames_written >= start + HEARD_FRAMES)
        await bob.recorder.stop()
        samples, rate = read_wav(bob.recorder.path)
        tail = samples[-2 * rate:]
        assert tone_strength(tail, 440, rate) > 20 * tone_strength(tail, 880, rate)

        await submit(pilot, app, "/voice leave")
        await until(pilot, lambda: app.voice is None and voice_line(app) == "🔊 in voice: Bob␛[2J")
        await until(pilot, lambda: [e["user_id"] for e in bob.roster] == [bob.room.client.user_id])
        state = await alice.get_room_state(room_id)
        own = [e for e in state if e["type"] == CALL_MEMBER_TYPE and e["sender"] == alice_id]
        assert own and all(e["content"] == {} for e in own)

        await bob.room.leave()
        await until(pilot, lambda: voice_line(app) == "")


async def test_without_a_microphone_the_chat_joins_muted_and_quitting_leaves(
    voice_pair: tuple[AsyncClient, AsyncClient, str, Bob], homeserver: RunningHomeserver,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, _bob, room_id, bob = voice_pair

    def no_microphone() -> Any:
        raise AudioUnavailableError("no audio input device")

    monkeypatch.setattr(chat_voice, "device_source", no_microphone)
    await bob.room.join(now_ms=int(time.time() * 1000))
    alice_id = alice.require_user_id()
    app = ChatApp(alice, sync_timeout_ms=2000)
    async with app.run_test(size=(140, 40)) as pilot:
        app.select_room(room_id)
        await until(pilot, lambda: voice_line(app) == "🔊 in voice: Bob␛[2J")
        await submit(pilot, app, "/voice")
        await until(pilot, lambda: f"{alice_id} (muted)" in voice_line(app))
        assert any("joined muted (listen-only)" in str(n.message) for n in app._notifications)
        assert any(e["user_id"] == alice_id and e["muted"] for e in bob.roster)
        await submit(pilot, app, "/quit")
    # Quitting left the channel: the focus dropped us and our member event is empty.
    assert all(e["user_id"] != alice_id for e in homeserver.hs.voice.roster(room_id))
    state = await alice.get_room_state(room_id)
    assert all(e["content"] == {} for e in state if e["type"] == CALL_MEMBER_TYPE and e["sender"] == alice_id)
