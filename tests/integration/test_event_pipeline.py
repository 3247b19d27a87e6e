"""The local event pipeline under concurrency: graphs stay linear, IDs stay unique."""

from __future__ import annotations

import asyncio

from tests.conftest import RunningHomeserver


async def test_concurrent_room_creations_by_one_user_make_distinct_rooms(
    homeserver: RunningHomeserver,
) -> None:
    # v12 room IDs are hashes of the create event; identical requests in the same
    # millisecond must still name different rooms.
    alice = await homeserver.register("alice")
    ids = await asyncio.gather(*[alice.create_room() for _ in range(10)])
    assert len(set(ids)) == 10


async def test_concurrent_sends_in_one_room_form_a_single_chain(
    homeserver: RunningHomeserver,
) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    sent = await asyncio.gather(*[alice.send(room_id, f"m{i}") for i in range(40)])
    assert len(set(sent)) == 40
    page = await alice.messages(room_id, dir="b", limit=1000)
    chain = list(reversed(page["chunk"]))
    events = {e["event_id"]: e for e in chain}
    # Each event after the first names exactly the previous one as prev_event.
    store = homeserver.hs.event_store
    for before, after in zip(chain, chain[1:], strict=False):
        pdu = (await store.get_event(after["event_id"])).pdu  # type: ignore[union-attr]
        assert pdu["prev_events"] == [before["event_id"]]
        assert pdu["depth"] > (await store.get_event(before["event_id"])).pdu["depth"]  # type: ignore[union-attr]
    assert set(sent) <= set(events)
