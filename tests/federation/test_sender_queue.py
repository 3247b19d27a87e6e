"""FederationSender: batching limits, order, retries with the same txnId, durability.

spec: server-server-api.md, "Transactions" — at most 50 PDUs and 100 EDUs per
transaction; a sender retries the same transaction until it gets a 200.
These tests drive the sender against a recording stand-in for the federation
client; the two-server tests in test_sender_federation.py use the real one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from federation.crypto.signing import generate_signing_key
from federation.rooms.builder import build_event
from federation.rooms.versions import KNOWN_ROOM_VERSIONS
from federation.sender import (
    MAX_EDUS_PER_TXN,
    MAX_PDUS_PER_TXN,
    MAX_TXN_BYTES,
    BackoffPolicy,
    FederationSender,
    destinations_for_event,
    federation_pdu,
)
from tests.conftest import RunningHomeserver

REMOTE = "remote.test:8448"
WAIT_S = 10.0
FAST_RETRIES = BackoffPolicy(initial_s=0.01, maximum_s=0.05)


class RecordingClient:
    """Stands in for hs.federation_client: records every PUT, fails while told to."""

    def __init__(self, failures: int = 0) -> None:
        self.failures_left = failures
        self.attempts: list[tuple[str, str, dict[str, Any]]] = []
        self.delivered: list[tuple[str, str, dict[str, Any]]] = []
        self.changed = asyncio.Event()

    async def put_json(
        self, destination: str, path: str, body: dict[str, Any], query: Any = None, *, timeout: float = 30.0  # noqa: ASYNC109 (team interface)
    ) -> dict[str, Any]:
        self.attempts.append((destination, path, body))
        self.changed.set()
        if self.failures_left > 0:
            self.failures_left -= 1
            raise ConnectionError("destination down")
        self.delivered.append((destination, path, body))
        return {"pdus": {}}

    async def wait_for(self, predicate: Any) -> None:
        async def until() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), WAIT_S)


@pytest.fixture
def client(homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch) -> RecordingClient:
    """Replaces the homeserver's sender's federation client for the test (restored before it stops)."""
    recording = RecordingClient()
    monkeypatch.setattr(homeserver.hs.federation_sender, "client", recording)
    return recording


def _sender_like_the_homeserver_s(
    homeserver: RunningHomeserver, client: RecordingClient, **options: Any
) -> FederationSender:
    """Another sender on the homeserver's queue tables and rooms, wired like its own."""
    hs = homeserver.hs
    return FederationSender(
        hs.federation_queue_store, client,
        event_store=hs.event_store, rooms=hs.events, clock=hs.clock,
        server_name=hs.server_name, is_mine=hs.is_mine, enabled=hs.config.federation.enabled,
        **options,
    )


async def _new_sender(homeserver: RunningHomeserver, client: RecordingClient) -> FederationSender:
    """A second, not yet started sender on the homeserver's queue tables."""
    assert homeserver.hs.federation_sender.client is client
    return _sender_like_the_homeserver_s(homeserver, client, backoff=FAST_RETRIES, random_unit=lambda: 0.5)


class Acknowledged:
    """Bodies the sender got a 200 for, recorded after their rows were removed."""

    def __init__(self, sender: FederationSender) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        sender.on_delivered.append(self._record)

    def _record(self, _destination: str, body: dict[str, Any]) -> None:
        self.bodies.append(body)
        self._changed.set()

    async def wait_for_pdus(self, count: int) -> None:
        async def until() -> None:
            while sum(len(b["pdus"]) for b in self.bodies) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), WAIT_S)


async def _room_with_messages(homeserver: RunningHomeserver, count: int) -> list[str]:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    return [await alice.send(room_id, f"message {i}") for i in range(count)]


def test_backoff_doubles_from_two_seconds_up_to_an_hour() -> None:
    policy = BackoffPolicy()
    no_jitter = [policy.delay(n, 0.5) for n in range(1, 15)]
    assert no_jitter[:5] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert no_jitter[-1] == 3600.0
    assert policy.delay(0, 0.5) == 0.0


def test_backoff_jitter_stays_within_twenty_percent() -> None:
    policy = BackoffPolicy()
    assert policy.delay(3, 0.0) == pytest.approx(8.0 * 0.8)
    assert policy.delay(3, 0.999999) == pytest.approx(8.0 * 1.2, rel=1e-5)
    assert policy.delay(20, 0.999999) == 3600.0  # never past the maximum


