"""A voice-room participant's delayed leave (MSC4140, docs/voice.md): restarted while it is
connected, sent by its homeserver when it stops (a crash), cancelled on a clean leave."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aioice.ice
import pytest

from clients.sdk import AsyncClient
from clients.voice.audio import ToneTrack
from clients.voice.room import CALL_MEMBER_TYPE, FocusConnection, VoiceRoom, member_state_key
from tests.conftest import RunningHomeserver
from tests.integration.sync_waiting import sync_until, timeline_of
from tests.integration.test_cli_chat import pair

__all__ = ["pair"]

DELAYED_EVENTS = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events"
WAIT_S = 60.0  # WebRTC set-up on a loaded CI machine: generous, and only reached on failure


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield


@pytest.fixture
async def voice_room(pair: tuple[AsyncClient, AsyncClient], homeserver: RunningHomeserver
                     ) -> AsyncIterator[tuple[AsyncClient, VoiceRoom]]:
    _alice, bob = pair
    room_id = await bob.create_room(name="Voice",
                                    extra={"power_level_content_override": {"events": {CALL_MEMBER_TYPE: 0}}})
    room = VoiceRoom(bob, room_id, lambda url: FocusConnection(url, room_id, ToneTrack(880)),
                     leave_delay_ms=800, leave_restart_s=0.2)
    yield bob, room
    if room.connection is not None:
        await room.connection.close()


async def own_member_content(client: AsyncClient, room_id: str) -> dict[str, Any] | None:
    key = member_state_key(client.require_user_id(), client.device_id or "")
    for ev in await client.get_room_state(room_id):
        if ev["type"] == CALL_MEMBER_TYPE and ev["state_key"] == key:
            return dict(ev["content"])
    return None


async def scheduled(client: AsyncClient) -> list[dict[str, Any]]:
    from clients.sdk.api import Request

    return list((await client.request(Request("GET", DELAYED_EVENTS)))["delayed_events"])


async def test_a_participant_that_stops_restarting_is_left_by_its_homeserver(
    voice_room: tuple[AsyncClient, VoiceRoom], homeserver: RunningHomeserver,
) -> None:
    bob, room = voice_room
    async with asyncio.timeout(WAIT_S):
        await room.join(now_ms=int(time.time() * 1000))
    [leave] = await scheduled(bob)
    assert leave["delay_id"] == room.delayed_leave_id and leave["content"] == {}
    # Longer than the delay: the restarts keep the membership.
    await asyncio.sleep(1.2)
    assert (await own_member_content(bob, room.room_id) or {}).get("focus_active")
    # A crash: nothing restarts the delayed leave any more, the connection is not left.
    assert room._keep_alive is not None
    http = homeserver.api(bob.access_token)
    _, since = await sync_until(http, None, lambda r: True)
    room._keep_alive.cancel()
    key = member_state_key(bob.require_user_id(), bob.device_id or "")
    await sync_until(http, since, lambda r: any(
        ev["type"] == CALL_MEMBER_TYPE and ev.get("state_key") == key and ev["content"] == {}
        for ev in timeline_of(r, room.room_id)
    ))
    assert await own_member_content(bob, room.room_id) == {}
    assert await scheduled(bob) == []


async def test_a_clean_leave_cancels_the_delayed_leave(voice_room: tuple[AsyncClient, VoiceRoom]) -> None:
    bob, room = voice_room
    async with asyncio.timeout(WAIT_S):
        await room.join(now_ms=int(time.time() * 1000))
    assert len(await scheduled(bob)) == 1
    await room.leave()
    assert await scheduled(bob) == []
    assert await own_member_content(bob, room.room_id) == {}
