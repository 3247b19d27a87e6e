"""A room's history as a client reads it: /messages, /event, /context, /relations and the
thread list, the state a former member still sees, and a send's transaction-ID check.

Every read is bounded by what the reader may see: a former member reads up to their
leave (``bound``), and events are filtered by the room's history visibility.

spec: data/api/client-server/{message_pagination,event_context,rooms,relations,
threads_list,room_send}.yaml
"""

from __future__ import annotations

from typing import Any, NamedTuple

from federation.rooms.events import Event, StateKey
from homeserver.clock import Clock
from homeserver.core.event_format import client_event
from homeserver.core.filtering import EventFilter
from homeserver.core.room_state import RoomState
from homeserver.core.stream_token import StreamToken
from homeserver.errors import forbidden, not_found
from homeserver.services.federation.events import FederatedEventHandler
from homeserver.services.graph.events import EventService
from homeserver.services.graph.history_visibility import HistoryVisibilityService
from homeserver.services.reading.relations import RelationsService
from homeserver.services.reading.threads import ThreadService
from homeserver.storage.events import EventStore


class TransactionLookup(NamedTuple):
    """What an earlier send with the same transaction ID means for this one."""

    # The event to answer with: this request retransmits an earlier send.
    retransmission_of: str | None
    # Whether a new send should record the transaction ID (not when the ID was
    # already used on another path).
    record: bool


# Built once: looked up on every send with a transaction ID.
_NEW_TRANSACTION = TransactionLookup(None, True)
_REUSED_ELSEWHERE = TransactionLookup(None, False)


