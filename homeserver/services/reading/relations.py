"""Event relations: validating edits and bundling aggregations into unsigned.

spec: client-server-api/modules/event_replacements.md ("Server-side aggregation of
m.replace relationships"), "Aggregations of child events".
"""

from __future__ import annotations

from typing import Any

from federation.rooms.events import Event
from homeserver.core.event_format import client_event
from homeserver.core.room_state import RoomState
from homeserver.services.graph.events import EventService
from homeserver.services.reading.threads import ThreadService
from homeserver.storage.events import EventStore


def is_valid_replacement(original: Event, edit: Event) -> bool:
    """spec: "Validity of replacement events"."""
    if edit.room_id != original.room_id or edit.sender != original.sender:
        return False
    if edit.type != original.type or original.is_state or edit.is_state:
        return False
    rel = original.content.get("m.relates_to")
    if isinstance(rel, dict) and rel.get("rel_type") == "m.replace":
        return False
    return isinstance(edit.content.get("m.new_content"), dict) or edit.type == "m.room.encrypted"


class RelationsService:
    def __init__(self, event_store: EventStore, events: EventService, threads: ThreadService) -> None:
        self.store = event_store
        self.events = events
        self.threads = threads
        # Targets of any m.replace relation; lets the common case skip the database.
        self._replaced: set[str] = set()

    async def load(self) -> None:
        self._replaced = await self.store.get_replaced_event_ids()

    def on_event_persisted(self, room: RoomState, event: Event) -> None:
        """EventService persist listener (registered in wiring/reading.py)."""
        self.threads.on_persisted(event)
        rel = event.content.get("m.relates_to")
        if isinstance(rel, dict) and rel.get("rel_type") == "m.replace":
            target = rel.get("event_id")
            if isinstance(target, str):
                self._replaced.add(target)

    def forget_events(self, event_ids: set[str]) -> None:
        """Purged events are no longer edit targets (for the room purge)."""
        self._replaced.difference_update(event_ids)

    async def bundle(
        self,
        events: list[Event],
        now_ms: int | None = None,
        *,
        viewer_user_id: str | None = None,
        include_room_id: bool = True,
    ) -> dict[str, dict[str, Any]]:
        """event_id -> the `m.relations` object to put in that event's unsigned.

        ``viewer_user_id`` decides ``m.thread.current_user_participated``.
        """
        out = await self._bundle_replacements(events, now_ms)
        threads = await self.threads.aggregations(events, viewer_user_id)
        if threads:
            # spec: threading.md — the latest event carries its own aggregations too;
            # it cannot itself be a thread root, so only its edits apply.
            latest = [t.latest_event for t in threads.values()]
            latest_edits = await self._bundle_replacements(latest, now_ms)
            for root_id, thread in threads.items():
                formatted = client_event(thread.latest_event, include_room_id=include_room_id, now_ms=now_ms)
                edits = latest_edits.get(thread.latest_event.event_id)
                if edits is not None:
                    formatted.setdefault("unsigned", {})["m.relations"] = edits
                out.setdefault(root_id, {})["m.thread"] = {
                    "latest_event": formatted,
                    "count": thread.count,
                    "current_user_participated": thread.current_user_participated,
                }
        return out

    async def _bundle_replacements(
        self, events: list[Event], now_ms: int | None
    ) -> dict[str, dict[str, Any]]:
        targets = [e.event_id for e in events if e.event_id in self._replaced]
        if not targets:
            return {}
        by_id = {e.event_id: e for e in events}
        replacement_ids = await self.store.get_replacement_ids(targets)
        all_ids = [eid for ids in replacement_ids.values() for eid in ids]
        edits = await self.store.get_events(all_ids)
        out: dict[str, dict[str, Any]] = {}
        for target, ids in replacement_ids.items():
            original = by_id[target]
            valid = [
                edits[i] for i in ids
                if i in edits and edits[i].rejected_reason is None and is_valid_replacement(original, edits[i])
                and "redacted_because" not in edits[i].pdu.get("unsigned", {})
            ]
            if not valid:
                continue
            latest = max(valid, key=lambda e: (e.origin_server_ts, e.event_id))
            out[target] = {"m.replace": client_event(latest, now_ms=now_ms)}
        return out

    async def format_events(
        self,
        events: list[Event],
        *,
        include_room_id: bool = True,
        now_ms: int | None = None,
        viewer: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Client-format events with their aggregations bundled.

        ``viewer`` is (user_id, device_id): that device's own sends carry their
        transaction ID.
        """
        bundles = await self.bundle(
            events, now_ms, viewer_user_id=viewer[0] if viewer is not None else None,
            include_room_id=include_room_id,
        )
        txns = (
            await self.events.transaction_ids_for(events, viewer[0], viewer[1])
            if viewer is not None
            else {}
        )
        out = []
        for e in events:
            formatted = client_event(
                e, include_room_id=include_room_id, now_ms=now_ms, transaction_id=txns.get(e.event_id)
            )
            relations = bundles.get(e.event_id)
            if relations is not None:
                formatted.setdefault("unsigned", {})["m.relations"] = relations
            out.append(formatted)
        return out
