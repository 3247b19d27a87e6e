"""Send-to-device messages and device list changes over real HTTP.

spec: client-server-api/modules/send_to_device.md ("Server behaviour": keep
messages until the client syncs past them) and "Tracking the device list for a
user"; cases follow Complement's TestToDeviceMessages.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until

V3 = "/_matrix/client/v3"


async def send_to_device(client: MatrixHttp, event_type: str, txn_id: str,
                         messages: dict[str, Any], expect: int = 200) -> Any:
    return await client.request(
        "PUT", f"{V3}/sendToDevice/{q(event_type)}/{q(txn_id)}", {"messages": messages}, expect=expect
    )


def to_device_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    return response.get("to_device", {}).get("events", [])


async def test_to_device_delivered_to_two_users(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    charlie = await homeserver.register("charlie")
    content = {"hello": "world", "n": 1}
    bob_since = (await bob.sync())["next_batch"]
    await send_to_device(alice, "my.test.type", "t1", {
        bob.user_id: {bob.device_id: content},
        charlie.user_id: {charlie.device_id: content},
    })
    for client, since in ((bob, bob_since), (charlie, None)):
        response, _ = await sync_until(client, since, lambda r: bool(to_device_events(r)))
        assert to_device_events(response) == [
            {"sender": alice.user_id, "type": "my.test.type", "content": content}
        ]


async def test_to_device_redelivered_until_acknowledged(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    first = await bob.sync()
    await send_to_device(alice, "m.test", "t1", {bob.user_id: {bob.device_id: {"i": 1}}})
    got, token = await sync_until(bob, first["next_batch"], lambda r: bool(to_device_events(r)))
    # The client "lost" that response and syncs from the old token again: redelivered.
    again = await bob.sync(since=first["next_batch"])
    assert to_device_events(again) == to_device_events(got)
    # An initial sync (no token) also still has it.
    assert to_device_events(await bob.sync()) == to_device_events(got)
    # Syncing with the token that followed the delivery acknowledges it: gone.
    after_ack = await bob.sync(since=token)
    assert to_device_events(after_ack) == []
    assert to_device_events(await bob.sync()) == []
    rows = await homeserver.hs.to_device_store.pending(bob.user_id or "", bob.device_id or "", 0, 10**9)
    assert rows == []


async def test_to_device_is_idempotent_per_transaction(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    messages = {bob.user_id: {bob.device_id: {"once": True}}}
    await send_to_device(alice, "m.test", "same-txn", messages)
    await send_to_device(alice, "m.test", "same-txn", messages)
    response, _ = await sync_until(bob, None, lambda r: bool(to_device_events(r)))
    assert len(to_device_events(response)) == 1


async def test_to_device_wildcard_reaches_every_device(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    bob_phone = homeserver.api()
    await bob_phone.login("bob")
    await send_to_device(alice, "m.test", "t-star", {bob.user_id: {"*": {"all": 1}}})
    for device in (bob, bob_phone):
        response, _ = await sync_until(device, None, lambda r: bool(to_device_events(r)))
        assert to_device_events(response)[0]["content"] == {"all": 1}


async def test_to_device_only_for_addressed_device(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    bob_phone = homeserver.api()
    await bob_phone.login("bob")
    await send_to_device(alice, "m.test", "t-one", {bob.user_id: {bob.device_id: {"only": "laptop"}}})
    await sync_until(bob, None, lambda r: bool(to_device_events(r)))
    assert to_device_events(await bob_phone.sync()) == []


async def test_to_device_wakes_long_poll_and_keeps_order(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    since = (await bob.sync())["next_batch"]
    for i in range(3):
        await send_to_device(alice, "m.test", f"order-{i}", {bob.user_id: {bob.device_id: {"i": i}}})
    seen: list[int] = []

    def three(r: dict[str, Any]) -> bool:
        seen.extend(e["content"]["i"] for e in to_device_events(r))
        return len(seen) >= 3

    await sync_until(bob, since, three)
    assert seen == [0, 1, 2]


async def test_to_device_remote_users_are_skipped(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    await send_to_device(alice, "m.test", "remote", {"@someone:elsewhere.example": {"DEV": {"x": 1}}})


async def test_to_device_requires_messages(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    err = await alice.request("PUT", f"{V3}/sendToDevice/m.test/t", {}, expect=400)
    assert err["errcode"] == "M_MISSING_PARAM"


async def test_to_device_positions_never_move_back_on_restart(homeserver: RunningHomeserver) -> None:
    """The stream's high-water mark outlives the deleted rows, so positions never repeat."""
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    await send_to_device(alice, "m.test", "hw", {bob.user_id: {bob.device_id: {}}})
    _, token = await sync_until(bob, None, lambda r: bool(to_device_events(r)))
    await bob.sync(since=token)  # acknowledges, deleting the row
    position = homeserver.hs.to_device_store.stream.current
    await homeserver.hs.to_device_store.load()  # what a restart does
    assert homeserver.hs.to_device_store.stream.current == position


# --- device lists ----------------------------------------------------------------------


def device_lists(response: dict[str, Any]) -> dict[str, list[str]]:
    return response.get("device_lists", {"changed": [], "left": []})


async def test_device_change_of_room_mate_in_device_lists(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    eve = await homeserver.register("eve")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    _, since = await sync_until(alice, None, lambda r: True)
    eve_since = (await eve.sync())["next_batch"]
    await homeserver.hs.device_lists.record_device_change(bob.user_id or "")
    response, _ = await sync_until(alice, since, lambda r: bool(device_lists(r)["changed"]))
    assert device_lists(response)["changed"] == [bob.user_id]
    assert bob.user_id not in device_lists(await eve.sync(since=eve_since))["changed"]


async def test_joining_member_listed_as_changed_and_leaver_as_left(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    _, since = await sync_until(alice, None, lambda r: True)
    await bob.join(room_id)
    response, since = await sync_until(alice, since, lambda r: bool(device_lists(r)["changed"]))
    assert bob.user_id in device_lists(response)["changed"]
    await bob.leave(room_id)
    response, _ = await sync_until(alice, since, lambda r: bool(device_lists(r)["left"]))
    assert device_lists(response)["left"] == [bob.user_id]


async def test_joiner_sees_existing_members_as_changed(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    _, since = await sync_until(bob, None, lambda r: True)
    await bob.join(room_id)
    response, _ = await sync_until(bob, since, lambda r: bool(device_lists(r)["changed"]))
    assert alice.user_id in device_lists(response)["changed"]


async def test_large_to_device_queue_is_delivered_in_batches(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    # One request, 150 messages for Bob's device (spec: ~100 per sync response).
    await send_to_device(alice, "m.test", "bulk", {bob.user_id: {bob.device_id: {"n": 0}, "*": {"n": 1}}})
    for i in range(2, 150):
        await send_to_device(alice, "m.test", f"bulk-{i}", {bob.user_id: {bob.device_id: {"n": i}}})
    first = await bob.sync()
    assert len(to_device_events(first)) == 100
    second = await bob.sync(since=first["next_batch"])
    assert len(to_device_events(second)) == 50
    third = await bob.sync(since=second["next_batch"])
    assert to_device_events(third) == []
