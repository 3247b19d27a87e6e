"""/sync and filters over real HTTP.

spec: client-server-api/_index.md "Syncing", "Filtering", "Lazy-loading room
members"; data/api/client-server/{sync,filter}.yaml. Cases mirror Complement's
sync_test, sync_filter_test, sync_archive_test and rooms_members_local tests.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixError, MatrixHttp, q

V3 = "/_matrix/client/v3"


def timeline_of(sync: dict[str, Any], room_id: str, section: str = "join") -> dict[str, Any]:
    return sync["rooms"][section][room_id]["timeline"]


def event_ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_id"] for e in events]


def as_filter(obj: dict[str, Any]) -> str:
    return orjson.dumps(obj).decode()


async def upload_filter(api: MatrixHttp, body: dict[str, Any]) -> str:
    result = await api.request("POST", f"{V3}/user/{q(api.user_id or '')}/filter", body)
    return result["filter_id"]


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("alice")


@pytest.fixture
async def bob(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("bob")


@pytest.fixture
async def room(alice: MatrixHttp, bob: MatrixHttp) -> str:
    room_id = await alice.create_room(preset="public_chat", name="Sync room")
    await bob.join(room_id)
    return room_id


# --- initial and incremental sync --------------------------------------------------------
async def test_initial_sync_has_room_state_and_timeline(alice: MatrixHttp, room: str) -> None:
    event_id = await alice.send(room, "hi")
    sync = await alice.sync()
    assert isinstance(sync["next_batch"], str)
    joined = sync["rooms"]["join"][room]
    assert event_ids(joined["timeline"]["events"])[-1] == event_id
    assert isinstance(joined["timeline"]["limited"], bool)
    assert isinstance(joined["state"]["events"], list)
    # Everything of the current state is either in state or in the timeline.
    seen = {(e["type"], e.get("state_key")) for e in joined["state"]["events"] + joined["timeline"]["events"]}
    assert {("m.room.create", ""), ("m.room.name", ""), ("m.room.member", alice.user_id)} <= seen
    assert all("room_id" not in e for e in joined["timeline"]["events"])


async def test_incremental_sync_returns_only_new_events(alice: MatrixHttp, room: str) -> None:
    await alice.send(room, "old")
    since = (await alice.sync())["next_batch"]
    new = await alice.send(room, "new")
    timeline = timeline_of(await alice.sync(since=since), room)
    assert event_ids(timeline["events"]) == [new]
    assert timeline["limited"] is False


async def test_unchanged_room_is_absent_from_incremental_sync(alice: MatrixHttp, room: str) -> None:
    other = await alice.create_room()
    since = (await alice.sync())["next_batch"]
    await alice.send(room, "only here")
    rooms = (await alice.sync(since=since))["rooms"]["join"]
    assert room in rooms and other not in rooms


async def test_existing_members_see_new_members_join(alice: MatrixHttp, homeserver: RunningHomeserver, room: str) -> None:
    since = (await alice.sync())["next_batch"]
    carol = await homeserver.register("carol")
    await carol.join(room)
    events = timeline_of(await alice.sync(since=since, timeout=5000), room)["events"]
    joins = [e for e in events if e["type"] == "m.room.member" and e["state_key"] == carol.user_id]
    assert joins and joins[0]["content"]["membership"] == "join"


async def test_newly_joined_room_appears_once_with_its_state(alice: MatrixHttp, bob: MatrixHttp) -> None:
    since = (await bob.sync())["next_batch"]
    room_id = await alice.create_room(preset="public_chat", name="New room")
    await bob.join(room_id)
    sync = await bob.sync(since=since)
    joined = sync["rooms"]["join"][room_id]
    everything = joined["state"]["events"] + joined["timeline"]["events"]
    assert ("m.room.name", "") in {(e["type"], e.get("state_key")) for e in everything}
    again = await bob.sync(since=sync["next_batch"])
    assert room_id not in again.get("rooms", {}).get("join", {})


async def test_newly_joined_room_timeline_respects_filter(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    for i in range(3):
        await alice.send(room_id, f"m{i}")
    since = (await bob.sync())["next_batch"]
    await bob.join(room_id)
    only_messages = as_filter({"room": {"timeline": {"types": ["m.room.message"], "limit": 10}}})
    timeline = timeline_of(await bob.sync(since=since, filter=only_messages), room_id)
    assert {e["type"] for e in timeline["events"]} == {"m.room.message"}
    assert len(timeline["events"]) == 3


async def test_next_batch_from_empty_incremental_sync_still_works(alice: MatrixHttp, room: str) -> None:
    first = (await alice.sync())["next_batch"]
    second = (await alice.sync(since=first))["next_batch"]
    new = await alice.send(room, "later")
    assert event_ids(timeline_of(await alice.sync(since=second), room)["events"]) == [new]


# --- long polling -------------------------------------------------------------------------
async def test_long_poll_returns_as_soon_as_a_message_arrives(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    since = (await bob.sync())["next_batch"]
    started = time.monotonic()
    poll = asyncio.create_task(bob.sync(since=since, timeout=20_000))
    # The poll is parked until something happens; nothing has been sent yet.
    done, _ = await asyncio.wait({poll}, timeout=0.2)
    assert not done, "sync returned before any event was sent"
    event_id = await alice.send(room, "wake up")
    sync = await asyncio.wait_for(poll, timeout=10)
    elapsed = time.monotonic() - started
    assert event_id in event_ids(timeline_of(sync, room)["events"])
    assert elapsed < 5, f"long-poll took {elapsed:.1f}s to notice the message"


async def test_long_poll_times_out_empty(alice: MatrixHttp, room: str) -> None:
    since = (await alice.sync())["next_batch"]
    started = time.monotonic()
    sync = await alice.sync(since=since, timeout=500)
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 5
    assert room not in sync.get("rooms", {}).get("join", {})
    assert sync["next_batch"]


async def test_long_poll_wakes_for_invite(alice: MatrixHttp, bob: MatrixHttp) -> None:
    since = (await bob.sync())["next_batch"]
    poll = asyncio.create_task(bob.sync(since=since, timeout=20_000))
    room_id = await alice.create_room(invite=[bob.user_id])
    sync = await asyncio.wait_for(poll, timeout=10)
    assert room_id in sync["rooms"]["invite"]


async def test_sync_timeout_zero_returns_immediately(alice: MatrixHttp, room: str) -> None:
    since = (await alice.sync())["next_batch"]
    started = time.monotonic()
    await alice.sync(since=since, timeout=0)
    assert time.monotonic() - started < 2


# --- limited timelines --------------------------------------------------------------------
async def test_limited_timeline_has_prev_batch_to_the_gap(alice: MatrixHttp, room: str) -> None:
    since = (await alice.sync())["next_batch"]
    sent = [await alice.send(room, f"m{i}") for i in range(15)]
    limit5 = as_filter({"room": {"timeline": {"limit": 5}}})
    timeline = timeline_of(await alice.sync(since=since, filter=limit5), room)
    assert timeline["limited"] is True
    assert event_ids(timeline["events"]) == sent[-5:]
    gap = await alice.messages(room, dir="b", limit=10, **{"from": timeline["prev_batch"]})
    assert event_ids(gap["chunk"]) == list(reversed(sent[:10]))


async def test_timeline_within_limit_is_not_limited(alice: MatrixHttp, room: str) -> None:
    since = (await alice.sync())["next_batch"]
    sent = [await alice.send(room, f"m{i}") for i in range(3)]
    timeline = timeline_of(await alice.sync(since=since), room)
    assert timeline["limited"] is False and event_ids(timeline["events"]) == sent


async def test_limited_incremental_sync_includes_state_changed_in_the_gap(alice: MatrixHttp, room: str) -> None:
    since = (await alice.sync())["next_batch"]
    await alice.send_state(room, "m.room.topic", {"topic": "in the gap"})
    for i in range(10):
        await alice.send(room, f"m{i}")
    limit3 = as_filter({"room": {"timeline": {"limit": 3}}})
    joined = (await alice.sync(since=since, filter=limit3))["rooms"]["join"][room]
    assert joined["timeline"]["limited"] is True
    topics = [e for e in joined["state"]["events"] if e["type"] == "m.room.topic"]
    assert topics and topics[0]["content"]["topic"] == "in the gap"


async def test_timeline_limit_zero_gives_state_only(alice: MatrixHttp, room: str) -> None:
    joined = (await alice.sync(filter=as_filter({"room": {"timeline": {"limit": 0}}})))["rooms"]["join"][room]
    assert joined["timeline"]["events"] == []
    assert ("m.room.name", "") in {(e["type"], e["state_key"]) for e in joined["state"]["events"]}


# --- filters --------------------------------------------------------------------------
async def test_filter_upload_and_download_round_trip(alice: MatrixHttp) -> None:
    body = {"room": {"timeline": {"limit": 10}}, "event_fields": ["type", "content"]}
    filter_id = await upload_filter(alice, body)
    assert isinstance(filter_id, str)
    assert await alice.request("GET", f"{V3}/user/{q(alice.user_id or '')}/filter/{filter_id}") == body


async def test_unknown_filter_id_is_not_found(alice: MatrixHttp) -> None:
    status, body = await alice.status_of("GET", f"{V3}/user/{q(alice.user_id or '')}/filter/12345")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_sync_with_unknown_filter_id_is_not_found(alice: MatrixHttp) -> None:
    status, body = await alice.status_of("GET", f"{V3}/sync", params={"filter": "98765"})
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_cannot_download_another_users_filter(alice: MatrixHttp, bob: MatrixHttp) -> None:
    filter_id = await upload_filter(alice, {})
    status, _ = await bob.status_of("GET", f"{V3}/user/{q(alice.user_id or '')}/filter/{filter_id}")
    assert status in (403, 404)


async def test_cannot_upload_filter_for_another_user(alice: MatrixHttp, bob: MatrixHttp) -> None:
    status, body = await bob.status_of("POST", f"{V3}/user/{q(alice.user_id or '')}/filter", body={})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


@pytest.mark.parametrize(
    "bad",
    [
        {"room": "not an object"},
        {"room": {"rooms": "!a:b"}},
        {"room": {"timeline": {"types": "m.room.message"}}},
        {"room": {"timeline": {"limit": "ten"}}},
        {"room": {"timeline": {"senders": [1, 2]}}},
        {"room": {"include_leave": "yes"}},
        {"presence": []},
        {"event_format": "xml"},
    ],
)
async def test_malformed_filter_is_rejected_with_4xx(alice: MatrixHttp, bad: dict[str, Any]) -> None:
    status, body = await alice.status_of("POST", f"{V3}/user/{q(alice.user_id or '')}/filter", body=bad)
    assert 400 <= status < 500 and body["errcode"] == "M_BAD_JSON"


async def test_uploaded_filter_applies_to_sync(alice: MatrixHttp, room: str) -> None:
    await alice.send(room, "text")
    await alice.send_state(room, "m.room.topic", {"topic": "t"})
    filter_id = await upload_filter(alice, {"room": {"timeline": {"types": ["m.room.topic"]}}})
    events = timeline_of(await alice.sync(filter=filter_id), room)["events"]
    assert events and {e["type"] for e in events} == {"m.room.topic"}


async def test_inline_filter_not_types_excludes_types(alice: MatrixHttp, room: str) -> None:
    await alice.send(room, "text")
    events = timeline_of(
        await alice.sync(filter=as_filter({"room": {"timeline": {"not_types": ["m.room.message"], "limit": 50}}})),
        room,
    )["events"]
    assert events and "m.room.message" not in {e["type"] for e in events}


async def test_filter_type_wildcards(alice: MatrixHttp, room: str) -> None:
    await alice.send(room, "text")
    events = timeline_of(
        await alice.sync(filter=as_filter({"room": {"timeline": {"types": ["m.room.m*"], "limit": 50}}})), room
    )["events"]
    assert {e["type"] for e in events} == {"m.room.member", "m.room.message"}


async def test_filter_rooms_limits_which_rooms_sync(alice: MatrixHttp, room: str) -> None:
    other = await alice.create_room()
    rooms = (await alice.sync(filter=as_filter({"room": {"rooms": [other]}})))["rooms"]["join"]
    assert set(rooms) == {other}


async def test_inline_filter_that_is_not_json_is_rejected(alice: MatrixHttp) -> None:
    status, body = await alice.status_of("GET", f"{V3}/sync", params={"filter": "{not json"})
    assert status == 400 and body["errcode"] == "M_NOT_JSON"


async def test_lazy_load_members_sends_only_senders_members(alice: MatrixHttp, bob: MatrixHttp, homeserver: RunningHomeserver, room: str) -> None:
    carol = await homeserver.register("carol")
    await carol.join(room)
    for i in range(5):
        await bob.send(room, f"bob {i}")
    lazy = as_filter({"room": {"timeline": {"limit": 3}, "state": {"lazy_load_members": True}}})
    joined = (await alice.sync(filter=lazy))["rooms"]["join"][room]
    members = {e["state_key"] for e in joined["state"]["events"] if e["type"] == "m.room.member"}
    assert bob.user_id in members and alice.user_id in members
    assert carol.user_id not in members


async def test_without_lazy_loading_all_members_are_sent(alice: MatrixHttp, bob: MatrixHttp, homeserver: RunningHomeserver, room: str) -> None:
    carol = await homeserver.register("carol")
    await carol.join(room)
    for i in range(5):
        await bob.send(room, f"bob {i}")
    joined = (await alice.sync(filter=as_filter({"room": {"timeline": {"limit": 3}}})))["rooms"]["join"][room]
    members = {e["state_key"] for e in joined["state"]["events"] if e["type"] == "m.room.member"}
    assert {alice.user_id, carol.user_id} <= members


# --- invites, leaves, knocks ------------------------------------------------------------------
async def test_invite_appears_with_invite_state(alice: MatrixHttp, bob: MatrixHttp) -> None:
    since = (await bob.sync())["next_batch"]
    room_id = await alice.create_room(name="Secret", invite=[bob.user_id])
    invite = (await bob.sync(since=since))["rooms"]["invite"][room_id]
    events = {(e["type"], e["state_key"]): e for e in invite["invite_state"]["events"]}
    assert events[("m.room.name", "")]["content"]["name"] == "Secret"
    assert events[("m.room.join_rules", "")]["content"]["join_rule"] == "invite"
    assert events[("m.room.member", bob.user_id)]["content"]["membership"] == "invite"
    assert events[("m.room.member", bob.user_id)]["sender"] == alice.user_id
    assert all(set(e) == {"type", "state_key", "content", "sender"} for e in invite["invite_state"]["events"])


async def test_invite_is_in_initial_sync_until_acted_on(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(invite=[bob.user_id])
    assert room_id in (await bob.sync())["rooms"]["invite"]
    await bob.join(room_id)
    rooms = (await bob.sync())["rooms"]
    assert room_id in rooms["join"] and room_id not in rooms.get("invite", {})


async def test_rejected_invite_appears_in_leave(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(invite=[bob.user_id])
    since = (await bob.sync())["next_batch"]
    await bob.leave(room_id)
    rooms = (await bob.sync(since=since))["rooms"]
    assert room_id in rooms["leave"] and room_id not in rooms.get("invite", {})


async def test_leave_appears_in_leave_section_with_own_leave_event(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    since = (await bob.sync())["next_batch"]
    await bob.leave(room)
    await alice.send(room, "after bob left")
    left = (await bob.sync(since=since))["rooms"]["leave"][room]
    events = left["timeline"]["events"]
    assert events[-1]["type"] == "m.room.member" and events[-1]["state_key"] == bob.user_id
    assert events[-1]["content"]["membership"] == "leave"
    assert "after bob left" not in [e["content"].get("body") for e in events]


async def test_left_room_is_not_in_a_later_incremental_sync(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    since = (await bob.sync())["next_batch"]
    await bob.leave(room)
    after_leave = (await bob.sync(since=since))["next_batch"]
    await alice.send(room, "more")
    assert room not in (await bob.sync(since=after_leave)).get("rooms", {}).get("leave", {})


async def test_left_rooms_are_in_initial_sync_only_with_include_leave(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    await bob.leave(room)
    assert room not in (await bob.sync()).get("rooms", {}).get("leave", {})
    with_leave = await bob.sync(filter=as_filter({"room": {"include_leave": True}}))
    assert room in with_leave["rooms"]["leave"]


async def test_join_leave_rejoin_is_not_in_leave_section(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    since = (await bob.sync())["next_batch"]
    await bob.join(room_id)
    await bob.leave(room_id)
    await bob.join(room_id)
    rooms = (await bob.sync(since=since))["rooms"]
    assert room_id in rooms["join"] and room_id not in rooms.get("leave", {})


async def test_ban_appears_in_leave_section(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    since = (await bob.sync())["next_batch"]
    await alice.request("POST", f"{V3}/rooms/{q(room)}/ban", {"user_id": bob.user_id})
    events = timeline_of(await bob.sync(since=since), room, "leave")["events"]
    assert events[-1]["content"]["membership"] == "ban"


async def test_knock_appears_in_knock_section(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}]
    )
    since = (await bob.sync())["next_batch"]
    await bob.request("POST", f"{V3}/knock/{q(room_id)}", {})
    knock = (await bob.sync(since=since))["rooms"]["knock"][room_id]
    members = [e for e in knock["knock_state"]["events"] if e["type"] == "m.room.member"]
    assert any(e["state_key"] == bob.user_id and e["content"]["membership"] == "knock" for e in members)


async def test_knocker_is_seen_by_members(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(
        initial_state=[{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}]
    )
    since = (await alice.sync())["next_batch"]
    await bob.request("POST", f"{V3}/knock/{q(room_id)}", {"reason": "hi"})
    events = timeline_of(await alice.sync(since=since), room_id)["events"]
    assert [e["content"]["membership"] for e in events if e.get("state_key") == bob.user_id] == ["knock"]


# --- full_state and tokens --------------------------------------------------------------------
async def test_full_state_includes_unchanged_rooms_with_all_state(alice: MatrixHttp, room: str) -> None:
    since = (await alice.sync())["next_batch"]
    sync = await alice.sync(since=since, full_state="true")
    joined = sync["rooms"]["join"][room]
    state_keys = {(e["type"], e["state_key"]) for e in joined["state"]["events"] + joined["timeline"]["events"]}
    assert {("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.name", "")} <= state_keys


async def test_full_state_with_include_leave_lists_left_room(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    await bob.leave(room)
    since = (await bob.sync())["next_batch"]
    sync = await bob.sync(since=since, full_state="true", filter=as_filter({"room": {"include_leave": True}}))
    assert room in sync["rooms"]["leave"]


@pytest.mark.parametrize("token", ["garbage", "s1_2_3_4_5_6_7_8_9", "sx", "s-1_-1"])
async def test_bad_since_token_is_rejected(alice: MatrixHttp, token: str) -> None:
    status, body = await alice.status_of("GET", f"{V3}/sync", params={"since": token})
    assert status == 400 and body["errcode"] == "M_INVALID_PARAM"


@pytest.mark.parametrize(("param", "value"), [("timeout", "soon"), ("full_state", "maybe"), ("set_presence", "busy")])
async def test_bad_sync_parameters_are_rejected(alice: MatrixHttp, param: str, value: str) -> None:
    status, body = await alice.status_of("GET", f"{V3}/sync", params={param: value})
    assert status == 400 and body["errcode"] == "M_INVALID_PARAM"


async def test_since_token_from_the_future_is_treated_as_now(alice: MatrixHttp, room: str) -> None:
    status, _ = await alice.status_of("GET", f"{V3}/sync", params={"since": "s999999999", "timeout": "0"})
    assert status == 200
    new = await alice.send(room, "still works")
    # Catch up from a real token: the message is there.
    assert new in event_ids(timeline_of(await alice.sync(), room)["events"])


async def test_sync_summary_counts_members(alice: MatrixHttp, bob: MatrixHttp, homeserver: RunningHomeserver, room: str) -> None:
    carol = await homeserver.register("carol")
    await alice.invite(room, carol.user_id)
    summary = (await alice.sync())["rooms"]["join"][room]["summary"]
    assert summary["m.joined_member_count"] == 2
    assert summary["m.invited_member_count"] == 1


async def test_sync_requires_access_token(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of("GET", f"{V3}/sync")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_sync_with_other_user_sending_does_not_leak_rooms(alice: MatrixHttp, bob: MatrixHttp) -> None:
    private = await alice.create_room()
    await alice.send(private, "alice only")
    assert private not in (await bob.sync()).get("rooms", {}).get("join", {})
    with pytest.raises(MatrixError):
        await bob.messages(private, dir="b")
