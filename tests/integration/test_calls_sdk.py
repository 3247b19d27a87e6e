"""1:1 calls between two SDK clients through a real homeserver, media over loopback.

A calls with a 440 Hz tone, B answers with 880 Hz; each records what it hears and the
recording's dominant frequency (FFT) must be the other's tone.
spec: client-server-api/modules/voip_events.md
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clients.sdk import AsyncClient
from clients.sdk.calls import CallHandle, CallManager
from clients.voice.audio import tone_source, wav_dominant_frequency, wav_sink
from clients.voice.call import CallState
from tests.conftest import RunningHomeserver
from tests.integration.calls_helpers import loopback_ice, wait_for_audio
from tests.integration.test_e2ee_sdk import create_encrypted_room, encrypted_client, new_client
from tests.integration.test_sdk_client import Syncing

__all__ = ["loopback_ice"]
WAIT = 30.0
pytestmark = pytest.mark.usefixtures("loopback_ice")


def call_events(client: AsyncClient, room_id: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    for event_type in ("m.call.invite", "m.call.answer", "m.call.select_answer", "m.call.candidates",
                       "m.call.hangup", "m.call.reject"):
        client.callbacks.on_event(event_type)(
            lambda room, event: seen.append(event) if room.room_id == room_id else None
        )
    return seen


@pytest.fixture
async def plain_pair(homeserver: RunningHomeserver) -> AsyncIterator[tuple[AsyncClient, AsyncClient, str]]:
    alice, bob = new_client(homeserver), new_client(homeserver)
    await alice.register("alice", "pw-alice")
    await bob.register("bob", "pw-bob")
    room_id = await alice.create_room(invite=[bob.require_user_id()], is_direct=True, preset="trusted_private_chat")
    await bob.join(room_id)
    yield alice, bob, room_id
    await alice.close()
    await bob.close()


async def tone_call(alice: AsyncClient, bob: AsyncClient, room_id: str, tmp_path: Path) -> tuple[str, str]:
    """A calls with 440 Hz, B answers with 880 Hz, both record, A hangs up; the end reasons."""
    a_calls, b_calls = CallManager(alice, ice_servers=[]), CallManager(bob, ice_servers=[])
    heard_by_a, heard_by_b = tmp_path / "a.wav", tmp_path / "b.wav"
    async with Syncing(alice), Syncing(bob):
        outgoing = await a_calls.place_call(room_id, tone_source(440), wav_sink(heard_by_a),
                                            invitee=bob.require_user_id())
        incoming = await b_calls.wait_for_ringing(room_id, WAIT)
        assert incoming.call_id == outgoing.call_id and incoming.caller == alice.user_id
        await b_calls.answer(incoming, tone_source(880), wav_sink(heard_by_b))
        await outgoing.wait_connected(WAIT)
        await incoming.wait_connected(WAIT)
        await wait_for_audio(heard_by_a, 1.5, WAIT)
        await wait_for_audio(heard_by_b, 1.5, WAIT)
        assert outgoing.state is CallState.CONNECTED
        await a_calls.hangup(outgoing)
        reason_b = await incoming.wait_ended(WAIT)
        reason_a = await outgoing.wait_ended(WAIT)
        await a_calls.close()
        await b_calls.close()
    assert wav_dominant_frequency(heard_by_a) == pytest.approx(880, abs=10)
    assert wav_dominant_frequency(heard_by_b) == pytest.approx(440, abs=10)
    assert incoming.call.ended_by_remote and not outgoing.call.ended_by_remote
    return str(reason_a), str(reason_b)


async def test_tone_call_each_side_hears_the_other(
    plain_pair: tuple[AsyncClient, AsyncClient, str], tmp_path: Path
) -> None:
    alice, bob, room_id = plain_pair
    events = call_events(bob, room_id)
    assert await tone_call(alice, bob, room_id, tmp_path) == ("user_hangup", "user_hangup")
    types = [e["type"] for e in events]
    assert types[0] == "m.call.invite" and "m.call.select_answer" in types and types[-1] == "m.call.hangup"
    invite = events[0]["content"]
    assert invite["version"] == "1" and invite["lifetime"] >= 90_000 and invite["invitee"] == bob.user_id
    assert invite["offer"]["type"] == "offer"
    host_candidates = [line for line in invite["offer"]["sdp"].splitlines() if line.startswith("a=candidate")]
    assert host_candidates and all(" 127.0.0.1 " in line for line in host_candidates)  # loopback only
    answer = next(e for e in events if e["type"] == "m.call.answer")
    select = next(e for e in events if e["type"] == "m.call.select_answer")
    assert select["content"]["selected_party_id"] == answer["content"]["party_id"]
    assert answer["content"]["party_id"] != invite["party_id"]
    candidates = next(e for e in events if e["type"] == "m.call.candidates")
    assert candidates["content"]["candidates"][-1]["candidate"] == ""  # end-of-candidates


async def test_tone_call_in_an_encrypted_room(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    alice, _ = await encrypted_client(homeserver, tmp_path, "alice")
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    try:
        room_id = await create_encrypted_room(alice, [bob.require_user_id()])
        await bob.join(room_id)
        await alice.sync_once()
        await tone_call(alice, bob, room_id, tmp_path)
        raw = await bob.room_messages(room_id, limit=20)
        sent = [e for e in raw.chunk if "state_key" not in e and e["sender"] == alice.user_id]
        assert sent and {e["type"] for e in sent} == {"m.room.encrypted"}
    finally:
        await alice.close()
        await bob.close()


async def test_reject_ends_the_call_for_the_caller(
    plain_pair: tuple[AsyncClient, AsyncClient, str], tmp_path: Path
) -> None:
    alice, bob, room_id = plain_pair
    a_calls, b_calls = CallManager(alice, ice_servers=[]), CallManager(bob, ice_servers=[])
    async with Syncing(alice), Syncing(bob):
        outgoing = await a_calls.place_call(room_id, tone_source(440), wav_sink(tmp_path / "a.wav"))
        incoming = await b_calls.wait_for_ringing(room_id, WAIT)
        await b_calls.reject(incoming)
        assert await outgoing.wait_ended(WAIT) == "rejected"
        assert outgoing.call.ended_by_remote
        assert incoming.ended.is_set() and b_calls.ringing() == []
        await a_calls.close()
        await b_calls.close()


async def test_hangup_before_answer_stops_the_ringing(
    plain_pair: tuple[AsyncClient, AsyncClient, str], tmp_path: Path
) -> None:
    alice, bob, room_id = plain_pair
    a_calls, b_calls = CallManager(alice, ice_servers=[]), CallManager(bob, ice_servers=[])
    async with Syncing(alice), Syncing(bob):
        outgoing = await a_calls.place_call(room_id, tone_source(440), wav_sink(tmp_path / "a.wav"))
        incoming = await b_calls.wait_for_ringing(room_id, WAIT)
        await a_calls.hangup(outgoing)
        assert await incoming.wait_ended(WAIT) == "user_hangup"
        assert b_calls.ringing() == []
        await a_calls.close()
        await b_calls.close()


async def test_invite_hung_up_in_the_same_sync_never_rings(
    plain_pair: tuple[AsyncClient, AsyncClient, str], tmp_path: Path
) -> None:
    alice, bob, room_id = plain_pair
    a_calls = CallManager(alice, ice_servers=[])
    rang: list[CallHandle] = []
    b_calls = CallManager(bob, ice_servers=[], on_ring=rang.append)
    async with Syncing(alice):
        outgoing = await a_calls.place_call(room_id, tone_source(440), wav_sink(tmp_path / "a.wav"))
        await a_calls.hangup(outgoing)
        await a_calls.close()
    await bob.sync_once()  # invite and hangup arrive in one batch
    assert rang == [] and b_calls.ringing() == []
    assert [c.call_id for c in b_calls.log.calls.values()] == [outgoing.call_id]
    assert b_calls.log.open_calls(room_id, asyncio.get_running_loop().time()) == []
    await b_calls.close()


async def test_expired_invite_does_not_ring(plain_pair: tuple[AsyncClient, AsyncClient, str], tmp_path: Path) -> None:
    alice, bob, room_id = plain_pair
    await alice.send_event(room_id, "m.call.invite", {
        "call_id": "stale", "party_id": "PARTY123", "version": "1", "lifetime": 1000,
        "offer": {"type": "offer", "sdp": "v=0\r\n"},
    })
    rang: list[CallHandle] = []
    b_calls = CallManager(bob, ice_servers=[], on_ring=rang.append)
    await bob.sync_once()
    assert rang == [] and b_calls.ringing() == []
    await b_calls.close()


async def test_glare_both_sides_settle_on_the_lesser_call(
    plain_pair: tuple[AsyncClient, AsyncClient, str], tmp_path: Path
) -> None:
    """Both call each other at once: the call with the lesser ID survives on both sides
    and carries audio both ways; the other is hung up (spec: "Glare")."""
    alice, bob, room_id = plain_pair
    a_calls, b_calls = CallManager(alice, ice_servers=[]), CallManager(bob, ice_servers=[])
    heard_by_a, heard_by_b = tmp_path / "a.wav", tmp_path / "b.wav"
    a_handle = await a_calls.place_call(room_id, tone_source(440), wav_sink(heard_by_a))
    b_handle = await b_calls.place_call(room_id, tone_source(880), wav_sink(heard_by_b))
    placed = {a_handle.call_id, b_handle.call_id}
    async with Syncing(alice), Syncing(bob):
        await a_handle.wait_connected(WAIT)
        await b_handle.wait_connected(WAIT)
        assert a_handle.call_id == b_handle.call_id == min(placed)
        await wait_for_audio(heard_by_a, 1.0, WAIT)
        await wait_for_audio(heard_by_b, 1.0, WAIT)
        await b_calls.hangup(b_handle)
        await a_handle.wait_ended(WAIT)
        await a_calls.close()
        await b_calls.close()
    assert wav_dominant_frequency(heard_by_a) == pytest.approx(880, abs=10)
    assert wav_dominant_frequency(heard_by_b) == pytest.approx(440, abs=10)


async def test_the_other_party_leaving_ends_the_call(
    plain_pair: tuple[AsyncClient, AsyncClient, str], tmp_path: Path
) -> None:
    alice, bob, room_id = plain_pair
    a_calls, b_calls = CallManager(alice, ice_servers=[]), CallManager(bob, ice_servers=[])
    async with Syncing(alice), Syncing(bob):
        outgoing = await a_calls.place_call(room_id, tone_source(440), wav_sink(tmp_path / "a.wav"))
        incoming = await b_calls.wait_for_ringing(room_id, WAIT)
        await b_calls.answer(incoming, tone_source(880), wav_sink(tmp_path / "b.wav"))
        await outgoing.wait_connected(WAIT)
        await bob.leave(room_id)
        assert await outgoing.wait_ended(WAIT) == "user_hangup" and outgoing.call.ended_by_remote
        await a_calls.close()
        await b_calls.close()
