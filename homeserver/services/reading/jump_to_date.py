"""Finding the event closest to a point in time (spec: MSC3030; client-server
room_event_by_timestamp.yaml and server-server "Timestamp to event").

The answer comes from the room's timeline held here. A server that joined late holds
no history from before its join: when the local answer sits at that edge (or there is
none), the other servers in the room are asked over federation and the closer answer wins.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from federation.transport.client import FederationClient
from homeserver.services.federation.events import FederatedEventHandler
from homeserver.services.graph.events import EventService
from homeserver.storage.event_timestamps import EventTimestampStore

logger = logging.getLogger(__name__)

MAX_SERVERS_ASKED = 3
REMOTE_TIMEOUT_S = 10.0
MAX_BACKFILL_ROUNDS = 5
BACKFILL_BATCH = 100

Found = tuple[str, int]  # (event_id, origin_server_ts)


class JumpToDateService:
    def __init__(
        self,
        store: EventTimestampStore,
        events: EventService,
        federation_events: FederatedEventHandler,
        federation_client: FederationClient,
        server_name: str,
    ) -> None:
        self.store = store
        self.events = events
        self.federation_events = federation_events
        self.federation_client = federation_client
        self.server_name = server_name

    async def local(self, room_id: str, ts: int, forwards: bool, before_stream: int | None = None) -> Found | None:
        return await self.store.closest_event(room_id, ts, forwards=forwards, before_stream=before_stream)

    async def closest(
        self, room_id: str, ts: int, forwards: bool, before_stream: int | None = None
    ) -> Found | None:
        found = await self.local(room_id, ts, forwards, before_stream)
        if before_stream is not None or not await self._at_edge_of_local_history(room_id, found, forwards):
            return found
        remote = await self._ask_other_servers(room_id, ts, forwards)
        if remote is None:
            return found
        if found is None or (remote[1] < found[1] if forwards else remote[1] > found[1]):
            await self._backfill_until_held(room_id, remote[0])
            return remote
        return found

    async def _backfill_until_held(self, room_id: str, event_id: str) -> None:
        """Backfill (boundedly) until the remote answer is in our timeline, so that the
        client's next step, /context on it (as the spec suggests), can be served."""
        for _ in range(MAX_BACKFILL_ROUNDS):
            if await self.store.in_timeline(room_id, event_id):
                return
            if not await self.federation_events.backfill(room_id, BACKFILL_BATCH):
                return

    async def _at_edge_of_local_history(self, room_id: str, found: Found | None, forwards: bool) -> bool:
        earliest = await self.store.earliest_timeline_event(room_id)
        if earliest is None or earliest[1] == "m.room.create":
            return False  # we hold the room's whole history
        if found is None:
            return not forwards  # nothing after ts here means nothing after it anywhere
        return forwards and found[0] == earliest[0]

    async def _ask_other_servers(self, room_id: str, ts: int, forwards: bool) -> Found | None:
        room = await self.events.get_room(room_id)
        if room is None:
            return None
        client = self.federation_client
        counts: dict[str, int] = {}
        for user_id in room.members_with("join"):
            server = user_id.split(":", 1)[1]
            if server != self.server_name:
                counts[server] = counts.get(server, 0) + 1
        for server in sorted(counts, key=lambda s: -counts[s])[:MAX_SERVERS_ASKED]:
            try:
                answer = await client.get_json(
                    server, f"/_matrix/federation/v1/timestamp_to_event/{quote(room_id, safe='')}",
                    query={"ts": str(ts), "dir": "f" if forwards else "b"}, timeout=REMOTE_TIMEOUT_S,
                )
            except Exception as e:  # a down or confused server: try the next one
                logger.info("timestamp_to_event in %s from %s failed: %s", room_id, server, e)
                continue
            event_id = answer.get("event_id") if isinstance(answer, dict) else None
            event_ts = answer.get("origin_server_ts") if isinstance(answer, dict) else None
            if not isinstance(event_id, str) or not isinstance(event_ts, int) or isinstance(event_ts, bool):
                continue
            if (event_ts >= ts) if forwards else (event_ts <= ts):
                return event_id, event_ts
        return None
