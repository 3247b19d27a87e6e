"""Server-side search over room events (spec: client-server-api/modules/search.md).

Every m.room.message body, room name and topic goes into an FTS5 index in the
same transaction as its event (so a search sees what its user has sent, and a
crash never leaves an event unindexed). Results are limited to rooms the user is
or was in and then filtered event by event with history visibility, so a user
never finds what they could not read in /messages. Redacted events drop out.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from federation.rooms.events import Event
from homeserver.clock import Clock
from homeserver.core.event_format import client_event
from homeserver.core.filtering import EventFilter
from homeserver.core.requester import Requester
from homeserver.core.stream_token import StreamToken
from homeserver.errors import MatrixError
from homeserver.services.graph.events import EventService
from homeserver.services.graph.history_visibility import HistoryVisibilityService
from homeserver.services.reading.relations import RelationsService
from homeserver.storage.events import EventStore, PersistEvent
from homeserver.storage.search import SearchHit, SearchStore
from schemas.client.search import RoomEventsCriteria

logger = logging.getLogger(__name__)

ALL_KEYS = ("content.body", "content.name", "content.topic")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
_WORD = re.compile(r"\w+", re.UNICODE)
# Memberships whose rooms are searched: the spec includes rooms the user left.
_SEARCHED_MEMBERSHIPS = ("join", "leave", "ban")


def searchable_text(event: Event) -> tuple[str, str] | None:
    """(key, text) to index for an event, or None."""
    content = event.content
    if event.type == "m.room.message":
        body = content.get("body")
        return ("content.body", body) if isinstance(body, str) and body else None
    if event.state_key != "":
        return None
    if event.type == "m.room.name":
        name = content.get("name")
        return ("content.name", name) if isinstance(name, str) and name else None
    if event.type == "m.room.topic":
        parts = [content.get("topic")]
        # spec: the text/plain representation in content["m.topic"] is searched too.
        topic_block = content.get("m.topic")
        if isinstance(topic_block, dict) and isinstance(topic_block.get("m.text"), list):
            parts += [
                rep.get("body") for rep in topic_block["m.text"]
                if isinstance(rep, dict) and rep.get("mimetype", "text/plain") == "text/plain"
            ]
        text = " ".join(p for p in dict.fromkeys(parts) if isinstance(p, str) and p)
        return ("content.topic", text) if text else None
    return None


def fts_query(search_term: str) -> tuple[str, list[str]]:
    """An FTS5 MATCH expression (every word, as a prefix) and the highlight words.

    User text never reaches FTS5 syntax: each word is quoted, so operators,
    quotes and parentheses in the search term are just text.
    """
    words = [w.lower() for w in _WORD.findall(search_term)][:32]
    unique = list(dict.fromkeys(words))
    return " ".join(f'"{w}"*' for w in unique), unique


@dataclass(slots=True)
class _Page:
    hits: list[tuple[SearchHit, Event]]
    next_batch: str | None


class SearchService:
    def __init__(
        self,
        store: SearchStore,
        event_store: EventStore,
        events: EventService,
        history_visibility: HistoryVisibilityService,
        relations: RelationsService,
        clock: Clock,
    ) -> None:
        self.store = store
        self.event_store = event_store
        self.events = events
        self.history_visibility = history_visibility
        self.relations = relations
        self.clock = clock

    # --- indexing ----------------------------------------------------------------------
    def index(self, conn: sqlite3.Connection, items: Sequence[PersistEvent]) -> None:
        """EventStore write hook: index rows go in the events' own persist transaction."""
        rows: list[tuple[int, str, str, str]] = []
        for item in items:
            event = item.event
            if item.outlier or item.soft_failed or event.rejected_reason or event.stream_ordering is None:
                continue
            found = searchable_text(event)
            if found is not None:
                rows.append((event.stream_ordering, event.room_id, found[0], found[1]))
        self.store.index_in(conn, rows)

    async def flush(self) -> None:
        """Kept for callers that order work after indexing: the index commits with its events."""

    # --- searching ---------------------------------------------------------------------
    async def search(
        self, requester: Requester, criteria: RoomEventsCriteria, next_batch: str | None
    ) -> dict[str, Any]:
        user_id = requester.user_id
        event_filter = EventFilter.parse(criteria.filter)
        limit = min(event_filter.limit or DEFAULT_LIMIT, MAX_LIMIT)
        memberships = await self.events.rooms_for_user(user_id)
        room_ids = [
            r for r, m in memberships.items()
            if m in _SEARCHED_MEMBERSHIPS and event_filter.allows_room(r)
        ]
        keys = list(dict.fromkeys(criteria.keys or ALL_KEYS))
        match, highlights = fts_query(criteria.search_term)
        if not match:
            return {"results": [], "count": 0, "highlights": []}
        by_rank = criteria.order_by == "rank"
        page = await self._page(user_id, match, room_ids, keys, event_filter, limit, by_rank, next_batch)
        count = await self.store.count(match, room_ids, keys)
        viewer = (requester.user_id, requester.device_id)
        now = self.clock.time_ms()
        events = [event for _, event in page.hits]
        formatted = await self.relations.format_events(events, now_ms=now, viewer=viewer)
        results: list[dict[str, Any]] = []
        for (hit, event), body in zip(page.hits, formatted, strict=True):
            result: dict[str, Any] = {"rank": hit.rank, "result": body}
            if criteria.event_context is not None:
                result["context"] = await self._context(user_id, event, criteria, now)
            results.append(result)
        out: dict[str, Any] = {"results": results, "count": count, "highlights": highlights}
        if page.next_batch is not None:
            out["next_batch"] = page.next_batch
        if criteria.groupings is not None and criteria.groupings.group_by:
            out["groups"] = self._groups(criteria, events)
        if criteria.include_state:
            out["state"] = await self._room_states({e.room_id for e in events}, now)
        return out

    async def _page(
        self,
        user_id: str,
        match: str,
        room_ids: list[str],
        keys: list[str],
        event_filter: EventFilter,
        limit: int,
        by_rank: bool,
        next_batch: str | None,
    ) -> _Page:
        offset, before = _parse_batch(next_batch, by_rank)
        hits: list[tuple[SearchHit, Event]] = []
        fetch = max(limit * 2, 20)
        more = True
        while len(hits) < limit:
            batch = await self.store.search(
                match, room_ids, keys, by_rank=by_rank, limit=fetch, offset=offset if by_rank else 0,
                before=None if by_rank else before,
            )
            found = await self.event_store.get_events([h.event_id for h in batch])
            readable = await self._readable(user_id, list(found.values()))
            stopped_early = False
            for i, hit in enumerate(batch):
                offset += 1
                before = hit.stream_ordering
                event = readable.get(hit.event_id)
                if event is not None and event_filter.allows(event):
                    hits.append((hit, event))
                    if len(hits) >= limit:
                        stopped_early = i < len(batch) - 1
                        break
            if len(batch) < fetch:
                more = stopped_early
                break
        token = (f"o{offset}" if by_rank else f"b{before}") if more else None
        return _Page(hits, token)

    async def _readable(self, user_id: str, events: list[Event]) -> dict[str, Event]:
        by_room: dict[str, list[Event]] = {}
        for event in events:
            by_room.setdefault(event.room_id, []).append(event)
        out: dict[str, Event] = {}
        for room_id, room_events in by_room.items():
            room = await self.events.get_room(room_id)
            membership = room.membership(user_id) if room is not None else None
            for event in await self.history_visibility.filter_events(
                user_id, room_id, room_events, current_membership=membership
            ):
                out[event.event_id] = event
        return out

    async def _context(
        self, user_id: str, event: Event, criteria: RoomEventsCriteria, now: int
    ) -> dict[str, Any]:
        ctx = criteria.event_context
        assert ctx is not None and event.stream_ordering is not None
        store = self.event_store
        before = await store.get_room_events(
            event.room_id, before=event.stream_ordering, limit=ctx.before_limit, newest_first=True
        ) if ctx.before_limit else []
        after = await store.get_room_events(
            event.room_id, after=event.stream_ordering, before=self.events.persisted_stream + 1,
            limit=ctx.after_limit, newest_first=False,
        ) if ctx.after_limit else []
        room = await self.events.get_room(event.room_id)
        membership = room.membership(user_id) if room is not None else None
        visibility = self.history_visibility
        before = await visibility.filter_events(user_id, event.room_id, before, current_membership=membership)
        after = await visibility.filter_events(user_id, event.room_id, after, current_membership=membership)
        start = (before[-1].stream_ordering if before else event.stream_ordering) - 1  # type: ignore[operator]
        end = after[-1].stream_ordering if after else event.stream_ordering
        context: dict[str, Any] = {
            "events_before": [client_event(e, now_ms=now) for e in before],
            "events_after": [client_event(e, now_ms=now) for e in after],
            "start": StreamToken(events=start).serialize(),
            "end": StreamToken(events=end).serialize(),  # type: ignore[arg-type]
        }
        if ctx.include_profile:
            context["profile_info"] = await self._profiles(event, [event, *before, *after])
        return context

    async def _profiles(self, anchor: Event, events: list[Event]) -> dict[str, dict[str, Any]]:
        """Each sender's displayname and avatar as of the anchor event (spec: historic profile)."""
        state = await self.events.state_before_event(anchor.event_id)
        senders = {e.sender for e in events}
        ids = {s: state.get(("m.room.member", s)) for s in senders}
        members = await self.event_store.get_events([i for i in ids.values() if i])
        out: dict[str, dict[str, Any]] = {}
        for sender, member_id in ids.items():
            member = members.get(member_id) if member_id else None
            content = member.content if member is not None else {}
            out[sender] = {
                k: content[k] for k in ("displayname", "avatar_url") if isinstance(content.get(k), str)
            }
        return out

    @staticmethod
    def _groups(criteria: RoomEventsCriteria, events: list[Event]) -> dict[str, Any]:
        assert criteria.groupings is not None
        groups: dict[str, Any] = {}
        for group in criteria.groupings.group_by:
            buckets: dict[str, dict[str, Any]] = {}
            for event in events:
                value = event.room_id if group.key == "room_id" else event.sender
                bucket = buckets.setdefault(value, {"results": [], "order": len(buckets) + 1})
                bucket["results"].append(event.event_id)
            groups[group.key] = buckets
        return groups

    async def _room_states(self, room_ids: set[str], now: int) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for room_id in room_ids:
            room = await self.events.get_room(room_id)
            if room is not None:
                out[room_id] = [client_event(e, now_ms=now) for e in room.state.values()]
        return out


def _parse_batch(token: str | None, by_rank: bool) -> tuple[int, int | None]:
    """(offset, before) from a next_batch token: "o<offset>" for rank, "b<stream>" for recent."""
    if token is None:
        return 0, None
    kind, number = token[:1], token[1:]
    if not number.isdigit() or kind != ("o" if by_rank else "b"):
        raise MatrixError("M_INVALID_PARAM", 400, "Invalid next_batch token")
    return (int(number), None) if by_rank else (0, int(number))
