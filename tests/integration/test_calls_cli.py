"""`parley call` / `answer` / `hangup` as real subprocesses against a homeserver on
loopback: a tone each way, checked by FFT, and every way a call ends.

The subprocesses restrict ICE to 127.0.0.1 through ``sitecustomize`` (see
``calls_helpers.loopback_env``) and find no TURN server, so ``iceServers=[]``."""

from __future__ import annotations

import asyncio
import json
import signal
import wave
from pathlib import Path

import pytest

from clients.voice.audio import sound_backends, tone_samples, wav_dominant_frequency
from tests.conftest import RunningHomeserver
from tests.integration.calls_helpers import loopback_env, read_until, recorded_seconds
from tests.integration.test_cli import Parley

WAIT = 45.0


@pytest.fixture
def parley(tmp_path: Path, homeserver: RunningHomeserver) -> Parley:
    cli = Parley(tmp_path / "config", homeserver)
    cli.env.update(loopback_env(tmp_path / "site"))
    return cli


async def room_for_two(parley: Parley, *extra: str) -> str:
    await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    room_id = str((await parley.ok("-p", "a", "--json", "create", "Calls", *extra, "--invite", bob)).json()["room_id"])
    await parley.ok("-p", "b", "join", room_id)
    return room_id


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, dict[str, object], str]:
    out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode is not None
    lines = out.decode().splitlines()
    return proc.returncode, (json.loads(lines[-1]) if lines else {}), err.decode()


async def test_call_and_answer_carry_a_tone_each_way(parley: Parley, tmp_path: Path) -> None:
    room_id = await room_for_two(parley)
    heard_by_a, heard_by_b = tmp_path / "a.wav", tmp_path / "b.wav"
    caller = await parley.start("-p", "a", "--json", "call", room_id, "--tone", "440",
                                "--record", str(heard_by_a), "--duration", "3")
    await read_until(caller, "Calling", WAIT)
    answerer = await parley.start("-p", "b", "--json", "answer", room_id, "--tone", "880",
                                  "--record", str(heard_by_b))
    code_a, out_a, err_a = await finish(caller)
    code_b, out_b, err_b = await finish(answerer)
    assert code_a == 0, err_a
    assert code_b == 0, err_b
    assert out_a["connected"] and out_b["connected"]
    assert out_a["end_reason"] == out_b["end_reason"] == "user_hangup"
    assert out_b["ended_by_remote"] and not out_a["ended_by_remote"]
    assert out_a["call_id"] == out_b["call_id"]
    assert recorded_seconds(heard_by_a) > 1.5 and recorded_seconds(heard_by_b) > 1.5
    assert wav_dominant_frequency(heard_by_a) == pytest.approx(880, abs=10)
    assert wav_dominant_frequency(heard_by_b) == pytest.approx(440, abs=10)


async def test_hangup_from_another_terminal_ends_both_sides(parley: Parley, tmp_path: Path) -> None:
    room_id = await room_for_two(parley)
    caller = await parley.start("-p", "a", "--json", "call", room_id, "--tone", "440",
                                "--record", str(tmp_path / "a.wav"))
    answerer = await parley.start("-p", "b", "--json", "answer", "--tone", "880",
                                  "--record", str(tmp_path / "b.wav"))
    await read_until(caller, "Connected", WAIT)
    await read_until(answerer, "Connected", WAIT)
    hung = (await parley.ok("-p", "a", "--json", "hangup", room_id)).json()
    assert hung["sent"] == "m.call.hangup"
    code_a, out_a, err_a = await finish(caller)
    code_b, out_b, err_b = await finish(answerer)
    assert (code_a, code_b) == (0, 0), err_a + err_b
    assert out_a["connected"] and out_b["connected"] and out_b["ended_by_remote"]
    assert out_a["end_reason"] == out_b["end_reason"] == "user_hangup"
    assert (await parley("-p", "a", "hangup", room_id)).code == 4  # nothing open any more


async def test_ctrl_c_hangs_up(parley: Parley, tmp_path: Path) -> None:
    room_id = await room_for_two(parley)
    caller = await parley.start("-p", "a", "--json", "call", room_id, "--tone", "440",
                                "--record", str(tmp_path / "a.wav"))
    answerer = await parley.start("-p", "b", "--json", "answer", room_id, "--tone", "880",
                                  "--record", str(tmp_path / "b.wav"))
    await read_until(answerer, "Connected", WAIT)
    answerer.send_signal(signal.SIGINT)
    code_b, out_b, _ = await finish(answerer)
    code_a, out_a, err_a = await finish(caller)
    assert (code_a, code_b) == (0, 0), err_a
    assert out_a["ended_by_remote"] and not out_b["ended_by_remote"]


