"""MSC4140 delayed events over HTTP: schedule, restart, cancel, send now, list, errors,
cancellation by a normal state send, and firing after a restart of `parleyd`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from homeserver.services.rooms import delayed_events
from tests.conftest import RunningHomeserver
from tests.http_client import MatrixError, MatrixHttp, q
from tests.integration.sync_waiting import joined_room, sync_until, timeline_of
from tests.parleyd_process import Parleyd

MSC = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events"
DELAY = "org.matrix.msc4140.delay"
MEMBER = "org.matrix.msc3401.call.member"


async def schedule_state(api: MatrixHttp, room_id: str, event_type: str, content: dict[str, Any],
                         state_key: str, delay_ms: int) -> str:
    result = await api.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}",
        content, params={DELAY: str(delay_ms)},
    )
    return str(result["delay_id"])


async def state_or_none(api: MatrixHttp, room_id: str, event_type: str, state_key: str) -> Any:
    try:
        return await api.get_state(room_id, event_type, state_key)
    except MatrixError as e:
        if e.status == 404:
            return None
        raise


def has_event(response: dict[str, Any], room_id: str, event_type: str, state_key: str | None,
              content: dict[str, Any]) -> bool:
    room = joined_room(response, room_id)
    events = timeline_of(response, room_id) + room.get("state", {}).get("events", [])
    return any(
        ev["type"] == event_type and ev.get("state_key") == state_key and ev["content"] == content
        for ev in events
    )


async def wait_for_state(api: MatrixHttp, room_id: str, event_type: str, state_key: str,
                         content: dict[str, Any]) -> None:
    """Long-poll /sync until the room's timeline (or state) has this state event."""
    await sync_until(api, None, lambda r: has_event(r, room_id, event_type, state_key, content))


async def update(api: MatrixHttp, delay_id: str, action: str, expect: int = 200) -> Any:
    return await api.request("POST", f"{MSC}/{q(delay_id)}", {"action": action}, expect=expect)


@pytest.fixture
async def alice_room(homeserver: RunningHomeserver) -> tuple[MatrixHttp, str]:
    alice = await homeserver.register("alice")
    return alice, await alice.create_room()


async def test_versions_advertise_msc4140(homeserver: RunningHomeserver) -> None:
    versions = await homeserver.api().request("GET", "/_matrix/client/versions")
    assert versions["unstable_features"]["org.matrix.msc4140"] is True


async def test_scheduled_state_event_is_sent_after_its_delay(alice_room: tuple[MatrixHttp, str]) -> None:
    alice, room_id = alice_room
    started = time.monotonic()
    await schedule_state(alice, room_id, MEMBER, {"left": True}, "_alice", 300)
    assert await state_or_none(alice, room_id, MEMBER, "_alice") is None
    await wait_for_state(alice, room_id, MEMBER, "_alice", {"left": True})
    assert time.monotonic() - started >= 0.3
    assert (await alice.request("GET", MSC))["delayed_events"] == []


async def test_scheduled_message_is_sent_after_its_delay(alice_room: tuple[MatrixHttp, str]) -> None:
    alice, room_id = alice_room
    result = await alice.request(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/send/m.room.message/t1",
        {"msgtype": "m.text", "body": "later"}, params={DELAY: "300"},
    )
    assert result["delay_id"]
    later = {"msgtype": "m.text", "body": "later"}
    await sync_until(alice, None, lambda r: has_event(r, room_id, "m.room.message", None, later))


async def test_restart_postpones_the_event(alice_room: tuple[MatrixHttp, str]) -> None:
    alice, room_id = alice_room
    delay_id = await schedule_state(alice, room_id, MEMBER, {"left": True}, "_alice", 800)
    # A sentinel due at about the original time (+100 ms) of the one that is restarted.
    await schedule_state(alice, room_id, MEMBER, {"sentinel": True}, "_sentinel", 900)
    await asyncio.sleep(0.4)
    assert await update(alice, delay_id, "restart") == {}
    await wait_for_state(alice, room_id, MEMBER, "_sentinel", {"sentinel": True})
    assert await state_or_none(alice, room_id, MEMBER, "_alice") is None
    await wait_for_state(alice, room_id, MEMBER, "_alice", {"left": True})


async def test_cancel_prevents_the_event(alice_room: tuple[MatrixHttp, str]) -> None:
    alice, room_id = alice_room
    delay_id = await schedule_state(alice, room_id, MEMBER, {"left": True}, "_alice", 300)
    assert await update(alice, delay_id, "cancel") == {}
    await schedule_state(alice, room_id, MEMBER, {"sentinel": True}, "_sentinel", 400)
    await wait_for_state(alice, room_id, MEMBER, "_sentinel", {"sentinel": True})
    assert await state_or_none(alice, room_id, MEMBER, "_alice") is None
    await update(alice, delay_id, "cancel", expect=404)


async def test_send_action_sends_it_now(alice_room: tuple[MatrixHttp, str]) -> None:
    alice, room_id = alice_room
    delay_id = await schedule_state(alice, room_id, MEMBER, {"left": True}, "_alice", 60_000)
    assert await update(alice, delay_id, "send") == {}
    assert await alice.get_state(room_id, MEMBER, "_alice") == {"left": True}
    assert (await alice.request("GET", MSC))["delayed_events"] == []


