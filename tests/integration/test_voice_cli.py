"""`parley voice` as real subprocesses: two people in a voice channel hear each other."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aioice.ice
import pytest

from clients.voice._focus_audio import read_wav
from clients.voice.audio import sound_backends
from clients.voice.room import CALL_MEMBER_TYPE, HOST_ADDRESSES_ENV
from tests.conftest import RunningHomeserver
from tests.integration.test_cli import WAIT, Parley
from tests.integration.test_voice_focus import tone_strength


@pytest.fixture
def parley(tmp_path: Path, homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch) -> Parley:
    # Loopback only, in the server (this process) and in the clients (the environment).
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    p = Parley(tmp_path / "config", homeserver)
    p.env[HOST_ADDRESSES_ENV] = "127.0.0.1"
    return p


async def test_two_parley_voice_clients_hear_each_other_and_leave(
    parley: Parley, homeserver: RunningHomeserver, tmp_path: Path
) -> None:
    await parley.register("a", "alice")
    await parley.register("b", "bob")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Voice", "--public")).json()["room_id"]
    await parley.ok("-p", "b", "join", room_id)
    # Call member events are open to every member here (as in Element's call rooms).
    owner = homeserver.api(json.loads((parley.config_dir / "profiles" / "a.json").read_text())["access_token"])
    levels = await owner.get_state(room_id, "m.room.power_levels")
    await owner.send_state(room_id, "m.room.power_levels",
                           {**levels, "events": {**levels.get("events", {}), CALL_MEMBER_TYPE: 0}})

    a_wav, b_wav = tmp_path / "a.wav", tmp_path / "b.wav"
    procs = [
        await parley.start("-p", "a", "--json", "voice", room_id, "--tone", "440", "--record", str(a_wav),
                           "--duration", "6"),
        await parley.start("-p", "b", "--json", "voice", room_id, "--tone", "880", "--record", str(b_wav),
                           "--duration", "6"),
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), WAIT)
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        lines = [json.loads(line) for line in out.decode().splitlines()]
        assert any(len(line.get("participants", [])) == 2 for line in lines), lines
        assert lines[-1] == {"room_id": room_id, "left": True}

    for wav, own, other in [(a_wav, 440.0, 880.0), (b_wav, 880.0, 440.0)]:
        samples, rate = read_wav(wav)
        assert len(samples) > 3 * rate, wav
        middle = samples[len(samples) // 2 - rate: len(samples) // 2 + rate]  # both surely present
        assert tone_strength(middle, other, rate) > 20 * tone_strength(middle, own, rate), wav

    state = await owner.request("GET", f"/_matrix/client/v3/rooms/{room_id}/state")
    members = [e for e in state if e["type"] == CALL_MEMBER_TYPE]
    assert len(members) == 2 and all(e["content"] == {} for e in members), members


async def test_ctrl_c_leaves_the_channel_and_clears_the_member_event(
    parley: Parley, homeserver: RunningHomeserver
) -> None:
    alice = await parley.register("a", "alice")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Voice", "--public")).json()["room_id"]
    proc = await parley.start("-p", "a", "--json", "voice", room_id, "--tone", "440")
    assert proc.stdout is not None
    seen = []
    async with asyncio.timeout(WAIT):
        while True:
            line = json.loads(await proc.stdout.readline())
            seen.append(line)
            if [e["user_id"] for e in line.get("participants", [])] == [alice]:
                break
    # Without --record the channel plays on the speaker; a machine without one is told so.
    if not sound_backends():
        assert {"speaker": None, "reason": "no audio output device (no PulseAudio server and no ALSA "
                "sound card)"} in seen, seen
    owner = homeserver.api(json.loads((parley.config_dir / "profiles" / "a.json").read_text())["access_token"])
    state = await owner.request("GET", f"/_matrix/client/v3/rooms/{room_id}/state")
    assert [e["content"]["device_id"] for e in state if e["type"] == CALL_MEMBER_TYPE]

    proc.send_signal(signal.SIGINT)
    out, _err = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode == 130
    assert json.loads(out.decode().splitlines()[-1]) == {"room_id": room_id, "left": True}
    state = await owner.request("GET", f"/_matrix/client/v3/rooms/{room_id}/state")
    assert all(e["content"] == {} for e in state if e["type"] == CALL_MEMBER_TYPE)
    assert homeserver.hs.voice.roster(room_id) == []
