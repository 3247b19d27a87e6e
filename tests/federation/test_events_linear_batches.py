"""Transactions of PDUs that extend the room's forward extremity one after another.

spec: server-server-api.md, "Checks performed on receipt of a PDU". Such PDUs are
checked against the in-memory room (the state before each is the current state)
and written together; every check still applies to each PDU, and a PDU the
in-memory checks cannot accept takes the full pipeline without holding back the
rest of the transaction.
"""

from __future__ import annotations

from typing import Any

import pytest

from federation.crypto.signing import generate_signing_key
from federation.rooms.events import Event
from homeserver.app.homeserver import Homeserver
from homeserver.storage.events import PersistEvent
from tests.federation.test_events_pipeline import BOB, CAROL, MALLORY, receive, timeline_bodies
from tests.federation.test_events_pipeline import joined as joined  # the fixture

DAVE = "@dave:remote.test"


class PersistCounter:
    """Counts persist writes that carry timeline (non-outlier) events."""

    def __init__(self, hs: Homeserver, monkeypatch: pytest.MonkeyPatch) -> None:
        self.timeline_writes: list[list[str]] = []
        self.graph_flag_reads = 0
        store = hs.event_store
        real_persist, real_flags = store.persist, store.get_graph_flags

        async def persist(items: list[PersistEvent]) -> None:
            timeline = [i.event.event_id for i in items if not i.outlier]
            if timeline:
                self.timeline_writes.append(timeline)
            await real_persist(items)

        async def get_graph_flags(event_ids: Any) -> Any:
            self.graph_flag_reads += 1
            return await real_flags(event_ids)

        monkeypatch.setattr(store, "persist", persist)
        monkeypatch.setattr(store, "get_graph_flags", get_graph_flags)


