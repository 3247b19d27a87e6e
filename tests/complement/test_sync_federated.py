"""Sync over events from a (simulated) remote server, after Complement's sync_test.go.

The remote server is the hand-built room of tests/federation/test_events_pipeline.py,
fed to the receive pipeline. spec: client-server-api/_index.md ("Syncing"),
server-server-api.md ("Retrieving missing events").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from federation.crypto.signing import generate_signing_key
from tests.conftest import RunningHomeserver
from tests.federation.test_events_pipeline import (
    BOB,
    CAROL,
    RemoteRoom,
    install_fake_remote,
    join_remote_room,
    receive,
)
from tests.http_client import MatrixHttp
from tests.integration.sync_waiting import joined_room

LIMIT_TEN = json.dumps({"room": {"timeline": {"limit": 10}}})


@pytest.fixture
async def remote_room(homeserver: RunningHomeserver) -> tuple[RunningHomeserver, MatrixHttp, RemoteRoom]:
    alice = await homeserver.register("alice")
    room = RemoteRoom(generate_signing_key())
    room.member(CAROL, "join")
    install_fake_remote(homeserver.hs, room)
    await join_remote_room(homeserver.hs, room, alice.user_id or "")
    return homeserver, alice, room


def timeline(response: dict[str, Any], room_id: str) -> dict[str, Any]:
    result: dict[str, Any] = joined_room(response, room_id)["timeline"]
    return result


async def test_sync_from_a_token_at_a_redaction_of_an_unknown_event_still_works(
    remote_room: tuple[RunningHomeserver, MatrixHttp, RemoteRoom],
) -> None:
    # Complement: TestSync / sync should succeed even if the sync token points to a redaction
    # of an unknown event
    server, alice, room = remote_room
    redaction = room.add(BOB, "m.room.redaction", {"redacts": "$not-an-event-anyone-has"})
    assert await receive(server.hs, redaction) == {redaction.event_id: None}
    token = (await alice.sync(filter=LIMIT_TEN))["next_batch"]
    messages = [room.message(BOB, f"after the redaction {i}") for i in range(11)]
    await receive(server.hs, *messages)
    gappy = timeline(await alice.sync(since=token, filter=LIMIT_TEN), room.room_id)
    assert gappy["limited"] is True
    assert [e["event_id"] for e in gappy["events"]] == [m.event_id for m in messages[1:]]


async def test_events_behind_a_gap_arrive_in_one_limited_incremental_sync(
    remote_room: tuple[RunningHomeserver, MatrixHttp, RemoteRoom],
) -> None:
    # Complement: TestSyncTimelineGap / full — the remote's last event names 50 prev events
    # we do not have; once they are fetched, a sync from before is limited and ends with it.
    server, alice, room = remote_room
    token = (await alice.sync(filter=LIMIT_TEN))["next_batch"]
    missing = [room.message(BOB, f"missing {i}") for i in range(50)]
    last = room.message(BOB, "the last one")
    assert await receive(server.hs, last) == {last.event_id: None}
    gappy = timeline(await alice.sync(since=token, filter=LIMIT_TEN), room.room_id)
    assert gappy["limited"] is True
    assert gappy["events"][-1]["event_id"] == last.event_id
    assert all(e["sender"] == BOB for e in gappy["events"])
    # The newest of the missing events came through get_missing_events, just before it.
    assert [e["event_id"] for e in gappy["events"][:-1]] == [m.event_id for m in missing[-9:]]


async def test_local_messages_come_before_the_gap_and_remote_ones_after(
    remote_room: tuple[RunningHomeserver, MatrixHttp, RemoteRoom],
) -> None:
    # Complement: TestSyncTimelineGap / incremental
    server, alice, room = remote_room
    token = (await alice.sync(filter=LIMIT_TEN))["next_batch"]
    local = [await alice.send(room.room_id, f"local {i}") for i in range(3)]
    before_gap = await alice.sync(since=token, filter=LIMIT_TEN)
    assert timeline(before_gap, room.room_id)["limited"] is False
    assert [e["event_id"] for e in timeline(before_gap, room.room_id)["events"]] == local

    for i in range(50):
        room.message(BOB, f"missing {i}")
    last = room.message(BOB, "the last one")
    assert await receive(server.hs, last) == {last.event_id: None}
    after_gap = timeline(await alice.sync(since=before_gap["next_batch"], filter=LIMIT_TEN), room.room_id)
    assert after_gap["limited"] is True
    assert after_gap["events"][-1]["event_id"] == last.event_id
    assert not {e["event_id"] for e in after_gap["events"]} & set(local)
