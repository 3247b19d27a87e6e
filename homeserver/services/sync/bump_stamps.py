"""Each room's bump_stamp: the stream position of its latest "bump" event (MSC4186).

Sliding sync orders rooms by it. Kept in memory from the persist listener; a room not
seen since start-up is looked up once, in its recent events and then in storage.
"""

from __future__ import annotations

from federation.rooms.events import Event
from homeserver.core.room_state import RoomState
from homeserver.core.sliding_sync import BUMP_EVENT_TYPES
from homeserver.storage.events import EventStore

# How far back storage is searched for a bump event before settling for the create event.
LOOKBACK_EVENTS = 2000
_BATCH = 200


class BumpStamps:
    def __init__(self, event_store: EventStore) -> None:
        self.event_store = event_store
        self._latest: dict[str, int] = {}

    def on_event_persisted(self, room: RoomState, event: Event) -> None:
        stream = event.stream_ordering or 0
        if event.type in BUMP_EVENT_TYPES and stream > 0 and event.rejected_reason is None:
            room_id = room.room_id
            if stream > self._latest.get(room_id, 0):
                self._latest[room_id] = stream

    def forget_room(self, room_id: str) -> None:
        self._latest.pop(room_id, None)

    async def get(self, room: RoomState) -> int:
        room_id = room.room_id
        cached = self._latest.get(room_id)
        if cached is not None:
            return cached
        found = await self._look_up(room)
        # A listener may have recorded a newer one while we looked.
        found = max(found, self._latest.get(room_id, 0))
        self._latest[room_id] = found
        return found

    async def _look_up(self, room: RoomState) -> int:
        for e in reversed(room.recent):
            if e.type in BUMP_EVENT_TYPES and (e.stream_ordering or 0) > 0:
                return e.stream_ordering or 0
        if room.recent_floor > 0:
            before: int | None = room.recent_floor + 1
            looked = 0
            while looked < LOOKBACK_EVENTS:
                batch = await self.event_store.get_room_events(
                    room.room_id, before=before, limit=_BATCH, newest_first=True
                )
                for e in batch:
                    if e.type in BUMP_EVENT_TYPES and (e.stream_ordering or 0) > 0:
                        return e.stream_ordering or 0
                if len(batch) < _BATCH:
                    break
                looked += len(batch)
                before = batch[-1].stream_ordering
        # Joined over federation with history elsewhere, or nothing but state: the create
        # event if we hold it in the timeline, else the room's latest position.
        create_stream = room.create_event.stream_ordering or 0
        return create_stream if create_stream > 0 else max(room.latest_stream, 0)