def _member(version: Any, key: Any, user: str, membership: str, sender: str | None = None) -> Any:
    sender = sender or user
    return build_event(
        room_version=version, room_id="!room:a.test", sender=sender, event_type="m.room.member",
        content={"membership": membership}, state_key=user, prev_event_ids=[], auth_event_ids=[],
        depth=2, origin_server_ts=1, server_name=sender.split(":", 1)[1], signing_key=key,
    )


def test_local_event_goes_to_servers_with_joined_members_and_to_its_target() -> None:
    version = KNOWN_ROOM_VERSIONS["11"]
    key = generate_signing_key()
    state = {
        ("m.room.member", "@a:a.test"): _member(version, key, "@a:a.test", "join"),
        ("m.room.member", "@b:b.test"): _member(version, key, "@b:b.test", "join"),
        ("m.room.member", "@c:c.test"): _member(version, key, "@c:c.test", "leave"),
    }
    invite = _member(version, key, "@d:d.test", "invite", sender="@a:a.test")
    assert destinations_for_event(state, invite, "a.test") == {"b.test", "d.test"}
    message = build_event(
        room_version=version, room_id="!room:a.test", sender="@a:a.test", event_type="m.room.message",
        content={"body": "hi"}, prev_event_ids=[], auth_event_ids=[], depth=3, origin_server_ts=1,
        server_name="a.test", signing_key=key,
    )
    assert destinations_for_event(state, message, "a.test") == {"b.test"}


def test_federated_pdu_drops_local_unsigned_data() -> None:
    version = KNOWN_ROOM_VERSIONS["11"]
    event = _member(version, generate_signing_key(), "@a:a.test", "join")
    event.pdu["unsigned"] = {"transaction_id": "t1", "replaces_state": "$x", "redacted_because": {}}
    assert federation_pdu(event)["unsigned"] == {"replaces_state": "$x"}
    assert "unsigned" in event.pdu  # the stored event is untouched


async def test_queued_pdus_go_out_in_order_at_most_50_per_transaction(
    homeserver: RunningHomeserver, client: RecordingClient
) -> None:
    event_ids = await _room_with_messages(homeserver, 120)
    sender = await _new_sender(homeserver, client)
    events = await homeserver.hs.event_store.get_events(event_ids)
    for event_id in event_ids:  # queued while the sender is not running yet
        await sender.send_pdu(events[event_id], [REMOTE])
    acknowledged = Acknowledged(sender)
    await sender.start()
    try:
        await acknowledged.wait_for_pdus(120)
    finally:
        await sender.stop()
    sizes = [len(body["pdus"]) for _, _, body in client.delivered]
    assert sizes == [MAX_PDUS_PER_TXN, MAX_PDUS_PER_TXN, 20]
    sent = [pdu["content"]["body"] for _, _, body in client.delivered for pdu in body["pdus"]]
    assert sent == [f"message {i}" for i in range(120)]
    assert all(body["origin"] == homeserver.server_name for _, _, body in client.delivered)
    assert "edus" not in client.delivered[0][2]  # omitted when empty, as Synapse does
    assert await homeserver.hs.federation_queue_store.pending_count(REMOTE) == 0


async def test_queued_edus_go_out_in_order_at_most_100_per_transaction(
    homeserver: RunningHomeserver, client: RecordingClient
) -> None:
    sender = await _new_sender(homeserver, client)
    for i in range(250):
        await sender.send_edu(REMOTE, "m.test", {"n": i})
    await sender.start()
    try:
        await client.wait_for(lambda: sum(len(b.get("edus", [])) for _, _, b in client.delivered) >= 250)
    finally:
        await sender.stop()
    sizes = [len(body["edus"]) for _, _, body in client.delivered]
    assert sizes == [MAX_EDUS_PER_TXN, MAX_EDUS_PER_TXN, 50]
    assert [e["content"]["n"] for _, _, b in client.delivered for e in b["edus"]] == list(range(250))
    assert client.delivered[0][2]["pdus"] == []