async def test_linear_transaction_is_accepted_in_one_write_and_one_lookup(
    joined: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, alice, room = joined
    first = await alice.sync()
    messages = [room.message(BOB if i % 2 else CAROL, f"m{i}") for i in range(30)]
    counter = PersistCounter(server.hs, monkeypatch)
    assert await receive(server.hs, *messages) == {m.event_id: None for m in messages}
    assert counter.timeline_writes == [[m.event_id for m in messages]]
    assert counter.graph_flag_reads == 1
    later = await alice.sync(since=first["next_batch"])
    assert timeline_bodies(later, room.room_id)[-3:] == ["m27", "m28", "m29"]
    page = await alice.messages(room.room_id, dir="b", limit=30)
    bodies = [e["content"]["body"] for e in reversed(page["chunk"]) if e["type"] == "m.room.message"]
    assert bodies == [f"m{i}" for i in range(30)]
    live = server.hs.events.cached_room(room.room_id)
    assert live.extremities == [messages[-1].event_id]
    assert await server.hs.event_store.get_forward_extremities(room.room_id) == [messages[-1].event_id]


async def test_a_ban_in_a_transaction_applies_to_the_pdus_after_it(joined: Any) -> None:
    server, alice, room = joined
    ban = room.member(CAROL, "ban", sender=BOB)
    after_ban = room.message(CAROL, "sent after the ban")
    result = await receive(server.hs, ban, after_ban)
    assert result[ban.event_id] is None
    assert result[after_ban.event_id] is not None  # rejected: Carol is banned before it
    stored = await server.hs.event_store.get_event(after_ban.event_id)
    assert stored is not None and stored.rejected_reason is not None
    live = server.hs.events.cached_room(room.room_id)
    assert live.membership(CAROL) == "ban"
    assert live.extremities == [ban.event_id]


async def test_join_then_message_in_one_transaction_are_both_accepted(joined: Any) -> None:
    server, alice, room = joined
    join = room.member(DAVE, "join")
    hello = room.message(DAVE, "hello")
    name = room.state(BOB, "m.room.name", {"name": "after dave"})
    assert await receive(server.hs, join, hello, name) == {
        join.event_id: None, hello.event_id: None, name.event_id: None
    }
    hs = server.hs
    live = hs.events.cached_room(room.room_id)
    assert live.membership(DAVE) == "join"
    assert live.state_content("m.room.name") == {"name": "after dave"}
    stored_state = await hs.room_store.get_current_state_ids(room.room_id)
    assert stored_state == {k: ev.event_id for k, ev in live.state.items()}
    # The state group after each event holds exactly the remote room's state after it.
    for event in (join, hello, name):
        flags = (await hs.event_store.get_graph_flags([event.event_id]))[event.event_id]
        assert not flags.outlier
        hs.state_store._cache.clear()  # read the groups back from the database
        assert await hs.state_store.get_state_ids(flags.state_group) == room.state_after[event.event_id]


async def test_rejected_pdu_in_the_middle_does_not_stop_the_rest(joined: Any) -> None:
    server, alice, room = joined
    first = await alice.sync()
    before = room.message(BOB, "before")
    intruder = room.message(MALLORY, "not a member", prevs=[before.event_id])
    after = room.message(BOB, "after", prevs=[before.event_id])
    result = await receive(server.hs, before, intruder, after)
    assert result[before.event_id] is None and result[after.event_id] is None
    assert result[intruder.event_id] is not None
    later = await alice.sync(since=first["next_batch"])
    assert timeline_bodies(later, room.room_id) == ["before", "after"]
    assert server.hs.events.cached_room(room.room_id).extremities == [after.event_id]


async def test_forged_pdu_in_the_middle_is_dropped_alone(joined: Any) -> None:
    server, alice, room = joined
    one = room.message(BOB, "one")
    forged = room.message(BOB, "forged", key=generate_signing_key(), prevs=[one.event_id])
    two = room.message(BOB, "two", prevs=[one.event_id])
    result = await receive(server.hs, one, forged, two)
    assert result[one.event_id] is None and result[two.event_id] is None
    assert result[forged.event_id] is not None
    assert await server.hs.event_store.get_event(forged.event_id) is None


async def test_fork_in_a_transaction_takes_the_full_pipeline_and_later_pdus_still_arrive(
    joined: Any,
) -> None:
    server, alice, room = joined
    fork_point = room.head
    left = room.message(BOB, "left")
    right = room.state(BOB, "m.room.topic", {"topic": "right"}, prevs=[fork_point])
    merge = room.message(CAROL, "merge", prevs=[left.event_id, right.event_id])
    room.head = merge.event_id
    tail = [room.message(BOB, f"tail {i}") for i in range(3)]
    result = await receive(server.hs, left, right, merge, *tail)
    assert result == {e.event_id: None for e in (left, right, merge, *tail)}
    live = server.hs.events.cached_room(room.room_id)
    assert live.extremities == [tail[-1].event_id]
    assert live.state_content("m.room.topic") == {"topic": "right"}
    stored_state = await server.hs.room_store.get_current_state_ids(room.room_id)
    assert stored_state == {k: ev.event_id for k, ev in live.state.items()}


async def test_the_same_pdu_twice_in_a_transaction_is_stored_once(joined: Any) -> None:
    server, alice, room = joined
    first = await alice.sync()
    message = room.message(BOB, "once")
    assert await receive(server.hs, message, message) == {message.event_id: None}
    assert await receive(server.hs, message) == {message.event_id: None}  # a retry, later
    later = await alice.sync(since=first["next_batch"])
    assert timeline_bodies(later, room.room_id) == ["once"]


async def test_pdu_after_a_local_send_is_accepted_on_top_of_it(joined: Any) -> None:
    server, alice, room = joined
    local_id = await alice.send(room.room_id, "local first")
    local = await server.hs.event_store.get_event(local_id)
    assert isinstance(local, Event)
    room.events[local_id] = local
    room.state_after[local_id] = room.state_after[room.head]
    room.head = local_id
    reply = room.message(BOB, "reply")
    assert await receive(server.hs, reply) == {reply.event_id: None}
    assert server.hs.events.cached_room(room.room_id).extremities == [reply.event_id]
