"""EDUs and transactions on one server: what it accepts from a (trusted) origin and
what it queues for other servers.

spec: server-server-api.md, "Transactions", "Send-to-device messaging", "Typing
Notifications", "Presence". The X-Matrix checks in front of PUT /send are
covered by the two-server tests; here the TransactionReceiver and the sender's
queue are driven directly.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.conftest import RunningHomeserver, make_config, start_homeserver
from tests.federation.test_sender_queue import RecordingClient
from tests.integration.sync_waiting import sync_until
from tests.integration.test_to_device import send_to_device, to_device_events

REMOTE = "remote.test:8448"


@pytest.fixture
def client(homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch) -> RecordingClient:
    """Records what the homeserver sends to other servers (restored before it stops)."""
    recording = RecordingClient()
    monkeypatch.setattr(homeserver.hs.federation_sender, "client", recording)
    return recording


class RecordingEventHandler:
    """Test double for the receiver's PDU handler (FederatedEventHandler): records PDUs, accepts them all."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []

    async def on_receive_pdus(self, origin: str, pdus: list[dict[str, Any]]) -> dict[str, str | None]:
        self.calls.append((origin, pdus))
        return {f"${pdu['n']}": None for pdu in pdus}


def direct_to_device(sender: str, message_id: str, messages: dict[str, Any]) -> dict[str, Any]:
    # Shape as captured from Synapse (captures/send_txn_edu_m_direct_to_device.json).
    return {
        "edu_type": "m.direct_to_device",
        "content": {
            "sender": sender, "type": "m.test.interop", "message_id": message_id, "messages": messages,
            "org.matrix.opentracing_context": "{}",
        },
    }


async def test_to_device_edu_reaches_the_local_device_once(homeserver: RunningHomeserver) -> None:
    bob = await homeserver.register("bob")
    since = (await bob.sync())["next_batch"]
    edu = direct_to_device(f"@alice:{REMOTE}", "m1", {bob.user_id: {bob.device_id: {"nonce": "c5a0"}}})
    receiver = homeserver.hs.federation_receiver
    await receiver.receive(REMOTE, "txn1", [], [edu])
    await receiver.receive(REMOTE, "txn2", [], [edu])  # resent in a new transaction: same message_id
    response, token = await sync_until(bob, since, lambda r: bool(to_device_events(r)))
    assert to_device_events(response) == [
        {"sender": f"@alice:{REMOTE}", "type": "m.test.interop", "content": {"nonce": "c5a0"}}
    ]
    assert to_device_events(await bob.sync(since=token)) == []


async def test_to_device_edu_for_all_devices_with_star(homeserver: RunningHomeserver) -> None:
    bob = await homeserver.register("bob")
    edu = direct_to_device(f"@alice:{REMOTE}", "m1", {bob.user_id: {"*": {"n": 1}}})
    await homeserver.hs.federation_receiver.receive(REMOTE, "txn1", [], [edu])
    response, _ = await sync_until(bob, None, lambda r: bool(to_device_events(r)))
    assert [e["content"] for e in to_device_events(response)] == [{"n": 1}]


async def test_to_device_edu_from_a_server_not_owning_the_sender_is_dropped(
    homeserver: RunningHomeserver,
) -> None:
    bob = await homeserver.register("bob")
    edu = direct_to_device("@mallory:elsewhere.test", "m1", {bob.user_id: {bob.device_id: {"n": 1}}})
    answer = await homeserver.hs.federation_receiver.receive(REMOTE, "txn1", [], [edu])
    assert answer == {"pdus": {}}
    assert to_device_events(await bob.sync()) == []


async def test_malformed_and_unknown_edus_do_not_fail_the_transaction(homeserver: RunningHomeserver) -> None:
    edus = [
        "not an object",
        {"edu_type": "m.typing", "content": {"room_id": 5}},
        {"edu_type": "org.example.unknown", "content": {}},
        {"edu_type": "m.presence", "content": {"push": "nope"}},
    ]
    assert await homeserver.hs.federation_receiver.receive(REMOTE, "t", [], edus) == {"pdus": {}}


