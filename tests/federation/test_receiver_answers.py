"""The answer to a /send transaction is kept for retries, in memory until it is committed.

spec: server-server-api.md, "Transactions": a sender retries a transaction with the
same txnId until it gets a 200, so every retry must get the first answer without the
transaction being processed again. The answer row is written without the sender
waiting for it; until it is committed the answer comes from memory.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from federation.rooms.hashes import compute_event_id
from tests.conftest import RunningHomeserver
from tests.federation.test_edus_single_server import REMOTE, RecordingEventHandler

WAIT_S = 10.0


async def test_retry_while_the_answer_is_being_written_gets_it_without_reprocessing(
    homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hs = homeserver.hs
    handler = RecordingEventHandler()
    monkeypatch.setattr(hs.federation_receiver, "pdu_handler", handler)
    store = hs.federation_receiver.store
    real_save = store.save_txn_response
    release = asyncio.Event()
    saving, saved = asyncio.Event(), asyncio.Event()

    async def slow_save(*args: Any) -> None:
        saving.set()
        await release.wait()
        await real_save(*args)
        saved.set()

    monkeypatch.setattr(store, "save_txn_response", slow_save)
    pdus = [{"room_id": "!a:remote.test", "n": 1}]
    first = await asyncio.wait_for(hs.federation_receiver.receive(REMOTE, "txn-1", pdus, []), WAIT_S)
    await asyncio.wait_for(saving.wait(), WAIT_S)  # answered before the row is written
    again = await asyncio.wait_for(hs.federation_receiver.receive(REMOTE, "txn-1", pdus, []), WAIT_S)
    assert first == again == {"pdus": {"$1": {}}}
    assert len(handler.calls) == 1
    release.set()
    await asyncio.wait_for(saved.wait(), WAIT_S)
    assert await store.get_txn_response(REMOTE, "txn-1") == first
    later = await hs.federation_receiver.receive(REMOTE, "txn-1", pdus, [])
    assert later == first and len(handler.calls) == 1


async def test_answers_given_are_written_before_the_receiver_stops(
    homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hs = homeserver.hs
    handler = RecordingEventHandler()
    monkeypatch.setattr(hs.federation_receiver, "pdu_handler", handler)
    answer = await hs.federation_receiver.receive(REMOTE, "txn-2", [{"room_id": "!a:r", "n": 7}], [])
    await asyncio.wait_for(hs.federation_receiver.stop(), WAIT_S)
    assert await hs.federation_queue_store.get_txn_response(REMOTE, "txn-2") == answer


async def test_our_own_event_echoed_back_is_noted_so_it_is_not_forwarded_again(
    homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hs = homeserver.hs
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    handler = RecordingEventHandler()
    monkeypatch.setattr(hs.federation_receiver, "pdu_handler", handler)
    ours = {"room_id": room_id, "sender": alice.user_id, "type": "m.room.message", "n": 1,
            "content": {"body": "echo"}, "prev_events": [], "auth_events": [], "depth": 5,
            "origin_server_ts": 1, "hashes": {}, "signatures": {}}
    theirs = {**ours, "sender": "@bob:remote.test", "n": 2}
    room = hs.events.cached_room(room_id)
    assert room is not None
    await hs.federation_receiver.receive(REMOTE, "txn-3", [ours, theirs], [])
    assert compute_event_id(ours, room.version) in hs.federation_sender._received
    assert compute_event_id(theirs, room.version) not in hs.federation_sender._received
