"""Voice rooms through the homeserver's media focus (docs/voice.md), over real WebRTC on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aioice.ice
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RtpPacket

from clients.voice._focus_audio import WavRecorder, read_wav
from clients.voice.audio import ToneTrack
from clients.voice.room import (
    CALL_MEMBER_TYPE,
    FocusConnection,
    FocusError,
    member_content,
    member_state_key,
)
from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp

TONES = {"alice": 440.0, "bob": 660.0, "carol": 880.0}
HEARD_FRAMES = 150  # 3 s of audio
WAIT_S = 30.0


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The issue: aioice otherwise offers every interface of the machine.
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield


async def voice_room(hs: RunningHomeserver, names: list[str]) -> tuple[str, dict[str, MatrixHttp]]:
    users = {name: await hs.register(name) for name in names}
    owner = users[names[0]]
    room_id = await owner.create_room(
        preset="public_chat",
        power_level_content_override={"events": {CALL_MEMBER_TYPE: 0}},
    )
    for name in names[1:]:
        await users[name].join(room_id)
    return room_id, users


async def openid_token(api: MatrixHttp) -> dict[str, Any]:
    path = f"/_matrix/client/v3/user/{quote(api.user_id or '', safe='')}/openid/request_token"
    return await api.request("POST", path, {})  # type: ignore[no-any-return]


def has_member(room_id: str, user_id: str, membership: str) -> Any:
    def found(response: dict[str, Any]) -> bool:
        room = response.get("rooms", {}).get("join", {}).get(room_id, {})
        events = room.get("timeline", {}).get("events", []) + room.get("state", {}).get("events", [])
        return any(e["type"] == "m.room.member" and e.get("state_key") == user_id
                   and e["content"].get("membership") == membership for e in events)
    return found


def tone_strength(samples: np.ndarray, hz: float, rate: int) -> float:
    window = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(window))
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate)
    band = (freqs > hz - 15) & (freqs < hz + 15)
    return float(spectrum[band].max())


class Participant:
    def __init__(self, hs: RunningHomeserver, room_id: str, api: MatrixHttp, hz: float, wav: Path) -> None:
        self.api = api
        self.recorder = WavRecorder(wav)
        self.roster: list[dict[str, Any]] = []
        self.roster_changed = asyncio.Event()
        self.conn = FocusConnection(hs.base_url, room_id, ToneTrack(hz),
                                    on_track=self.recorder.start, on_roster=self._on_roster)

    def _on_roster(self, roster: list[dict[str, Any]]) -> None:
        self.roster = roster
        self.roster_changed.set()

    async def join(self, *, with_access_token: bool = False) -> None:
        assert self.api.device_id is not None
        if with_access_token:  # a local user's fallback
            await self.conn.join(self.api.device_id, access_token=self.api.access_token)
        else:
            await self.conn.join(self.api.device_id, openid_token=await openid_token(self.api))

    async def wait_roster(self, predicate: Any) -> None:
        async with asyncio.timeout(WAIT_S):
            while not predicate(self.roster):
                self.roster_changed.clear()
                await self.roster_changed.wait()


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Participant]]:
    made: list[Participant] = []
    yield made
    for p in made:
        await p.recorder.stop()
        await p.conn.close()


async def test_three_participants_each_hear_the_other_two_and_not_themselves(
    homeserver: RunningHomeserver, tmp_path: Path, cleanup: list[Participant]
) -> None:
    room_id, users = await voice_room(homeserver, list(TONES))
    people = {name: Participant(homeserver, room_id, users[name], hz, tmp_path / f"{name}.wav")
              for name, hz in TONES.items()}
    cleanup.extend(people.values())
    for p in people.values():
        await p.join()
    async with asyncio.timeout(WAIT_S):
        for p in people.values():
            await p.recorder.wait_for_frames(HEARD_FRAMES + 100)
    for p in people.values():
        await p.recorder.stop()

    for name, p in people.items():
        samples, rate = read_wav(p.recorder.path)
        tail = samples[-HEARD_FRAMES * 960:]  # the last 3 s: everyone has joined by then
        strength = {other: tone_strength(tail, hz, rate) for other, hz in TONES.items()}
        others = [s for other, s in strength.items() if other != name]
        assert min(others) > 20 * strength[name], (name, strength)


async def test_roster_reaches_everyone_and_says_who_speaks(
    homeserver: RunningHomeserver, tmp_path: Path, cleanup: list[Participant]
) -> None:
    room_id, users = await voice_room(homeserver, ["alice", "bob"])
    alice = Participant(homeserver, room_id, users["alice"], 440, tmp_path / "a.wav")
    bob = Participant(homeserver, room_id, users["bob"], 660, tmp_path / "b.wav")
    cleanup.extend([alice, bob])
    await alice.join()
    await bob.join(with_access_token=True)
    both_speaking = lambda r: len(r) == 2 and all(e["speaking"] for e in r)  # noqa: E731
    await alice.wait_roster(both_speaking)
    await bob.conn.set_muted(True)
    await alice.wait_roster(lambda r: any(e["user_id"] == users["bob"].user_id and e["muted"]
                                          and not e["speaking"] for e in r))
    await bob.conn.leave()
    await alice.wait_roster(lambda r: [e["user_id"] for e in r] == [users["alice"].user_id])


async def test_dropped_participant_disappears_from_the_room_state(
    homeserver: RunningHomeserver, tmp_path: Path, cleanup: list[Participant]
) -> None:
    room_id, users = await voice_room(homeserver, ["alice", "bob"])
    alice = Participant(homeserver, room_id, users["alice"], 440, tmp_path / "a.wav")
    bob = Participant(homeserver, room_id, users["bob"], 660, tmp_path / "b.wav")
    cleanup.extend([alice, bob])
    bob_key = member_state_key(users["bob"].user_id or "", users["bob"].device_id or "")
    await users["bob"].send_state(room_id, CALL_MEMBER_TYPE,
                                  member_content(users["bob"].device_id or "", homeserver.base_url), bob_key)
    await alice.join()
    await bob.join()
    await alice.wait_roster(lambda r: len(r) == 2 and all(e["speaking"] for e in r))  # media flows

    # Alice's client sees Bob's membership through /sync ...
    watcher = users["alice"]
    first = await watcher.sync()
    state = first["rooms"]["join"][room_id]["state"]["events"] + first["rooms"]["join"][room_id]["timeline"]["events"]
    assert any(e["type"] == CALL_MEMBER_TYPE and e["state_key"] == bob_key and e["content"] for e in state)

    # ... Bob's machine vanishes without a word (no leave, no DTLS close): the focus notices
    # the silence, drops him from the channel and clears his member event.
    loop = asyncio.get_running_loop()
    bob.conn.source.stop()
    silent_since = loop.time()
    await alice.wait_roster(lambda r: [e["user_id"] for e in r] == [users["alice"].user_id])
    assert loop.time() - silent_since < 6.0  # "removed within a few seconds"
    since = first["next_batch"]
    async with asyncio.timeout(WAIT_S):
        while True:
            page = await watcher.sync(since=since, timeout=10_000)
            since = page["next_batch"]
            events = page.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {}).get("events", [])
            if any(e["type"] == CALL_MEMBER_TYPE and e["state_key"] == bob_key and e["content"] == {}
                   for e in events):
                break


async def test_malformed_sdp_is_refused(homeserver: RunningHomeserver) -> None:
    room_id, users = await voice_room(homeserver, ["alice"])
    alice = users["alice"]
    path = f"/_parley/voice/v1/rooms/{quote(room_id, safe='')}/join"
    for sdp in ["not an sdp at all", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"]:
        status, body = await alice.status_of("POST", path, body={"sdp": sdp, "device_id": alice.device_id})
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), body
    status, body = await alice.status_of("POST", path, body={"sdp": 42})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


async def test_offer_for_a_room_the_user_is_not_in_is_forbidden(
    homeserver: RunningHomeserver, tmp_path: Path, cleanup: list[Participant]
) -> None:
    room_id, users = await voice_room(homeserver, ["alice"])
    mallory = await homeserver.register("mallory")
    p = Participant(homeserver, room_id, mallory, 440, tmp_path / "m.wav")
    cleanup.append(p)
    with pytest.raises(FocusError) as err:
        await p.join()
    assert (err.value.status, err.value.errcode) == (403, "M_FORBIDDEN")


async def test_member_without_the_call_member_power_level_is_forbidden(
    homeserver: RunningHomeserver, tmp_path: Path, cleanup: list[Participant]
) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")  # call member events need state_default (50)
    await bob.join(room_id)
    p = Participant(homeserver, room_id, bob, 440, tmp_path / "b.wav")
    cleanup.append(p)
    with pytest.raises(FocusError) as err:
        await p.join()
    assert (err.value.status, err.value.errcode) == (403, "M_FORBIDDEN")


async def test_garbage_replayed_or_missing_token_is_unauthorised(
    homeserver: RunningHomeserver, tmp_path: Path, cleanup: list[Participant]
) -> None:
    room_id, users = await voice_room(homeserver, ["alice"])
    path = f"/_parley/voice/v1/rooms/{quote(room_id, safe='')}/join"
    anonymous = homeserver.api()
    garbage = {"access_token": "garbage", "token_type": "Bearer",
               "matrix_server_name": homeserver.server_name, "expires_in": 3600}
    status, body = await anonymous.status_of("POST", path, body={"openid_token": garbage, "device_id": "D",
                                                                 "sdp": "v=0"})
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN"), body
    status, body = await anonymous.status_of("POST", path, body={"device_id": "D", "sdp": "v=0"})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")

    token = await openid_token(users["alice"])
    p = Participant(homeserver, room_id, users["alice"], 440, tmp_path / "a.wav")
    cleanup.append(p)
    await p.conn.join(users["alice"].device_id or "", openid_token=token)
    status, body = await anonymous.status_of("POST", path, body={"openid_token": token, "device_id": "D",
                                                                 "sdp": "v=0"})
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN"), body  # one session per token


class Mute(MediaStreamTrack):
    """A source that never yields a frame: its peer's RTP comes from the test instead."""

    kind = "audio"

    async def recv(self) -> Any:
        await asyncio.Event().wait()


