"""A user of another homeserver joins a voice channel with an OpenID token and is heard."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import aioice.ice
import pytest

from clients.voice._focus_audio import WavRecorder, read_wav
from clients.voice.audio import ToneTrack
from clients.voice.room import CALL_MEMBER_TYPE, FocusConnection
from tests.federation.harness import federated_homeservers
from tests.integration.sync_waiting import sync_until
from tests.integration.test_voice_focus import has_member, openid_token, tone_strength

WAIT_S = 30.0


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield


async def test_remote_user_joins_with_an_openid_token_and_both_hear_each_other(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat",
                                          power_level_content_override={"events": {CALL_MEMBER_TYPE: 0}})
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
        await bob.join(room_id)
        await sync_until(alice, None, has_member(room_id, bob.user_id or "", "join"), within=15.0)

        recorders = {"alice": WavRecorder(tmp_path / "alice.wav"), "bob": WavRecorder(tmp_path / "bob.wav")}
        # Both talk to the focus of hs1, the server hosting the room; Bob proves who he is
        # with a token of hs2, which hs1 checks at hs2's /openid/userinfo.
        conns = {
            "alice": FocusConnection(hs1.base_url, room_id, ToneTrack(440), on_track=recorders["alice"].start),
            "bob": FocusConnection(hs1.base_url, room_id, ToneTrack(880), on_track=recorders["bob"].start),
        }
        try:
            await conns["alice"].join(alice.device_id or "", openid_token=await openid_token(alice))
            bob_token = await openid_token(bob)
            assert bob_token["matrix_server_name"] == hs2.server_name
            await conns["bob"].join(bob.device_id or "", openid_token=bob_token)
            async with asyncio.timeout(WAIT_S):
                for r in recorders.values():
                    await r.wait_for_frames(200)
        finally:
            for r in recorders.values():
                await r.stop()
            for c in conns.values():
                await c.close()
        for name, own, other in [("alice", 440.0, 880.0), ("bob", 880.0, 440.0)]:
            samples, rate = read_wav(tmp_path / f"{name}.wav")
            tail = samples[-2 * rate:]
            assert tone_strength(tail, other, rate) > 20 * tone_strength(tail, own, rate), name

        # A token of hs2 that hs2 does not know is refused by hs1's focus.
        forged = {**bob_token, "access_token": "forged"}
        status, body = await hs1.api().status_of(
            "POST", f"/_parley/voice/v1/rooms/{quote(room_id, safe='')}/join",
            body={"openid_token": forged, "device_id": "X", "sdp": "v=0"})
        assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN"), body