class PaginationService:
    def __init__(
        self,
        store: EventStore,
        events: EventService,
        history_visibility: HistoryVisibilityService,
        relations: RelationsService,
        threads: ThreadService,
        federation_events: FederatedEventHandler,
        clock: Clock,
    ) -> None:
        self.store = store
        self.events = events
        self.history_visibility = history_visibility
        self.relations = relations
        self.threads = threads
        self.federation_events = federation_events
        self.clock = clock

    # --- sending ---------------------------------------------------------------------
    async def lookup_transaction(
        self, user_id: str, device_id: str, txn_id: str, room_id: str, event_type: str, redacts: str | None
    ) -> TransactionLookup:
        existing = await self.store.get_txn_event(user_id, device_id, txn_id)
        if existing is None:
            return _NEW_TRANSACTION
        # spec: "Transaction identifiers" — a retransmission is the same txn ID on the
        # same path; the store keys only by device, so check the path matches.
        previous = await self.store.get_event(existing)
        if previous is None or (
            previous.room_id == room_id and previous.type == event_type and previous.redacts == redacts
        ):
            return TransactionLookup(existing, False)
        return _REUSED_ELSEWHERE

    # --- who may read ----------------------------------------------------------------
    async def visible_room(self, user_id: str, room_id: str) -> tuple[RoomState, int | None]:
        """(room, upper stream bound for a former member); 403 if the user may not read it."""
        room = await self.events.get_room(room_id)
        if room is None:
            raise forbidden("You are not in this room")
        member = room.state.get(("m.room.member", user_id))
        history = room.state_content("m.room.history_visibility").get("history_visibility", "shared")
        if member is None or member.membership in ("invite", "knock"):
            if history != "world_readable":
                raise forbidden("You are not in this room")
            return room, None
        if member.membership == "join":
            return room, None
        if room_id not in await self.events.rooms_for_user(user_id):
            # spec: /forget — a forgotten room's history is no longer readable.
            if history != "world_readable":
                raise forbidden("You have forgotten this room")
            return room, None
        return room, member.stream_ordering

    async def _readable(self, user_id: str, room: RoomState, events: list[Event]) -> list[Event]:
        """The events the user may read under the room's history visibility."""
        return await self.history_visibility.filter_events(
            user_id, room.room_id, events, current_membership=room.membership(user_id)
        )

    async def _in_timeline(self, event: Event) -> bool:
        """Not an outlier and not soft-failed: an event clients may be shown."""
        flags = (await self.store.get_graph_flags([event.event_id])).get(event.event_id)
        return flags is not None and not flags.outlier and not flags.soft_failed

    # --- /messages -------------------------------------------------------------------
    async def _collect_room_events(
        self,
        room_id: str,
        event_filter: EventFilter,
        limit: int,
        *,
        newest_first: bool,
        after: int | None,
        before: int | None,
        reader: tuple[str, str | None] | None = None,
    ) -> list[Event]:
        """Up to `limit` events passing the filter, walking from one end of (after, before).

        ``reader`` is (user_id, current membership): events that user may not read
        under the room's history visibility are skipped.
        """
        collected: list[Event] = []
        while len(collected) < limit:
            batch = await self.store.get_room_events(
                room_id, after=after, before=before, limit=max(limit * 2, 50), newest_first=newest_first
            )
            if not batch:
                # Local history ran out: pull older events from other servers in the room.
                if newest_first and after is None and await self.federation_events.backfill(room_id, limit):
                    continue
                break
            visible = batch
            if reader is not None:
                visible = await self.history_visibility.filter_events(
                    reader[0], room_id, batch, current_membership=reader[1]
                )
            for ev in visible:
                if event_filter.allows(ev):
                    collected.append(ev)
                    if len(collected) >= limit:
                        break
            edge = (collected[-1] if len(collected) >= limit else batch[-1]).stream_ordering
            if newest_first:
                before = edge
            else:
                after = edge
        return collected

    async def messages(
        self,
        viewer: tuple[str, str],
        room: RoomState,
        bound: int | None,
        *,
        backwards: bool,
        limit: int,
        event_filter: EventFilter,
        start: int | None,
        end: int | None,
    ) -> dict[str, Any]:
        """The /messages response: a page from position ``start`` (the top or the very
        beginning if None) towards ``end``."""
        user_id = viewer[0]
        room_id = room.room_id
        reader = (user_id, room.membership(user_id))
        current = self.events.persisted_stream
        top = current if bound is None else min(current, bound)
        if backwards:
            position = top if start is None else min(start, top)
            collected = await self._collect_room_events(
                room_id, event_filter, limit, newest_first=True, after=end, before=position + 1, reader=reader,
            )
            next_pos = (collected[-1].stream_ordering - 1) if collected else None  # type: ignore[operator]
        else:
            # From the very beginning: backfilled history sits below position 0.
            position = (await self.store.min_stream_ordering()) - 1 if start is None else start
            upper = top + 1 if end is None else min(end, top) + 1
            collected = await self._collect_room_events(
                room_id, event_filter, limit, newest_first=False, after=position, before=upper, reader=reader,
            )
            next_pos = collected[-1].stream_ordering if collected else None
        exhausted = len(collected) < limit
        now = self.clock.time_ms()
        body: dict[str, Any] = {
            "chunk": await self.relations.format_events(collected, now_ms=now, viewer=viewer),
            "start": StreamToken(events=position).serialize(),
        }
        if next_pos is not None and not exhausted:
            body["end"] = StreamToken(events=next_pos).serialize()
        if event_filter.lazy_load_members and collected:
            senders = {e.sender for e in collected}
            body["state"] = [
                client_event(room.state[("m.room.member", s)], now_ms=now)
                for s in senders
                if ("m.room.member", s) in room.state
            ]
        return body

    # --- /event and /context ---------------------------------------------------------
    async def event(self, viewer: tuple[str, str], room: RoomState, bound: int | None, event_id: str) -> dict[str, Any]:
        """One event of the room, as GET /event shows it; 404 if the viewer may not see it."""
        event = await self.store.get_event(event_id)
        if event is None or event.room_id != room.room_id or event.rejected_reason is not None or (
            bound is not None and (event.stream_ordering or 0) > bound
        ) or not await self._in_timeline(event) or not await self._readable(viewer[0], room, [event]):
            raise not_found("Event not found")
        formatted = await self.relations.format_events([event], now_ms=self.clock.time_ms(), viewer=viewer)
        return formatted[0]

    async def context_event(self, user_id: str, room: RoomState, bound: int | None, event_id: str) -> Event:
        """The event /context is asked about; 404 if the user may not see it."""
        event = await self.store.get_event(event_id)
        if event is None or event.room_id != room.room_id or event.stream_ordering is None or (
            bound is not None and event.stream_ordering > bound
        ) or not await self._readable(user_id, room, [event]):
            raise not_found("Event not found")
        return event

    async def context(
        self, user_id: str, room: RoomState, bound: int | None, event: Event, limit: int
    ) -> dict[str, Any]:
        """The /context response: the event (from ``context_event``), up to ``limit``
        events around it, and the state after it."""
        room_id = room.room_id
        top = self.events.persisted_stream if bound is None else bound
        before_n = limit // 2
        after_n = limit - before_n
        before = await self.store.get_room_events(
            room_id, before=event.stream_ordering, limit=before_n, newest_first=True
        )
        after = await self.store.get_room_events(
            room_id, after=event.stream_ordering, before=top + 1, limit=after_n, newest_first=False
        )
        before = await self._readable(user_id, room, before)
        after = await self._readable(user_id, room, after)
        state_ids = await self.events.state_after_event(event.event_id)
        state = await self.store.get_events(state_ids.values())
        now = self.clock.time_ms()
        start_pos = (before[-1].stream_ordering if before else event.stream_ordering) - 1  # type: ignore[operator]
        end_pos = after[-1].stream_ordering if after else event.stream_ordering
        return {
            "event": client_event(event, now_ms=now),
            "events_before": [client_event(e, now_ms=now) for e in before],
            "events_after": [client_event(e, now_ms=now) for e in after],
            "state": [client_event(e, now_ms=now) for e in state.values()],
            "start": StreamToken(events=start_pos).serialize(),
            "end": StreamToken(events=end_pos).serialize(),  # type: ignore[arg-type]
        }

    # --- relations and threads -------------------------------------------------------
    async def relations_parent(self, room: RoomState, event_id: str) -> Event:
        """The event whose relations are asked for; 404 unless it is in the room."""
        parent = await self.store.get_event(event_id)
        if parent is None or parent.room_id != room.room_id:
            raise not_found("Event not found")
        return parent

    async def relations_page(
        self,
        viewer: tuple[str, str],
        room: RoomState,
        bound: int | None,
        parent: Event,
        *,
        rel_type: str | None,
        event_type: str | None,
        backwards: bool,
        limit: int,
        start: int | None,
        end: int | None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """(a page of the events relating to ``parent``, the next_batch position if
        there are more)."""
        top = self.events.persisted_stream if bound is None else bound
        if backwards:
            before = (start + 1) if start is not None else top + 1
            page = await self.store.get_relations_page(
                parent.event_id, rel_type=rel_type, event_type=event_type, before=before, after=end,
                limit=limit + 1, newest_first=True,
            )
        else:
            page = await self.store.get_relations_page(
                parent.event_id, rel_type=rel_type, event_type=event_type,
                before=min(end + 1, top + 1) if end is not None else top + 1,
                after=start if start is not None else None,
                limit=limit + 1, newest_first=False,
            )
        more = len(page) > limit
        page = await self._readable(viewer[0], room, page[:limit])
        chunk = await self.relations.format_events(page, now_ms=self.clock.time_ms(), viewer=viewer)
        next_pos = None
        if more and page:
            last = page[-1].stream_ordering or 0
            next_pos = last - 1 if backwards else last
        return chunk, next_pos

    async def thread_roots(
        self,
        viewer: tuple[str, str],
        room: RoomState,
        bound: int | None,
        *,
        participated: bool,
        limit: int,
        start: int | None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """(thread roots by latest activity, the next_batch position if there are more)."""
        user_id = viewer[0]
        top = self.events.persisted_stream if bound is None else bound
        before = top + 1 if start is None else min(start, top + 1)
        roots: list[Event] = []
        cursor = before
        more = True
        # Roots the requester may not read are skipped, so a page may take several reads.
        while len(roots) < limit and more:
            page = await self.threads.roots_by_activity(
                room.room_id, before=cursor, limit=limit + 1, participant=user_id if participated else None,
            )
            more = len(page) > limit
            page = page[:limit]
            held = [e for e, _ in page if e is not None]
            readable = {e.event_id for e in await self._readable(user_id, room, held)}
            for event, latest in page:
                if len(roots) == limit:
                    more = True
                    break
                cursor = latest
                if event is not None and event.event_id in readable:
                    roots.append(event)
        chunk = await self.relations.format_events(roots, now_ms=self.clock.time_ms(), viewer=viewer)
        return chunk, cursor if more else None

    # --- state a former member sees --------------------------------------------------
    async def state_after(self, event_id: str) -> list[Event]:
        """The room state after ``event_id`` (a former member sees it as of their leave)."""
        ids = await self.events.state_after_event(event_id)
        return list((await self.store.get_events(ids.values())).values())

    async def state_event_after(self, event_id: str, key: StateKey) -> Event | None:
        ids = await self.events.state_after_event(event_id)
        return await self.store.get_event(ids[key]) if key in ids else None

    async def member_events_at(self, room: RoomState, user_id: str, at: int | None) -> list[Event]:
        """The m.room.member events as of stream position ``at`` (spec: GET /members
        "at"); a departed member sees the room as of their leave, at the latest."""
        ids: dict[StateKey, str]
        member = room.state[("m.room.member", user_id)]
        if room.membership(user_id) != "join":
            assert member.stream_ordering is not None
            at = member.stream_ordering if at is None else min(at, member.stream_ordering)
        if at is not None and at == member.stream_ordering:
            ids = await self.events.state_after_event(member.event_id)
        else:
            group = await self.store.get_state_group_before_stream(room.room_id, at or 0)
            ids = await self.events.state_at_group(group)
        member_ids = [v for (t, _k), v in ids.items() if t == "m.room.member"]
        return list((await self.store.get_events(member_ids)).values())