async def test_failed_transaction_is_retried_with_the_same_txn_id_and_body(
    homeserver: RunningHomeserver, client: RecordingClient
) -> None:
    client.failures_left = 3
    sender = await _new_sender(homeserver, client)
    await sender.start()
    try:
        await sender.send_edu(REMOTE, "m.test", {"n": 1})
        await client.wait_for(lambda: len(client.delivered) == 1)
        assert len(client.attempts) == 4
        assert len({path for _, path, _ in client.attempts}) == 1
        assert all(body == client.attempts[0][2] for _, _, body in client.attempts)
        # the next transaction gets a new txnId, and goes out at once: backoff was reset
        await sender.send_edu(REMOTE, "m.test", {"n": 2})
        await client.wait_for(lambda: len(client.delivered) == 2)
        assert client.delivered[1][1] != client.delivered[0][1]
        assert len(client.attempts) == 5
        assert sender.failures(REMOTE) == 0
    finally:
        await sender.stop()


async def test_rows_stay_queued_until_a_200(homeserver: RunningHomeserver, client: RecordingClient) -> None:
    client.failures_left = 10**6
    sender = await _new_sender(homeserver, client)
    await sender.start()
    try:
        await sender.send_edu(REMOTE, "m.test", {"n": 1})
        await client.wait_for(lambda: len(client.attempts) >= 3)
        assert await homeserver.hs.federation_queue_store.pending_count(REMOTE) == 1
        assert sender.failures(REMOTE) >= 2
    finally:
        await sender.stop()
    # a new sender (as after a restart) picks the row up and delivers it
    client.failures_left = 0
    again = await _new_sender(homeserver, client)
    acknowledged = asyncio.Event()  # set after the rows are removed, unlike client.delivered
    again.on_delivered.append(lambda _dest, _body: acknowledged.set())
    await again.start()
    try:
        await asyncio.wait_for(acknowledged.wait(), WAIT_S)
    finally:
        await again.stop()
    assert client.delivered[0][2]["edus"] == [{"edu_type": "m.test", "content": {"n": 1}}]
    assert await homeserver.hs.federation_queue_store.pending_count(REMOTE) == 0


async def test_newer_edu_with_the_same_key_replaces_the_queued_one(
    homeserver: RunningHomeserver, client: RecordingClient
) -> None:
    sender = await _new_sender(homeserver, client)
    for state in ("online", "unavailable", "offline"):
        await sender.send_edu(REMOTE, "m.presence", {"push": [{"presence": state}]}, replace_key="presence:@a")
    await sender.send_edu(REMOTE, "m.test", {"n": 1})
    await sender.start()
    try:
        await client.wait_for(lambda: len(client.delivered) == 1)
    finally:
        await sender.stop()
    edus = client.delivered[0][2]["edus"]
    assert [e["edu_type"] for e in edus] == ["m.presence", "m.test"]
    assert edus[0]["content"]["push"][0]["presence"] == "offline"


async def test_a_destination_talking_to_us_ends_its_backoff(
    homeserver: RunningHomeserver, client: RecordingClient
) -> None:
    client.failures_left = 1
    slow = _sender_like_the_homeserver_s(homeserver, client, backoff=BackoffPolicy(initial_s=3600, maximum_s=3600))
    await slow.start()
    try:
        await slow.send_edu(REMOTE, "m.test", {"n": 1})
        await client.wait_for(lambda: len(client.attempts) == 1)
        assert slow.failures(REMOTE) == 1
        slow.wake_destination(REMOTE)  # what an inbound request from REMOTE does
        await client.wait_for(lambda: len(client.delivered) == 1)
    finally:
        await slow.stop()


async def test_transactions_stay_under_the_body_size_budget(
    homeserver: RunningHomeserver, client: RecordingClient
) -> None:
    sender = await _new_sender(homeserver, client)
    padding = "x" * 60_000
    for i in range(40):  # ~2.4 MB in all: too much for one request body
        await sender.send_edu(REMOTE, "m.test", {"n": i, "padding": padding})
    await sender.start()
    try:
        await client.wait_for(lambda: sum(len(b.get("edus", [])) for _, _, b in client.delivered) >= 40)
    finally:
        await sender.stop()
    assert len(client.delivered) >= 3
    assert all(len(orjson.dumps(body)) <= MAX_TXN_BYTES + 1000 for _, _, body in client.delivered)
    assert [e["content"]["n"] for _, _, b in client.delivered for e in b["edus"]] == list(range(40))
