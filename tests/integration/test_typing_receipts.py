"""Typing notifications, receipts, read markers and unread counts over real HTTP.

spec: client-server-api/modules/{typing_notifications,receipts,read_markers}.md;
cases follow Complement's TestTyping, TestLeakyTyping, TestRoomReceipts and
TestRoomReadMarkers.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import ephemeral_of, joined_room, sync_until

V3 = "/_matrix/client/v3"


async def room_with_two(homeserver: RunningHomeserver) -> tuple[MatrixHttp, MatrixHttp, str]:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    return alice, bob, room_id


async def typing(client: MatrixHttp, room_id: str, on: bool, timeout: int | None = None,
                 expect: int = 200) -> Any:
    body: dict[str, Any] = {"typing": on}
    if timeout is not None:
        body["timeout"] = timeout
    return await client.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(client.user_id or '')}", body, expect=expect
    )


def typing_users(response: dict[str, Any], room_id: str) -> list[str] | None:
    events = ephemeral_of(response, room_id, "m.typing")
    return events[-1]["content"]["user_ids"] if events else None


async def receipt(client: MatrixHttp, room_id: str, event_id: str, receipt_type: str = "m.read",
                  body: dict[str, Any] | None = None, expect: int = 200) -> Any:
    return await client.request(
        "POST", f"{V3}/rooms/{q(room_id)}/receipt/{q(receipt_type)}/{q(event_id)}",
        body if body is not None else {}, expect=expect,
    )


# --- typing -----------------------------------------------------------------------


async def test_typing_notification_reaches_other_member_via_long_poll(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    since = (await bob.sync())["next_batch"]
    await typing(alice, room_id, True, 30000)
    response, _ = await sync_until(bob, since, lambda r: typing_users(r, room_id) is not None)
    assert typing_users(response, room_id) == [alice.user_id]
    event = ephemeral_of(response, room_id, "m.typing")[0]
    assert "room_id" not in event  # Complement: typing events carry no room_id


async def test_typing_can_be_explicitly_stopped(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    await typing(alice, room_id, True, 30000)
    _, since = await sync_until(bob, None, lambda r: typing_users(r, room_id) == [alice.user_id])
    await typing(alice, room_id, False)
    response, _ = await sync_until(bob, since, lambda r: typing_users(r, room_id) is not None)
    assert typing_users(response, room_id) == []


async def test_typing_expires_after_timeout(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    await typing(alice, room_id, True, 200)
    _, since = await sync_until(bob, None, lambda r: typing_users(r, room_id) == [alice.user_id])
    response, _ = await sync_until(bob, since, lambda r: typing_users(r, room_id) is not None)
    assert typing_users(response, room_id) == []


async def test_cannot_set_typing_for_another_user(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    err = await alice.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(bob.user_id or '')}", {"typing": True}, expect=403
    )
    assert err["errcode"] == "M_FORBIDDEN"


async def test_cannot_type_in_room_not_joined(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    eve = await homeserver.register("eve")
    room_id = await alice.create_room(preset="public_chat")
    err = await typing(eve, room_id, True, expect=403)
    assert err["errcode"] == "M_FORBIDDEN"


async def test_typing_does_not_leak_to_non_members(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    eve = await homeserver.register("eve")
    eve_room = await eve.create_room()
    since = (await eve.sync())["next_batch"]
    await typing(alice, room_id, True, 30000)
    await typing(eve, eve_room, True, 30000)  # something for eve, so the long-poll returns
    response, _ = await sync_until(eve, since, lambda r: typing_users(r, eve_room) is not None)
    assert joined_room(response, room_id) == {}


async def test_typing_requires_typing_field(homeserver: RunningHomeserver) -> None:
    alice, _bob, room_id = await room_with_two(homeserver)
    err = await alice.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(alice.user_id or '')}", {"timeout": 10}, expect=400
    )
    assert err["errcode"] == "M_BAD_JSON"


# --- receipts ----------------------------------------------------------------------


def receipt_content(response: dict[str, Any], room_id: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for event in ephemeral_of(response, room_id, "m.receipt"):
        for event_id, by_type in event["content"].items():
            for rtype, users in by_type.items():
                merged.setdefault(event_id, {}).setdefault(rtype, {}).update(users)
    return merged


async def test_read_receipt_appears_for_other_member(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    event_id = await alice.send(room_id, "hello")
    _, since = await sync_until(alice, None, lambda r: True)
    await receipt(bob, room_id, event_id)
    response, _ = await sync_until(alice, since, lambda r: bool(receipt_content(r, room_id)))
    content = receipt_content(response, room_id)
    assert bob.user_id in content[event_id]["m.read"]
    assert isinstance(content[event_id]["m.read"][bob.user_id]["ts"], int)
    assert all("room_id" not in e for e in ephemeral_of(response, room_id, "m.receipt"))


async def test_initial_sync_has_current_receipts_incremental_only_new(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    first = await alice.send(room_id, "one")
    await receipt(bob, room_id, first)
    initial = await alice.sync()
    assert bob.user_id in receipt_content(initial, room_id)[first]["m.read"]
    second = await alice.send(room_id, "two")
    await receipt(alice, room_id, second)
    response, _ = await sync_until(
        alice, initial["next_batch"], lambda r: bool(receipt_content(r, room_id))
    )
    content = receipt_content(response, room_id)
    assert first not in content  # not repeated
    assert alice.user_id in content[second]["m.read"]


async def test_private_read_receipt_only_visible_to_owner(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    event_id = await alice.send(room_id, "secret")
    alice_since = (await alice.sync())["next_batch"]
    bob_since = (await bob.sync())["next_batch"]
    await receipt(bob, room_id, event_id, "m.read.private")
    response, _ = await sync_until(bob, bob_since, lambda r: bool(receipt_content(r, room_id)))
    assert bob.user_id in receipt_content(response, room_id)[event_id]["m.read.private"]
    # Alice must never see it: a later public receipt is the first thing she gets.
    other = await bob.send(room_id, "public now")
    await receipt(alice, room_id, other)
    response, _ = await sync_until(alice, alice_since, lambda r: bool(receipt_content(r, room_id)))
    content = receipt_content(response, room_id)
    assert "m.read.private" not in content.get(event_id, {})
    assert all("m.read.private" not in by_type for by_type in content.values())
    initial = await alice.sync()
    assert all("m.read.private" not in t for t in receipt_content(initial, room_id).values())


async def test_threaded_receipt_carries_thread_id(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    event_id = await alice.send(room_id, "root")
    await receipt(bob, room_id, event_id, body={"thread_id": "main"})
    response = await alice.sync()
    assert receipt_content(response, room_id)[event_id]["m.read"][bob.user_id]["thread_id"] == "main"


@pytest.mark.parametrize("body", [{"thread_id": ""}, {"thread_id": 3}])
async def test_invalid_thread_id_rejected(homeserver: RunningHomeserver, body: dict[str, Any]) -> None:
    alice, _bob, room_id = await room_with_two(homeserver)
    event_id = await alice.send(room_id, "x")
    err = await receipt(alice, room_id, event_id, body=body, expect=400)
    assert err["errcode"] == "M_INVALID_PARAM"


async def test_unknown_receipt_type_rejected(homeserver: RunningHomeserver) -> None:
    alice, _bob, room_id = await room_with_two(homeserver)
    event_id = await alice.send(room_id, "x")
    err = await receipt(alice, room_id, event_id, "m.bogus", expect=400)
    assert err["errcode"] == "M_INVALID_PARAM"


async def test_fully_read_receipt_sets_room_account_data(homeserver: RunningHomeserver) -> None:
    alice, _bob, room_id = await room_with_two(homeserver)
    event_id = await alice.send(room_id, "x")
    await receipt(alice, room_id, event_id, "m.fully_read")
    data = await alice.request(
        "GET", f"{V3}/user/{q(alice.user_id or '')}/rooms/{q(room_id)}/account_data/m.fully_read"
    )
    assert data == {"event_id": event_id}


async def test_read_markers_set_fully_read_and_receipt(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    event_id = await alice.send(room_id, "marker")
    since = (await bob.sync())["next_batch"]
    await bob.request(
        "POST", f"{V3}/rooms/{q(room_id)}/read_markers", {"m.fully_read": event_id, "m.read": event_id}
    )

    def both(r: dict[str, Any]) -> bool:
        data = joined_room(r, room_id).get("account_data", {}).get("events", [])
        return bool(receipt_content(r, room_id)) and any(e["type"] == "m.fully_read" for e in data)

    response, _ = await sync_until(bob, since, both)
    assert bob.user_id in receipt_content(response, room_id)[event_id]["m.read"]
    data = joined_room(response, room_id)["account_data"]["events"]
    assert [e["content"] for e in data if e["type"] == "m.fully_read"] == [{"event_id": event_id}]


async def test_receipt_for_unknown_event_is_not_found(homeserver: RunningHomeserver) -> None:
    alice, _bob, room_id = await room_with_two(homeserver)
    err = await receipt(alice, room_id, "$nope", expect=404)
    assert err["errcode"] == "M_NOT_FOUND"


# --- unread counts -------------------------------------------------------------------


def unread(response: dict[str, Any], room_id: str) -> dict[str, int] | None:
    return joined_room(response, room_id).get("unread_notifications")


async def test_unread_count_rises_and_receipt_resets_it(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    _, since = await sync_until(bob, None, lambda r: True)
    await alice.send(room_id, "one")
    last = await alice.send(room_id, "two")
    response, since = await sync_until(
        bob, since, lambda r: (unread(r, room_id) or {}).get("notification_count") == 2
    )
    assert unread(response, room_id) == {"notification_count": 2, "highlight_count": 0}
    await receipt(bob, room_id, last)
    response, _ = await sync_until(
        bob, since, lambda r: (unread(r, room_id) or {}).get("notification_count") == 0
    )
    assert unread(response, room_id) == {"notification_count": 0, "highlight_count": 0}


async def test_own_messages_do_not_count_as_unread(homeserver: RunningHomeserver) -> None:
    alice, _bob, room_id = await room_with_two(homeserver)
    await alice.send(room_id, "mine")
    response = await alice.sync()
    assert unread(response, room_id) == {"notification_count": 0, "highlight_count": 0}


async def test_mention_of_user_id_raises_highlight_count(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    await alice.send(room_id, f"hey {bob.user_id} look")
    await alice.send(room_id, "nothing to see")
    response = await bob.sync()
    assert unread(response, room_id) == {"notification_count": 2, "highlight_count": 1}


async def test_mention_by_display_name_and_m_mentions(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    await bob.request("PUT", f"{V3}/profile/{q(bob.user_id or '')}/displayname", {"displayname": "Bobby"})
    await alice.send(room_id, "bobby, are you there?")
    await alice.send(room_id, {"msgtype": "m.text", "body": "hi", "m.mentions": {"user_ids": [bob.user_id]}})
    # With m.mentions present, the body is not searched for the name.
    await alice.send(room_id, {"msgtype": "m.text", "body": "Bobby", "m.mentions": {}})
    response = await bob.sync()
    assert unread(response, room_id) == {"notification_count": 3, "highlight_count": 2}


async def test_private_receipt_also_resets_unread(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    last = await alice.send(room_id, "one")
    assert unread(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 0}
    await receipt(bob, room_id, last, "m.read.private")
    assert unread(await bob.sync(), room_id) == {"notification_count": 0, "highlight_count": 0}