async def test_garbage_rtp_from_one_participant_does_not_stop_the_others(
    homeserver: RunningHomeserver, tmp_path: Path, cleanup: list[Participant]
) -> None:
    room_id, users = await voice_room(homeserver, ["alice", "bob", "carol"])
    alice = Participant(homeserver, room_id, users["alice"], 440, tmp_path / "a.wav")
    bob = Participant(homeserver, room_id, users["bob"], 880, tmp_path / "b.wav")
    carol = Participant(homeserver, room_id, users["carol"], 1000, tmp_path / "c.wav")
    carol.conn.source = Mute()
    cleanup.extend([alice, bob, carol])
    for p in (alice, bob, carol):
        await p.join()
    await alice.wait_roster(lambda r: len(r) == 3)

    # Carol's client sends well-encrypted SRTP whose Opus payloads are random bytes.
    sender = carol.conn.pc.getSenders()[0]
    transceiver = carol.conn.pc.getTransceivers()[0]
    payload_type = transceiver._codecs[0].payloadType
    rng = np.random.default_rng(7)

    async def spew() -> None:
        for seq in range(100_000):
            packet = RtpPacket(payload_type=payload_type, sequence_number=seq % 65536, timestamp=seq * 960,
                               ssrc=sender._ssrc, payload=rng.bytes(int(rng.integers(1, 400))))
            await sender.transport._send_rtp(packet.serialize())
            await asyncio.sleep(0.005)  # a steady stream, faster than real audio

    spewing = asyncio.get_running_loop().create_task(spew())
    try:
        starts = [alice.recorder.frames_written, bob.recorder.frames_written]
        async with asyncio.timeout(WAIT_S):
            await alice.recorder.wait_for_frames(starts[0] + HEARD_FRAMES)
            await bob.recorder.wait_for_frames(starts[1] + HEARD_FRAMES)
        assert homeserver.hs.voice.roster(room_id)  # the focus is still serving
    finally:
        spewing.cancel()
        await asyncio.gather(spewing, return_exceptions=True)
    for p in (alice, bob):
        await p.recorder.stop()
    for p, other in [(alice, 880.0), (bob, 440.0)]:
        samples, rate = read_wav(p.recorder.path)
        tail = samples[-2 * rate:]
        # The other's tone stands far above the spectrum around it, noise or not.
        assert tone_strength(tail, other, rate) > 10 * tone_strength(tail, other * 1.37, rate), p.recorder.path
