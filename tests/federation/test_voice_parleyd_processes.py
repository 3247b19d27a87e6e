"""Voice across two real ``parleyd`` processes: a user of the second server joins a channel
hosted by the first with an OpenID token of their own server (docs/voice.md), and both
`parley voice` clients — real subprocesses, one per server — hear each other.

Loopback only: the servers and the clients offer ICE host candidates on 127.0.0.1 alone
(a sitecustomize in PYTHONPATH for the servers, ``PARLEY_VOICE_HOST_ADDRESSES`` for the
clients); neither side uses STUN/TURN (``iceServers=[]``).
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import ClientSession

from clients.voice._focus_audio import read_wav
from clients.voice.room import CALL_MEMBER_TYPE, HOST_ADDRESSES_ENV
from tests.federation.test_parleyd_processes import parleyd_processes
from tests.federation.test_three_servers import is_joined, join_via
from tests.http_client import MatrixHttp
from tests.integration.calls_helpers import loopback_env, wait_for
from tests.integration.sync_waiting import sync_until
from tests.integration.test_cli import Parley
from tests.integration.test_voice_focus import openid_token, tone_strength

pytestmark = pytest.mark.slow

WAIT_S = 90.0  # real processes, WebRTC and federation on a loaded CI machine; reached only on failure
HEARD_SECONDS = 4.0
WAV_BYTES_PER_SECOND = 48_000 * 2  # WavRecorder: mono s16 at 48 kHz


def recorded_seconds(path: Path) -> float:
    try:
        return max(0, path.stat().st_size - 44) / WAV_BYTES_PER_SECOND
    except FileNotFoundError:
        return 0.0


async def register(parley: Parley, profile: str, name: str, base_url: str) -> dict[str, Any]:
    await parley.ok("--profile", profile, "--json", "register", name, "--homeserver", base_url,
                    "--password-stdin", stdin=f"pw-{name}\n")
    return dict(json.loads((parley.config_dir / "profiles" / f"{profile}.json").read_text()))


async def wait_for_roster(proc: asyncio.subprocess.Process, user_ids: set[str]) -> None:
    """Read `parley voice --json` lines until the channel holds exactly `user_ids`."""
    assert proc.stdout is not None
    while True:
        raw = await proc.stdout.readline()
        assert raw, "parley voice ended early"
        line = json.loads(raw)
        if {e["user_id"] for e in line.get("participants", [])} == user_ids:
            return


def has_call_member(room_id: str, sender: str) -> Any:
    def found(response: dict[str, Any]) -> bool:
        room = response.get("rooms", {}).get("join", {}).get(room_id, {})
        events = room.get("timeline", {}).get("events", []) + room.get("state", {}).get("events", [])
        return any(e["type"] == CALL_MEMBER_TYPE and e.get("sender") == sender and e["content"]
                   for e in events)
    return found


async def test_user_of_a_second_parleyd_joins_with_its_own_openid_token_and_both_hear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The servers (children of this process) inherit a sitecustomize restricting aioice.
    monkeypatch.setenv("PYTHONPATH", loopback_env(tmp_path / "site")["PYTHONPATH"])
    async with parleyd_processes(tmp_path, 2) as (p1, p2), ClientSession() as session:
        parley = Parley(tmp_path / "config", None)  # type: ignore[arg-type]  # two servers: no single one
        parley.env[HOST_ADDRESSES_ENV] = "127.0.0.1"
        a_profile = await register(parley, "a", "alice", p1.base_url)
        b_profile = await register(parley, "b", "bob", p2.base_url)
        alice = MatrixHttp(session, p1.base_url, a_profile["access_token"])
        bob = MatrixHttp(session, p2.base_url, b_profile["access_token"])
        for api, profile in ((alice, a_profile), (bob, b_profile)):
            api.user_id, api.device_id = profile["user_id"], profile["device_id"]
        room_id = await alice.create_room(preset="public_chat", name="Voice",
                                          power_level_content_override={"events": {CALL_MEMBER_TYPE: 0}})
        await join_via(bob, room_id, p1.server_name)
        await sync_until(bob, None, is_joined(room_id), within=WAIT_S)

        a_wav, b_wav = tmp_path / "alice.wav", tmp_path / "bob.wav"
        procs: list[asyncio.subprocess.Process] = []
        try:
            procs.append(await parley.start("-p", "a", "--json", "voice", room_id, "--tone", "440",
                                            "--record", str(a_wav)))
            async with asyncio.timeout(WAIT_S):
                await wait_for_roster(procs[0], {a_profile["user_id"]})
            # Bob's client picks the focus of the oldest membership (Alice's, on p1) once
            # her member event has reached his server.
            await sync_until(bob, None, has_call_member(room_id, a_profile["user_id"]), within=WAIT_S)
            procs.append(await parley.start("-p", "b", "--json", "voice", room_id, "--tone", "880",
                                            "--record", str(b_wav)))
            # Each roster listing both proves one focus serves them: p1's, where Alice is.
            both = {a_profile["user_id"], b_profile["user_id"]}
            async with asyncio.timeout(WAIT_S):
                await asyncio.gather(*(wait_for_roster(p, both) for p in procs))
            marks = [recorded_seconds(a_wav), recorded_seconds(b_wav)]
            await wait_for(lambda: min(recorded_seconds(w) - m for w, m in zip((a_wav, b_wav), marks, strict=True))
                           >= HEARD_SECONDS, WAIT_S, f"{HEARD_SECONDS} s more audio in both recordings")
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGINT)  # by PID: only the children we started: Ctrl-C leaves
            results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), WAIT_S)
        for proc, (out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 130, err.decode()
            assert json.loads(out.decode().splitlines()[-1]) == {"room_id": room_id, "left": True}

        for wav, own, other in [(a_wav, 440.0, 880.0), (b_wav, 880.0, 440.0)]:
            samples, rate = read_wav(wav)
            tail = samples[-3 * rate:]  # both were in the channel all along
            assert tone_strength(tail, other, rate) > 20 * tone_strength(tail, own, rate), wav

        # Ctrl-C emptied both member events, Bob's through his own server.
        state = await bob.request("GET", f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/state")
        assert all(e["content"] == {} for e in state if e["type"] == CALL_MEMBER_TYPE)

        # A forged token "of p2", and a real token of p1 passed off as p2's: p2 vouches for
        # neither, so p1's focus refuses both.
        path = f"/_parley/voice/v1/rooms/{quote(room_id, safe='')}/join"
        anonymous = MatrixHttp(session, p1.base_url)
        bob_token = await openid_token(bob)
        assert bob_token["matrix_server_name"] == p2.server_name
        foreign = {**await openid_token(alice), "matrix_server_name": p2.server_name}
        for token in ({**bob_token, "access_token": "forged"}, foreign):
            status, body = await anonymous.status_of("POST", path, body={
                "openid_token": token, "device_id": "X", "sdp": "v=0"})
            assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN"), body
