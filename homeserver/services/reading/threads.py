"""Threads: the bundled ``m.thread`` aggregation and the room's list of threads.

spec: client-server-api/modules/threading.md ("Server-side aggregation of m.thread
relationships", "Querying threads in a room"); data/api/client-server/threads_list.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass

from federation.rooms.events import Event
from homeserver.services.social.account_data import AccountDataService
from homeserver.storage.events import EventStore
from homeserver.storage.threads import ThreadStore


@dataclass(frozen=True, slots=True)
class ThreadAggregation:
    """What the server knows of one thread, for one viewer."""

    latest_event: Event
    count: int
    current_user_participated: bool


class ThreadService:
    def __init__(self, store: ThreadStore, event_store: EventStore, account_data: AccountDataService) -> None:
        self.store = store
        self.event_store = event_store
        self.account_data = account_data
        # Every event some m.thread relation points at; lets most events skip the database.
        self._roots: set[str] = set()

    async def load(self) -> None:
        self._roots = await self.store.get_thread_root_ids()

    def on_persisted(self, event: Event) -> None:
        rel = event.content.get("m.relates_to")
        if isinstance(rel, dict) and rel.get("rel_type") == "m.thread":
            target = rel.get("event_id")
            if isinstance(target, str):
                self._roots.add(target)

    def forget_events(self, event_ids: set[str]) -> None:
        """Purged events are no longer thread roots (for the room purge)."""
        self._roots.difference_update(event_ids)

    async def aggregations(
        self, events: list[Event], viewer_user_id: str | None
    ) -> dict[str, ThreadAggregation]:
        """root event_id -> its thread aggregation, for the roots among ``events``."""
        roots = [e for e in events if e.event_id in self._roots]
        if not roots:
            return {}
        root_ids = [e.event_id for e in roots]
        # spec: threading.md — count and latest_event leave out ignored users' events.
        ignored = (
            sorted(await self.account_data.ignored_users(viewer_user_id))
            if viewer_user_id is not None else []
        )
        summaries = await self.store.get_summaries(root_ids, ignored)
        if not summaries:
            return {}
        participated: set[str] = set()
        if viewer_user_id is not None:
            participated = await self.store.get_participated(list(summaries), viewer_user_id)
            participated |= {e.event_id for e in roots if e.sender == viewer_user_id}
        latest = await self.event_store.get_events([s.latest_event_id for s in summaries.values()])
        out: dict[str, ThreadAggregation] = {}
        for root_id, summary in summaries.items():
            event = latest.get(summary.latest_event_id)
            if event is None:
                continue
            out[root_id] = ThreadAggregation(event, summary.count, root_id in participated)
        return out

    async def roots_by_activity(
        self, room_id: str, *, before: int | None, limit: int, participant: str | None
    ) -> list[tuple[Event | None, int]]:
        """(thread root, stream position of its latest reply), most recently active first.

        The root is None where it is not held here (or not a usable event of this room),
        so that callers paginating by position still step over it.
        """
        rows = await self.store.get_roots_by_activity(
            room_id, before=before, limit=limit, participant=participant
        )
        events = await self.event_store.get_events([root_id for root_id, _ in rows])
        out: list[tuple[Event | None, int]] = []
        for root_id, latest in rows:
            root = events.get(root_id)
            usable = root is not None and root.room_id == room_id and root.rejected_reason is None
            out.append((root if usable else None, latest))
        return out

