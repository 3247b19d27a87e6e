"""Each EDU type, sent by one real server, shows up in the other server's /sync.

spec: server-server-api.md, "Typing Notifications", "Receipts", "Presence",
"Send-to-device messaging", "Device Management".
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.federation.harness import FederatedHomeserver, federated_homeservers
from tests.federation.test_sender_outages import WAIT_S, shared_room
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import ephemeral_of, sync_until
from tests.integration.test_to_device import send_to_device, to_device_events

V3 = "/_matrix/client/v3"


@dataclass
class SharedRoom:
    hs1: FederatedHomeserver
    hs2: FederatedHomeserver
    alice: MatrixHttp  # on hs1, created the room
    bob: MatrixHttp  # on hs2, joined over federation
    room_id: str
    bob_token: str


@pytest.fixture
async def shared(tmp_path: Path) -> AsyncIterator[SharedRoom]:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice, bob, room_id, bob_token = await shared_room(hs1, hs2)
        yield SharedRoom(hs1, hs2, alice, bob, room_id, bob_token)


async def test_typing_reaches_the_other_server(shared: SharedRoom) -> None:
    alice, bob, room_id = shared.alice, shared.bob, shared.room_id
    await alice.request("PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(alice.user_id or '')}",
                        {"typing": True, "timeout": 30000})

    def alice_typing(response: dict[str, Any]) -> bool:
        return any(alice.user_id in e["content"]["user_ids"] for e in ephemeral_of(response, room_id, "m.typing"))

    _, token = await sync_until(bob, shared.bob_token, alice_typing, within=WAIT_S)
    await alice.request("PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(alice.user_id or '')}", {"typing": False})
    await sync_until(bob, token, lambda r: any(
        e["content"]["user_ids"] == [] for e in ephemeral_of(r, room_id, "m.typing")), within=WAIT_S)


async def test_typing_of_the_joining_side_reaches_the_room_creator(shared: SharedRoom) -> None:
    alice, bob, room_id = shared.alice, shared.bob, shared.room_id
    since = (await alice.sync())["next_batch"]
    await bob.request("PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(bob.user_id or '')}", {"typing": True})
    await sync_until(alice, since, lambda r: any(
        bob.user_id in e["content"]["user_ids"] for e in ephemeral_of(r, room_id, "m.typing")), within=WAIT_S)


async def test_read_receipt_reaches_the_other_server(shared: SharedRoom) -> None:
    alice, bob, room_id = shared.alice, shared.bob, shared.room_id
    event_id = await alice.send(room_id, "read me")
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/receipt/m.read/{q(event_id)}", {})

    def alice_read(response: dict[str, Any]) -> bool:
        return any(alice.user_id in e["content"].get(event_id, {}).get("m.read", {})
                   for e in ephemeral_of(response, room_id, "m.receipt"))

    response, _ = await sync_until(bob, shared.bob_token, alice_read, within=WAIT_S)
    [receipt] = [e for e in ephemeral_of(response, room_id, "m.receipt") if event_id in e["content"]]
    assert isinstance(receipt["content"][event_id]["m.read"][alice.user_id]["ts"], int)


async def test_private_receipt_stays_home(shared: SharedRoom) -> None:
    alice, room_id = shared.alice, shared.room_id
    sender = shared.hs1.hs.federation_sender
    receipts_sent: list[dict[str, Any]] = []
    receipt_sent = asyncio.Event()

    def on_delivered(_dest: str, body: dict[str, Any]) -> None:
        receipts_sent.extend(e["content"] for e in body.get("edus", []) if e["edu_type"] == "m.receipt")
        if receipts_sent:
            receipt_sent.set()

    sender.on_delivered.append(on_delivered)
    private_id = await alice.send(room_id, "private")
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/receipt/m.read.private/{q(private_id)}", {})
    public_id = await alice.send(room_id, "public")
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/receipt/m.read/{q(public_id)}", {})

    def only_public(response: dict[str, Any]) -> bool:
        receipts = ephemeral_of(response, room_id, "m.receipt")
        assert not any(private_id in e["content"] for e in receipts)
        return any(public_id in e["content"] for e in receipts)

    await sync_until(shared.bob, shared.bob_token, only_public, within=WAIT_S)
    await asyncio.wait_for(receipt_sent.wait(), WAIT_S)
    assert receipts_sent == [
        {room_id: {"m.read": {alice.user_id: {"event_ids": [public_id], "data": receipts_sent[0][room_id]
                                               ["m.read"][alice.user_id]["data"]}}}}
    ]


async def test_presence_reaches_a_user_sharing_a_room(shared: SharedRoom) -> None:
    alice, bob = shared.alice, shared.bob
    await alice.request("PUT", f"{V3}/presence/{q(alice.user_id or '')}/status",
                        {"presence": "online", "status_msg": "federating"})

    def alice_presence(response: dict[str, Any]) -> bool:
        return any(e["sender"] == alice.user_id and e["content"].get("status_msg") == "federating"
                   for e in response.get("presence", {}).get("events", []))

    response, _ = await sync_until(bob, shared.bob_token, alice_presence, within=WAIT_S)
    [event] = [e for e in response["presence"]["events"] if e["sender"] == alice.user_id]
    assert event["content"]["presence"] == "online"


async def test_to_device_message_reaches_the_remote_device_once(shared: SharedRoom) -> None:
    alice, bob = shared.alice, shared.bob
    messages = {bob.user_id: {bob.device_id: {"nonce": "c5a01ee071dc"}}}
    await send_to_device(alice, "m.test.interop", "txn-1", messages)
    await send_to_device(alice, "m.test.interop", "txn-1", messages)  # client retry: no second copy
    response, token = await sync_until(bob, shared.bob_token, lambda r: bool(to_device_events(r)), within=WAIT_S)
    assert to_device_events(response) == [
        {"sender": alice.user_id, "type": "m.test.interop", "content": {"nonce": "c5a01ee071dc"}}
    ]
    await send_to_device(alice, "m.test.interop", "txn-2", {bob.user_id: {"*": {"n": 2}}})
    response, _ = await sync_until(bob, token, lambda r: bool(to_device_events(r)), within=WAIT_S)
    assert [e["content"] for e in to_device_events(response)] == [{"n": 2}]


async def test_new_device_of_a_remote_user_shows_in_device_lists(shared: SharedRoom) -> None:
    alice, bob = shared.alice, shared.bob
    since = (await bob.sync(since=shared.bob_token))["next_batch"]
    second = shared.hs1.api()
    await second.login("alice")

    def alice_changed(response: dict[str, Any]) -> bool:
        return alice.user_id in response.get("device_lists", {}).get("changed", [])

    await sync_until(bob, since, alice_changed, within=WAIT_S)


async def test_device_list_updates_are_numbered_per_user(shared: SharedRoom) -> None:
    alice = shared.alice
    sent: list[dict[str, Any]] = []
    two_sent = asyncio.Event()

    def on_delivered(_dest: str, body: dict[str, Any]) -> None:
        sent.extend(e["content"] for e in body.get("edus", []) if e["edu_type"] == "m.device_list_update")
        if len(sent) >= 2:
            two_sent.set()

    shared.hs1.hs.federation_sender.on_delivered.append(on_delivered)
    second = shared.hs1.api()
    await second.login("alice")
    await second.request("POST", f"{V3}/logout", {})
    await asyncio.wait_for(two_sent.wait(), WAIT_S)
    added, deleted = sent[-2], sent[-1]
    assert added["user_id"] == deleted["user_id"] == alice.user_id
    assert added["device_id"] == deleted["device_id"] == second.device_id
    assert deleted["deleted"] is True and "deleted" not in added
    assert deleted["prev_id"] == [added["stream_id"]] and deleted["stream_id"] > added["stream_id"]


async def test_a_joining_server_hears_the_presence_of_the_rooms_members(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        await alice.request("PUT", f"{V3}/presence/{q(alice.user_id or '')}/status",
                            {"presence": "online", "status_msg": "here before you"})
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat")
        await bob.request("POST", f"{V3}/join/{q(room_id)}", {}, params={"via": hs1.server_name})

        def alice_presence(response: dict[str, Any]) -> bool:
            return any(e["sender"] == alice.user_id and e["content"].get("status_msg") == "here before you"
                       for e in response.get("presence", {}).get("events", []))

        await sync_until(bob, None, alice_presence, within=WAIT_S)


CAPTURES = Path("/work/shared/interop/captures")


def captured_edu(edu_type: str) -> dict[str, Any]:
    """The EDU Synapse 1.163.2 sent for this type (SYNAPSE.md §11)."""
    capture = json.loads((CAPTURES / f"send_txn_edu_{edu_type.replace('.', '_')}.json").read_text())
    [edu] = capture["request"]["body"]["edus"]
    return edu


def shape(value: Any, ids_below: int = 0) -> Any:
    """Keys and value types, with user, room, event and device IDs as map keys abstracted away."""
    if isinstance(value, dict):
        return {
            ("<id>" if ids_below or k[:1] in "@!$" else k): shape(v, 2 if k == "messages" else max(0, ids_below - 1))
            for k, v in value.items() if k != "org.matrix.opentracing_context"
        }
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


@pytest.mark.skipif(not CAPTURES.exists(), reason="interop captures not present")
async def test_outbound_edus_have_the_shape_synapse_sends(shared: SharedRoom) -> None:
    alice, bob, room_id = shared.alice, shared.bob, shared.room_id
    sent: dict[str, dict[str, Any]] = {}
    all_sent = asyncio.Event()
    wanted = {"m.typing", "m.receipt", "m.presence", "m.direct_to_device", "m.device_list_update"}

    def on_delivered(_dest: str, body: dict[str, Any]) -> None:
        for edu in body.get("edus", []):
            sent.setdefault(edu["edu_type"], edu)
        if wanted <= set(sent):
            all_sent.set()

    shared.hs1.hs.federation_sender.on_delivered.append(on_delivered)
    await alice.request("PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(alice.user_id or '')}", {"typing": True})
    event_id = await alice.send(room_id, "shape")
    await alice.request("POST", f"{V3}/rooms/{q(room_id)}/receipt/m.read/{q(event_id)}", {})
    # A change either way (alice may already be online from her syncs): an unchanged
    # presence sends no EDU.
    await alice.request("PUT", f"{V3}/presence/{q(alice.user_id or '')}/status", {"presence": "unavailable"})
    await send_to_device(alice, "m.test.interop", "t", {bob.user_id: {bob.device_id: {"nonce": "n"}}})
    await shared.hs1.api().login("alice", device_id="MDYPAGCUIK", initial_device_display_name="fed_check")
    await asyncio.wait_for(all_sent.wait(), WAIT_S)
    for edu_type in ("m.typing", "m.receipt", "m.direct_to_device"):
        assert shape(sent[edu_type]) == shape(captured_edu(edu_type)), edu_type
    # presence: Synapse leaves status_msg out when unset, as we do
    assert shape(sent["m.presence"]) == shape(captured_edu("m.presence"))
    # device list update: Synapse's has keys (uploaded before); ours has none uploaded yet
    ours = shape(sent["m.device_list_update"])["content"]
    theirs = shape(captured_edu("m.device_list_update"))["content"]
    theirs.pop("keys")
    assert ours == {**theirs, "prev_id": ours["prev_id"]} and ours["prev_id"] in ([], ["int"])


async def restart_keepalive(server: FederatedHomeserver, *, check_s: float, ping_s: float, timeout_s: float) -> None:
    edus = server.hs.federation_edus
    await edus.stop()
    edus.presence_check_interval_s = check_s
    edus.presence_ping_interval_s = ping_s
    edus.remote_presence_timeout_s = timeout_s
    edus.start()


async def test_presence_of_a_user_who_stays_online_is_sent_again(shared: SharedRoom) -> None:
    alice = shared.alice
    pushes: list[dict[str, Any]] = []
    three = asyncio.Event()

    def on_delivered(_dest: str, body: dict[str, Any]) -> None:
        pushes.extend(u for e in body.get("edus", []) if e["edu_type"] == "m.presence"
                      for u in e["content"]["push"] if u["user_id"] == alice.user_id)
        if len(pushes) >= 3:
            three.set()

    shared.hs1.hs.federation_sender.on_delivered.append(on_delivered)
    await alice.request("PUT", f"{V3}/presence/{q(alice.user_id or '')}/status", {"presence": "online"})
    await restart_keepalive(shared.hs1, check_s=0.05, ping_s=0.1, timeout_s=3600)
    await asyncio.wait_for(three.wait(), WAIT_S)  # one change, then keep-alives
    assert all(p["presence"] == "online" for p in pushes)


async def test_remote_user_whose_server_goes_quiet_times_out_to_offline(shared: SharedRoom) -> None:
    alice, bob = shared.alice, shared.bob
    await alice.request("PUT", f"{V3}/presence/{q(alice.user_id or '')}/status", {"presence": "online"})

    def alice_is(state: str) -> Any:
        def found(response: dict[str, Any]) -> bool:
            return any(e["sender"] == alice.user_id and e["content"]["presence"] == state
                       for e in response.get("presence", {}).get("events", []))
        return found

    _, token = await sync_until(bob, shared.bob_token, alice_is("online"), within=WAIT_S)
    await restart_keepalive(shared.hs2, check_s=0.05, ping_s=3600, timeout_s=0.2)
    await sync_until(bob, token, alice_is("offline"), within=WAIT_S)
