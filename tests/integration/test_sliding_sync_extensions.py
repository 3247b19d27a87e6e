"""Sliding sync extensions over real HTTP: to-device, e2ee, account data, receipts, typing
(MSC3885, MSC3884, MSC3959, MSC3960, MSC3961 as Synapse serves them)."""

from __future__ import annotations

from typing import Any

from clients.crypto import OlmAccount
from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sliding_sync_helpers import all_rooms, sliding_sync, sliding_sync_until
from tests.integration.test_e2e_keys import upload_device

V3 = "/_matrix/client/v3"


def with_extensions(**extensions: Any) -> dict[str, Any]:
    return all_rooms(timeline_limit=1, extensions=extensions)


async def two_in_a_room(homeserver: RunningHomeserver) -> tuple[MatrixHttp, MatrixHttp, str]:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    return alice, bob, room_id


async def test_to_device_delivered_until_acknowledged_with_since(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    await alice.request("PUT", f"{V3}/sendToDevice/m.test/t1", {
        "messages": {bob.user_id: {bob.device_id: {"n": 1}}}
    })
    body = with_extensions(to_device={"enabled": True})
    first = await sliding_sync(bob, body)
    to_device = first["extensions"]["to_device"]
    assert [e["content"] for e in to_device["events"]] == [{"n": 1}]
    assert to_device["events"][0]["sender"] == alice.user_id
    # Not acknowledged (no since): delivered again.
    again = await sliding_sync(bob, body, pos=first["pos"])
    assert [e["content"] for e in again["extensions"]["to_device"]["events"]] == [{"n": 1}]
    # Acknowledged by sending next_batch back as since: gone.
    acked = with_extensions(to_device={"enabled": True, "since": to_device["next_batch"]})
    third = await sliding_sync(bob, acked, pos=first["pos"])
    assert third["extensions"]["to_device"]["events"] == []

    # A new message wakes a long-poll.
    await alice.request("PUT", f"{V3}/sendToDevice/m.test/t2", {
        "messages": {bob.user_id: {bob.device_id: {"n": 2}}}
    })
    fourth = await sliding_sync_until(
        bob, acked, third["pos"], lambda r: bool(r["extensions"]["to_device"]["events"])
    )
    assert [e["content"] for e in fourth["extensions"]["to_device"]["events"]] == [{"n": 2}]
    assert int(fourth["extensions"]["to_device"]["next_batch"]) > int(to_device["next_batch"])


async def test_e2ee_key_counts_and_device_list_changes(homeserver: RunningHomeserver) -> None:
    alice, bob, _ = await two_in_a_room(homeserver)
    await upload_device(bob, OlmAccount.create(), one_time=5, fallback=True)
    body = with_extensions(e2ee={"enabled": True})
    first = await sliding_sync(bob, body)
    e2ee = first["extensions"]["e2ee"]
    assert e2ee["device_one_time_keys_count"]["signed_curve25519"] == 5
    assert e2ee["device_unused_fallback_key_types"] == ["signed_curve25519"]
    assert "device_lists" not in e2ee  # initial: nothing to compare against

    await upload_device(alice, OlmAccount.create())
    second = await sliding_sync_until(
        bob, body, first["pos"],
        lambda r: alice.user_id in r["extensions"]["e2ee"].get("device_lists", {}).get("changed", []),
    )
    assert second["extensions"]["e2ee"]["device_lists"]["left"] == []


async def test_account_data_global_and_per_room(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    await alice.request("PUT", f"{V3}/user/{q(alice.user_id or '')}/account_data/org.example.g", {"g": 1})
    await alice.request(
        "PUT", f"{V3}/user/{q(alice.user_id or '')}/rooms/{q(room_id)}/account_data/org.example.r", {"r": 1}
    )
    body = with_extensions(account_data={"enabled": True})
    first = await sliding_sync(alice, body)
    account_data = first["extensions"]["account_data"]
    global_types = {e["type"]: e["content"] for e in account_data["global"]}
    assert global_types["org.example.g"] == {"g": 1}
    assert "m.push_rules" in global_types
    assert account_data["rooms"][room_id] == [{"type": "org.example.r", "content": {"r": 1}}]

    await alice.request(
        "PUT", f"{V3}/user/{q(alice.user_id or '')}/rooms/{q(room_id)}/account_data/org.example.r", {"r": 2}
    )
    second = await sliding_sync(alice, body, pos=first["pos"])
    assert second["extensions"]["account_data"] == {
        "global": [], "rooms": {room_id: [{"type": "org.example.r", "content": {"r": 2}}]},
    }
    # Scoped to a list that does not exist: no room account data.
    scoped = with_extensions(account_data={"enabled": True, "lists": ["other"], "rooms": []})
    third = await sliding_sync(alice, {**scoped, "conn_id": "scoped"})
    assert third["extensions"]["account_data"]["rooms"] == {}


async def test_receipts_for_rooms_in_the_list(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await two_in_a_room(homeserver)
    event_id = await alice.send(room_id, "read me")
    body = with_extensions(receipts={"enabled": True})
    first = await sliding_sync(alice, body)
    assert first["extensions"]["receipts"]["rooms"] == {}
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/receipt/m.read/{q(event_id)}", {})
    second = await sliding_sync_until(
        alice, body, first["pos"], lambda r: room_id in r["extensions"]["receipts"]["rooms"]
    )
    receipt = second["extensions"]["receipts"]["rooms"][room_id]
    assert receipt["type"] == "m.receipt"
    assert bob.user_id in receipt["content"][event_id]["m.read"]


async def test_typing_wakes_the_long_poll(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await two_in_a_room(homeserver)
    body = with_extensions(typing={"enabled": True})
    first = await sliding_sync(alice, body)
    await bob.request("PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(bob.user_id or '')}",
                      {"typing": True, "timeout": 30000})
    second = await sliding_sync_until(
        alice, body, first["pos"], lambda r: room_id in r["extensions"]["typing"]["rooms"]
    )
    assert second["extensions"]["typing"]["rooms"][room_id] == {
        "type": "m.typing", "content": {"user_ids": [bob.user_id]},
    }


async def test_disabled_extensions_are_absent(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    response = await sliding_sync(alice, with_extensions(
        to_device={"enabled": False}, e2ee={}, typing={"enabled": False}
    ))
    assert response["extensions"] == {}