async def test_hangup_of_a_ringing_call_declines_it(parley: Parley, tmp_path: Path) -> None:
    room_id = await room_for_two(parley)
    caller = await parley.start("-p", "a", "--json", "call", room_id, "--tone", "440",
                                "--record", str(tmp_path / "a.wav"))
    await read_until(caller, "Calling", WAIT)
    declined = (await parley.ok("-p", "b", "--json", "hangup", room_id)).json()
    assert declined["sent"] == "m.call.reject"
    code_a, out_a, _ = await finish(caller)
    assert code_a == 1 and out_a["end_reason"] == "rejected" and not out_a["connected"]


async def test_call_in_an_encrypted_room(parley: Parley, tmp_path: Path, homeserver: RunningHomeserver) -> None:
    parley.env["PARLEY_CRYPTO_PASSPHRASE"] = "call test passphrase"
    room_id = await room_for_two(parley, "--encrypted")
    await parley.ok("-p", "b", "device")  # bob's device keys are published
    heard_by_b = tmp_path / "b.wav"
    caller = await parley.start("-p", "a", "--json", "call", room_id, "--tone", "440",
                                "--record", str(tmp_path / "a.wav"), "--duration", "2")
    answerer = await parley.start("-p", "b", "--json", "answer", room_id, "--tone", "880",
                                  "--record", str(heard_by_b))
    code_a, _, err_a = await finish(caller)
    code_b, out_b, err_b = await finish(answerer)
    assert (code_a, code_b) == (0, 0), err_a + err_b
    assert out_b["connected"]
    assert wav_dominant_frequency(heard_by_b) == pytest.approx(440, abs=10)
    # The signalling went through the room as ciphertext.
    token = json.loads((parley.config_dir / "profiles" / "b.json").read_text())["access_token"]
    page = await homeserver.api(token).messages(room_id, dir="b", limit=50)
    sent = [e for e in page["chunk"] if "state_key" not in e]
    assert len(sent) >= 4 and {e["type"] for e in sent} == {"m.room.encrypted"}


async def test_usage_errors(parley: Parley) -> None:
    room_id = await room_for_two(parley)
    assert (await parley("-p", "a", "call", room_id, "--tone", "0")).code == 2
    assert (await parley("-p", "a", "call", room_id, "--play", "/no/such.wav")).code == 4
    assert (await parley("-p", "a", "call", "@nobody:localhost", "--tone", "440")).code == 4
    assert (await parley("-p", "a", "hangup", room_id)).code == 4
    if not sound_backends():  # headless: no microphone, and the error says what to do instead
        no_device = await parley("-p", "a", "call", room_id)
        assert no_device.code == 1 and "--tone" in no_device.err
    assert (await parley("-p", "b", "answer", room_id, "--tone", "440", "--wait", "0.5")).code == 4


def write_tone_wav(path: Path, frequency: float, seconds: float) -> None:
    samples = tone_samples(frequency, 0, int(48_000 * seconds))
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(48_000)
        f.writeframes(samples.tobytes())


async def test_call_plays_a_file(parley: Parley, tmp_path: Path) -> None:
    room_id = await room_for_two(parley)
    played, heard_by_b = tmp_path / "tone660.wav", tmp_path / "b.wav"
    write_tone_wav(played, 660, 4.0)
    caller = await parley.start("-p", "a", "--json", "call", room_id, "--play", str(played),
                                "--record", str(tmp_path / "a.wav"), "--duration", "2")
    answerer = await parley.start("-p", "b", "--json", "answer", room_id, "--tone", "880",
                                  "--record", str(heard_by_b))
    code_a, _, err_a = await finish(caller)
    code_b, out_b, err_b = await finish(answerer)
    assert (code_a, code_b) == (0, 0), err_a + err_b
    assert out_b["connected"] and recorded_seconds(heard_by_b) > 1.0
    assert wav_dominant_frequency(heard_by_b) == pytest.approx(660, abs=10)


async def test_call_a_user_in_your_direct_chat(parley: Parley, tmp_path: Path, homeserver: RunningHomeserver) -> None:
    alice = await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    room_id = (await parley.ok("-p", "a", "--json", "friends", "add", bob)).json()["room_id"]
    await parley.ok("-p", "b", "friends", "accept", alice)
    caller = await parley.start("-p", "a", "--json", "call", bob, "--tone", "440",
                                "--record", str(tmp_path / "a.wav"), "--duration", "1")
    answerer = await parley.start("-p", "b", "--json", "answer", "--tone", "880",
                                  "--record", str(tmp_path / "b.wav"))
    code_a, out_a, err_a = await finish(caller)
    code_b, out_b, err_b = await finish(answerer)
    assert (code_a, code_b) == (0, 0), err_a + err_b
    assert out_a["room_id"] == out_b["room_id"] == room_id and out_b["connected"]
    token = json.loads((parley.config_dir / "profiles" / "b.json").read_text())["access_token"]
    page = await homeserver.api(token).messages(room_id, dir="b", limit=50)
    invite = next(e for e in page["chunk"] if e["type"] == "m.call.invite")
    assert invite["content"]["invitee"] == bob
