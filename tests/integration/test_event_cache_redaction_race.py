"""The event cache and a redaction written while a read is in flight.

A read that fetched an event's row before a redaction's UPDATE committed holds the old,
unredacted JSON: it may return it (the read started first) but must not keep it in the
cache, or every later reader would be served the redacted content. The write is made to
land inside the read deterministically, by wrapping the database call.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHomeserver


@pytest.mark.parametrize("query", ["get_room_events", "get_events"])
async def test_a_row_read_while_a_redaction_is_written_is_not_cached(
    homeserver: RunningHomeserver, query: str
) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    event_id = await alice.send(room_id, "a secret")
    store = homeserver.hs.event_store
    store.invalidate(event_id)
    original = await store.get_events([event_id])
    store.invalidate(event_id)
    redacted_pdu = {**original[event_id].pdu, "content": {}}

    real_fetchall = store.db.fetchall

    async def fetch_then_redact(name: str, sql: str, params: Any = ()) -> Any:
        rows = await real_fetchall(name, sql, params)
        if name == query:
            store.db.fetchall = real_fetchall  # type: ignore[method-assign]
            await store.mark_redacted(event_id, redacted_pdu, "$redaction")
        return rows

    store.db.fetchall = fetch_then_redact  # type: ignore[method-assign]
    if query == "get_room_events":
        await store.get_room_events(room_id, limit=10, newest_first=True)
    else:
        await store.get_events([event_id])

    after = await store.get_event(event_id)
    assert after is not None and after.content == {}, "the unredacted row stayed in the cache"
