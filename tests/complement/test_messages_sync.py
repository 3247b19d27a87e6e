"""Messages and sync cases of Complement not covered in tests/integration.

After Complement's txnid_test.go, room_messages_test.go, membership_on_events_test.go,
sync_test.go and sync_archive_test.go. spec: client-server-api/_index.md ("Syncing",
"Transaction identifiers"), data/api/client-server/sync.yaml, message_pagination.yaml.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import joined_room, timeline_of


def as_filter(value: dict[str, Any]) -> str:
    return json.dumps(value)


def left_room(response: dict[str, Any], room_id: str) -> dict[str, Any] | None:
    left: dict[str, Any] | None = response.get("rooms", {}).get("leave", {}).get(room_id)
    return left


async def test_second_login_on_the_same_device_sees_transaction_id_in_sync(homeserver: RunningHomeserver) -> None:
    # Complement: TestTxnScopeOnLocalEcho
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    since = (await alice.sync())["next_batch"]
    event_id = await alice.send(room_id, "echo", txn_id="echo-txn")
    again = homeserver.api()
    await again.login("alice", device_id=alice.device_id)
    assert again.device_id == alice.device_id and again.access_token != alice.access_token
    events = timeline_of(await again.sync(since=since), room_id)
    mine = next(e for e in events if e["event_id"] == event_id)
    assert mine["unsigned"]["transaction_id"] == "echo-txn"


async def test_lazy_loaded_backward_messages_in_a_one_user_room_carry_their_member_event(
    homeserver: RunningHomeserver,
) -> None:
    # Complement: TestRoomMessagesLazyLoadingLocalUser
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    await alice.send(room_id, "alone")
    page = await alice.messages(room_id, dir="b", limit=5, filter=as_filter({"lazy_load_members": True}))
    assert [(e["type"], e["state_key"]) for e in page["state"]] == [("m.room.member", alice.user_id)]


async def test_sync_events_carry_the_readers_membership_at_the_event(homeserver: RunningHomeserver) -> None:
    # Complement: TestMembershipOnEvents
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    before = await alice.send(room_id, "before bob")
    await bob.join(room_id)
    after = await alice.send(room_id, "after bob")
    events = {e["event_id"]: e for e in timeline_of(await bob.sync(), room_id)}
    assert events[before]["unsigned"]["membership"] == "leave"
    assert events[after]["unsigned"]["membership"] == "join"


async def test_room_left_after_rejecting_an_invite_is_not_in_leave_once_joined(homeserver: RunningHomeserver) -> None:
    # Complement: TestTentativeEventualJoiningAfterRejecting
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await alice.invite(room_id, bob.user_id or "")
    await bob.leave(room_id)
    full = await bob.sync(full_state="true", filter=as_filter({"room": {"include_leave": True}}))
    assert left_room(full, room_id) is not None
    await bob.join(room_id)
    full = await bob.sync(full_state="true", filter=as_filter({"room": {"include_leave": True}}))
    assert left_room(full, room_id) is None
    assert joined_room(full, room_id)


async def test_gappy_incremental_sync_still_reports_the_left_room(homeserver: RunningHomeserver) -> None:
    # Complement: TestGappedSyncLeaveSection
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    other = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await bob.join(other)
    limit_one = as_filter({"room": {"timeline": {"limit": 1}}})
    since = (await bob.sync(filter=limit_one))["next_batch"]
    await bob.leave(room_id)
    for i in range(20):
        await alice.send(other, f"filler {i}")
    response = await bob.sync(since=since, filter=limit_one)
    assert left_room(response, room_id) is not None
    assert joined_room(response, other)["timeline"]["limited"] is True


async def archived_room(homeserver: RunningHomeserver) -> tuple[MatrixHttp, MatrixHttp, str, str, str]:
    """Bob sees a message and a custom state event, leaves, then more happens in the room."""
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    since = (await bob.sync())["next_batch"]
    message = await alice.send(room_id, "before the leave")
    state = (await alice.send_state(room_id, "a.custom.state", {"value": "before"}, state_key=""))["event_id"]
    await bob.leave(room_id)
    await alice.send(room_id, "after the leave")
    await alice.send_state(room_id, "a.custom.state", {"value": "after"}, state_key="")
    return alice, bob, room_id, since, json.dumps([message, state])


@pytest.mark.parametrize("incremental", [False, True], ids=["initial sync", "incremental sync"])
async def test_left_room_timeline_holds_only_history_from_before_the_leave(
    homeserver: RunningHomeserver, incremental: bool
) -> None:
    # Complement: TestArchivedRoomsHistory / timeline has events
    _, bob, room_id, since, before = await archived_room(homeserver)
    params: dict[str, Any] = {"filter": as_filter({"room": {"include_leave": True, "timeline": {"limit": 10}}})}
    response = await bob.sync(since=since if incremental else None, **params)
    left = left_room(response, room_id)
    assert left is not None
    ids = [e["event_id"] for e in left["timeline"]["events"]]
    message_id, state_id = json.loads(before)
    assert ids[-3:-1] == [message_id, state_id]
    assert left["timeline"]["events"][-1]["content"]["membership"] == "leave"
    bodies = [e["content"].get("body") for e in left["timeline"]["events"]]
    assert "after the leave" not in bodies
    values = [e["content"].get("value") for e in left["timeline"]["events"]]
    assert "after" not in values


async def test_left_room_with_empty_timeline_has_state_as_at_the_leave(homeserver: RunningHomeserver) -> None:
    # Complement: TestArchivedRoomsHistory / timeline is empty (initial sync)
    _, bob, room_id, _, _ = await archived_room(homeserver)
    response = await bob.sync(filter=as_filter({"room": {"include_leave": True, "timeline": {"limit": 0}}}))
    left = left_room(response, room_id)
    assert left is not None and left["timeline"]["events"] == []
    state = {(e["type"], e["state_key"]): e for e in left["state"]["events"]}
    assert state[("m.room.member", bob.user_id)]["content"]["membership"] == "leave"
    assert state[("a.custom.state", "")]["content"]["value"] == "before"


async def test_leaver_of_a_joined_visibility_room_sees_only_their_leave(homeserver: RunningHomeserver) -> None:
    # Complement: TestLeaveEventVisibility
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat", initial_state=[
        {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}},
    ])
    await bob.join(room_id)
    since = (await bob.sync())["next_batch"]
    await bob.leave(room_id)
    await alice.send(room_id, "after")
    left = left_room(await bob.sync(since=since), room_id)
    assert left is not None
    events = left["timeline"]["events"]
    assert [(e["type"], e["state_key"], e["content"]["membership"]) for e in events] == [
        ("m.room.member", bob.user_id, "leave")
    ]
    assert left["state"]["events"] == []


async def test_rejecting_an_invite_to_a_joined_visibility_room_lists_it_as_left(
    homeserver: RunningHomeserver,
) -> None:
    # Complement: TestLeaveEventInviteRejection
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(invite=[bob.user_id], initial_state=[
        {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}},
    ])
    since = (await bob.sync())["next_batch"]
    await bob.leave(room_id)
    assert left_room(await bob.sync(since=since), room_id) is not None


async def test_sync_summary_counts_follow_invite_then_join_for_both_users(homeserver: RunningHomeserver) -> None:
    # Complement: TestRoomSummary
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="private_chat")
    alice_since = (await alice.sync())["next_batch"]
    await alice.invite(room_id, bob.user_id or "")
    summary = joined_room(await alice.sync(since=alice_since), room_id)["summary"]
    assert (summary["m.joined_member_count"], summary["m.invited_member_count"]) == (1, 1)
    alice_since = (await alice.sync())["next_batch"]
    await bob.join(room_id)
    for response in (await alice.sync(since=alice_since), await bob.sync()):
        summary = joined_room(response, room_id)["summary"]
        assert (summary["m.joined_member_count"], summary["m.invited_member_count"]) == (2, 0)


async def test_leaver_is_listed_in_device_lists_left_with_lazy_loading(homeserver: RunningHomeserver) -> None:
    # Complement: TestSync / Device list tracking / User is correctly listed when they leave,
    # even when lazy loading is enabled
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    lazy = as_filter({"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 20}}})
    since = (await alice.sync(filter=lazy))["next_batch"]
    await bob.join(room_id)
    await bob.send(room_id, "hello")
    response = await alice.sync(since=since, filter=lazy)
    assert bob.user_id in response.get("device_lists", {}).get("changed", [])
    since = response["next_batch"]
    await bob.leave(room_id)
    response = await alice.sync(since=since, filter=lazy)
    assert bob.user_id in response.get("device_lists", {}).get("left", [])
    again = await alice.sync(since=since, filter=lazy)
    assert bob.user_id in again.get("device_lists", {}).get("left", [])


async def invited_visibility_room(homeserver: RunningHomeserver) -> tuple[MatrixHttp, str, str, str]:
    """Bob joins an `invited` room; (bob, room, event before his invite, event while invited)."""
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat", initial_state=[
        {"type": "m.room.history_visibility", "content": {"history_visibility": "invited"}},
    ])
    before = await alice.send(room_id, "before the invite")
    await alice.invite(room_id, bob.user_id or "")
    between = await alice.send(room_id, "between invite and join")
    await bob.join(room_id)
    return bob, room_id, before, between


async def test_event_sent_while_invited_can_be_fetched(homeserver: RunningHomeserver) -> None:
    # Complement: TestFetchHistoricalInvitedEventFromBetweenInvite
    bob, room_id, _, between = await invited_visibility_room(homeserver)
    event = await bob.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/event/{q(between)}")
    assert event["content"]["body"] == "between invite and join"


async def test_event_sent_before_the_invite_is_not_found(homeserver: RunningHomeserver) -> None:
    # Complement: TestFetchHistoricalInvitedEventFromBeforeInvite
    bob, room_id, before, _ = await invited_visibility_room(homeserver)
    status, body = await bob.status_of("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/event/{q(before)}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