async def test_typing_edu_for_a_user_not_in_the_room_is_ignored(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    edu = {"edu_type": "m.typing", "content": {"room_id": room_id, "user_id": f"@bob:{REMOTE}", "typing": True}}
    await homeserver.hs.federation_receiver.receive(REMOTE, "t", [], [edu])
    assert homeserver.hs.typing.typing_users(room_id) == []


async def test_retried_transaction_gets_the_same_answer_without_reprocessing(
    homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hs = homeserver.hs
    handler = RecordingEventHandler()
    monkeypatch.setattr(hs.federation_receiver, "pdu_handler", handler)
    pdus = [{"room_id": "!a:remote.test", "n": 1}, {"room_id": "!b:remote.test", "n": 2}]
    first = await hs.federation_receiver.receive(REMOTE, "txn-9", pdus, [])
    again = await hs.federation_receiver.receive(REMOTE, "txn-9", pdus, [])
    assert first == again == {"pdus": {"$1": {}, "$2": {}}}
    assert len(handler.calls) == 2  # one call per room, the first time only
    other_origin = await hs.federation_receiver.receive("other.test", "txn-9", pdus, [])
    assert other_origin == first and len(handler.calls) == 4  # txn IDs are per origin


async def test_pdus_are_handed_over_per_room_in_order(
    homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hs = homeserver.hs
    handler = RecordingEventHandler()
    monkeypatch.setattr(hs.federation_receiver, "pdu_handler", handler)
    pdus = [{"room_id": "!a:r", "n": 1}, {"room_id": "!b:r", "n": 2}, {"room_id": "!a:r", "n": 3}]
    await hs.federation_receiver.receive(REMOTE, "t", pdus, [])
    by_room = {call[1][0]["room_id"]: [p["n"] for p in call[1]] for call in handler.calls}
    assert by_room == {"!a:r": [1, 3], "!b:r": [2]}


async def test_to_device_for_a_remote_user_is_queued_as_an_edu(
    homeserver: RunningHomeserver, client: RecordingClient
) -> None:
    alice = await homeserver.register("alice")
    await send_to_device(alice, "m.room_key_request", "t1", {f"@bob:{REMOTE}": {"DEV": {"k": 1}}})
    await client.wait_for(lambda: len(client.delivered) == 1)
    destination, path, body = client.delivered[0]
    assert destination == REMOTE and path.startswith("/_matrix/federation/v1/send/")
    [edu] = body["edus"]
    assert edu["edu_type"] == "m.direct_to_device"
    content = edu["content"]
    assert content["sender"] == alice.user_id and content["type"] == "m.room_key_request"
    assert content["messages"] == {f"@bob:{REMOTE}": {"DEV": {"k": 1}}}
    assert isinstance(content["message_id"], str) and 0 < len(content["message_id"]) <= 32
    # the client retrying its request (same txn ID) sends nothing new
    await send_to_device(alice, "m.room_key_request", "t1", {f"@bob:{REMOTE}": {"DEV": {"k": 1}}})
    await send_to_device(alice, "m.test", "t2", {f"@bob:{REMOTE}": {"DEV": {"k": 2}}})
    await client.wait_for(lambda: len(client.delivered) == 2)
    assert client.delivered[1][2]["edus"][0]["content"]["type"] == "m.test"


async def test_a_retry_during_processing_gets_the_same_answer_even_if_the_first_caller_left(
    homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    class SlowHandler(RecordingEventHandler):
        async def on_receive_pdus(self, origin: str, pdus: list[dict[str, Any]]) -> dict[str, str | None]:
            started.set()
            await release.wait()
            return await super().on_receive_pdus(origin, pdus)

    handler = SlowHandler()
    monkeypatch.setattr(homeserver.hs.federation_receiver, "pdu_handler", handler)
    receiver = homeserver.hs.federation_receiver
    pdus = [{"room_id": "!a:r", "n": 1}]
    first = asyncio.create_task(receiver.receive(REMOTE, "slow", pdus, []))
    await asyncio.wait_for(started.wait(), 10)
    retry = asyncio.create_task(receiver.receive(REMOTE, "slow", pdus, []))
    first.cancel()  # the sender timed out and hung up
    release.set()
    assert await asyncio.wait_for(retry, 10) == {"pdus": {"$1": {}}}
    assert len(handler.calls) == 1


CAPTURES = Path("/work/shared/interop/captures")


def captured_transaction(name: str) -> dict[str, Any]:
    return json.loads((CAPTURES / name).read_text())["request"]["body"]


@pytest.mark.skipif(not CAPTURES.exists(), reason="interop captures not present")
async def test_synapse_captured_to_device_and_presence_are_applied(tmp_path: Path) -> None:
    """Bodies exactly as Synapse 1.163.2 sent them from 127.0.0.1:8481 to 127.0.0.1:8482."""
    hs, server = await start_homeserver(make_config(tmp_path / "hs2", "127.0.0.1:8482"))
    try:
        async with ClientSession() as session:
            running = RunningHomeserver(hs, server, session)
            bob = await running.register("bob031a82")
            await bob.login("bob031a82", device_id="MDYPAGCUIK")
            to_device = captured_transaction("send_txn_edu_m_direct_to_device.json")
            presence = captured_transaction("send_txn_edu_m_presence.json")
            assert await hs.federation_receiver.receive(
                to_device["origin"], "1795259421279", to_device["pdus"], to_device["edus"]) == {"pdus": {}}
            await hs.federation_receiver.receive(presence["origin"], "1795259421275", [], presence["edus"])
            response, _ = await sync_until(bob, None, lambda r: bool(to_device_events(r)))
            assert to_device_events(response) == [{
                "sender": "@alice031a82:127.0.0.1:8481", "type": "m.test.interop",
                "content": {"nonce": "c5a01ee071dc"},
            }]
            alice_presence = hs.presence.presence_of("@alice031a82:127.0.0.1:8481")
            assert alice_presence is not None
            assert alice_presence["presence"] == "online" and alice_presence["currently_active"] is True
    finally:
        await server.close()