async def test_list_shows_the_users_scheduled_events(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    before = int(time.time() * 1000)
    delay_id = await schedule_state(alice, room_id, MEMBER, {}, "_alice", 60_000)
    listed = (await alice.request("GET", MSC))["delayed_events"]
    assert len(listed) == 1
    entry = listed[0]
    assert {k: entry[k] for k in ("delay_id", "room_id", "type", "state_key", "delay", "content")} == {
        "delay_id": delay_id, "room_id": room_id, "type": MEMBER, "state_key": "_alice",
        "delay": 60_000, "content": {},
    }
    assert before <= entry["running_since"] <= int(time.time() * 1000)
    assert (await bob.request("GET", MSC))["delayed_events"] == []
    # Someone else's delay_id is unknown to bob.
    await update(bob, delay_id, "cancel", expect=404)


async def test_errors(alice_room: tuple[MatrixHttp, str]) -> None:
    alice, room_id = alice_room
    status, body = await alice.status_of("POST", f"{MSC}/pld_unknown", body={"action": "restart"})
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    delay_id = await schedule_state(alice, room_id, MEMBER, {}, "_alice", 60_000)
    status, body = await alice.status_of("POST", f"{MSC}/{delay_id}", body={"action": "explode"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await alice.status_of("POST", f"{MSC}/{delay_id}", body={})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await alice.status_of(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/{MEMBER}/_alice", body={},
        params={DELAY: str(2 * 86_400_000)},
    )
    # Synapse's shape, which matrix-js-sdk matches on to retry with max_delay.
    assert (status, body["errcode"]) == (400, "M_UNKNOWN")
    assert body["org.matrix.msc4140.errcode"] == "M_MAX_DELAY_EXCEEDED"
    assert body["org.matrix.msc4140.max_delay"] == 86_400_000


async def test_a_user_has_a_bounded_number_of_scheduled_events(
    alice_room: tuple[MatrixHttp, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delayed_events, "MAX_SCHEDULED_PER_USER", 2)
    alice, room_id = alice_room
    for key in ("a", "b"):
        await schedule_state(alice, room_id, MEMBER, {}, key, 60_000)
    status, body = await alice.status_of(
        "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/{MEMBER}/c", body={}, params={DELAY: "60000"},
    )
    assert status == 400 and body["org.matrix.msc4140.errcode"] == "M_MAX_DELAY_UNSUPPORTED"


async def test_state_sent_by_someone_else_cancels_the_scheduled_state(
    homeserver: RunningHomeserver,
) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await alice.send_state(room_id, "m.room.power_levels", {
        **await alice.get_state(room_id, "m.room.power_levels"), "state_default": 0,
    })
    await schedule_state(alice, room_id, MEMBER, {}, "shared", 400)
    await bob.send_state(room_id, MEMBER, {"set_by": "bob"}, "shared")
    await schedule_state(alice, room_id, MEMBER, {"sentinel": True}, "_sentinel", 500)
    await wait_for_state(alice, room_id, MEMBER, "_sentinel", {"sentinel": True})
    assert await alice.get_state(room_id, MEMBER, "shared") == {"set_by": "bob"}
    assert (await alice.request("GET", MSC))["delayed_events"] == []


async def test_own_state_send_keeps_the_scheduled_state(alice_room: tuple[MatrixHttp, str]) -> None:
    alice, room_id = alice_room
    # What a call client does (as Element Call on Synapse): schedule its leave, then join.
    delay_id = await schedule_state(alice, room_id, MEMBER, {}, "_alice", 400)
    await alice.send_state(room_id, MEMBER, {"joined": True}, "_alice")
    assert [d["delay_id"] for d in (await alice.request("GET", MSC))["delayed_events"]] == [delay_id]
    await wait_for_state(alice, room_id, MEMBER, "_alice", {})


@pytest.fixture
async def parleyd(tmp_path: Path) -> AsyncIterator[Parleyd]:
    server = Parleyd(tmp_path)
    await server.init()
    await server.start()
    yield server
    await server.stop()


async def test_scheduled_events_survive_a_restart_and_fire_after_it(parleyd: Parleyd) -> None:
    async with aiohttp.ClientSession() as session:
        alice = MatrixHttp(session, parleyd.base_url)
        await alice.register("alice")
        room_id = await alice.create_room()
        await schedule_state(alice, room_id, MEMBER, {"left": True}, "_alice", 1500)
        later = await schedule_state(alice, room_id, MEMBER, {"later": True}, "_later", 600_000)
        assert len((await alice.request("GET", MSC))["delayed_events"]) == 2
        assert await parleyd.stop() == 0
        await parleyd.start()
        await wait_for_state(alice, room_id, MEMBER, "_alice", {"left": True})
        listed = (await alice.request("GET", MSC))["delayed_events"]
        assert [d["delay_id"] for d in listed] == [later]
        await update(alice, later, "send")
        assert await alice.get_state(room_id, MEMBER, "_later") == {"later": True}
