"""/sync: initial and incremental sync, long-polled through the Notifier.

spec: client-server-api/_index.md, "Syncing". Room timelines come from the
in-memory RoomState when it covers the requested range (the common case for a
client that keeps up) and from storage otherwise. Other streams (account data,
receipts, typing, presence, to-device, device lists) plug in as ``SyncSource``s.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from federation.rooms.events import Event, StateKey
from homeserver.clock import Clock
from homeserver.core.event_format import (
    STRIPPED_STATE_TYPES,
    client_event,
    stripped_state_event,
)
from homeserver.core.filtering import SyncFilter
from homeserver.core.requester import Requester
from homeserver.core.room_state import RoomState
from homeserver.core.stream_token import STREAM_NAMES, StreamToken
from homeserver.core.sync_source import SyncContext as SyncContext
from homeserver.core.sync_source import SyncContribution as SyncContribution
from homeserver.core.sync_source import SyncSource as SyncSource
from homeserver.services.federation.out_of_band import OutOfBandMembershipService
from homeserver.services.graph.events import EventService
from homeserver.services.graph.history_visibility import HistoryVisibilityService
from homeserver.services.graph.notifier import Notifier
from homeserver.services.reading.relations import RelationsService
from homeserver.services.sync.pacer import SyncPacer
from homeserver.storage.events import EventStore
from homeserver.storage.room_history import RoomHistoryStore

# (user_id, since_events, upto_events, now_ms) -> room_id -> a rooms.leave section, for
# rooms gone from the room graph (purged by an admin) that still owe the user their leave.
LeaveSectionsProvider = Callable[[str, int | None, int, int], dict[str, dict[str, Any]]]


@dataclass(slots=True)
class SyncRequest:
    requester: Requester
    filter: SyncFilter
    since: StreamToken | None
    full_state: bool = False
    timeout_ms: int = 0
    set_presence: str | None = None
    # Senders whose non-state events are left out (spec: modules/ignore_users.md).
    hidden_senders: frozenset[str] = frozenset()


class SyncService:
    def __init__(
        self,
        *,
        events: EventService,
        event_store: EventStore,
        room_history: RoomHistoryStore,
        notifier: Notifier,
        clock: Clock,
        out_of_band: OutOfBandMembershipService,
        history_visibility: HistoryVisibilityService,
        relations: RelationsService,
    ) -> None:
        self.events = events
        self.event_store = event_store
        self.room_history = room_history
        self.notifier = notifier
        self.clock = clock
        self.out_of_band = out_of_band
        self.history_visibility = history_visibility
        self.relations = relations
        self._purged_leave_sections: LeaveSectionsProvider | None = None
        self.sources: list[SyncSource] = []
        # user_id -> senders hidden from them (ignored users); set by the account data service.
        self.hidden_senders: Callable[[str], Awaitable[frozenset[str]]] | None = None
        self._position_readers: tuple[Callable[[], int] | None, ...] = (None,) * (len(STREAM_NAMES) - 1)
        # Incremental responses per device are paced so a burst rides in few responses.
        self.pacer = SyncPacer()

    def add_source(self, source: SyncSource) -> None:
        assert source.stream in STREAM_NAMES
        self.sources.append(source)
        # Token slot -> the position reader of the source that owns it (the last one added).
        readers = {STREAM_NAMES.index(s.stream): s.current_position for s in self.sources}
        self._position_readers = tuple(readers.get(i) for i in range(1, len(STREAM_NAMES)))

    def use_purged_leave_sections(self, provider: LeaveSectionsProvider) -> None:
        """Where the leave sections of rooms no longer in the room graph come from."""
        self._purged_leave_sections = provider

    def current_token(self) -> StreamToken:
        # Called several times per /sync: positional, no per-call dict of stream names.
        return StreamToken(
            self.events.persisted_stream,
            *(read() if read is not None else 0 for read in self._position_readers),
        )

    async def sync(self, req: SyncRequest) -> dict[str, Any]:
        user_id = req.requester.user_id
        notifier = self.notifier
        deadline = time.monotonic() + req.timeout_ms / 1000
        since = req.since.clamp(self.current_token()) if req.since is not None else None
        if self.hidden_senders is not None:
            req.hidden_senders = await self.hidden_senders(user_id)
        paced = since is not None and not req.full_state
        device = (user_id, req.requester.device_id)
        if paced:
            await self.pacer.wait_turn(device, deadline)
        while True:
            version = notifier.version(user_id)
            upto = self.current_token()
            response, has_updates = await self._compute(req, since, upto)
            if has_updates or since is None or req.full_state:
                if paced:
                    self.pacer.answered(device)
                return response
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return response
            woke = await notifier.wait(user_id, version, remaining)
            if woke and paced:
                await self.pacer.wait_turn(device, deadline)
            if not woke:
                # A final look: something may have landed in the same instant.
                upto = self.current_token()
                response, _ = await self._compute(req, since, upto)
                return response

    # --- one pass ----------------------------------------------------------------
    async def _compute(
        self, req: SyncRequest, since: StreamToken | None, upto: StreamToken
    ) -> tuple[dict[str, Any], bool]:
        user_id = req.requester.user_id
        events = self.events
        now = self.clock.time_ms()
        room_filter = req.filter.room
        join: dict[str, Any] = {}
        invite: dict[str, Any] = {}
        leave: dict[str, Any] = {}
        knock: dict[str, Any] = {}
        joined_ids: list[str] = []
        newly_joined: set[str] = set()
        since_events = since.events if since is not None else None

        memberships = await events.rooms_for_user(user_id)
        for room_id, membership in list(memberships.items()):
            if not room_filter.allows_room(room_id):
                continue
            room = events.cached_room(room_id) or await events.get_room(room_id)
            if room is None:
                # Invites/knocks (and their rejection) in rooms this server is not in.
                oob = await self.out_of_band.sync_section(
                    user_id, room_id, since_events, upto.events, req.hidden_senders
                )
                if oob is not None:
                    {"invite": invite, "knock": knock, "leave": leave}[oob[0]][room_id] = oob[1]
                continue
            member_event = room.state.get(("m.room.member", user_id))
            if member_event is None:
                continue
            member_stream = member_event.stream_ordering or 0
            if member_stream > upto.events:
                # Our membership changed after this sync's upper bound; next time.
                continue
            if membership == "join":
                joined_ids.append(room_id)
                changed_membership = since_events is not None and member_stream > since_events
                if changed_membership:
                    newly_joined.add(room_id)
                full = since_events is None or changed_membership or req.full_state
                section = await self._joined_room(
                    req, room, None if full else since_events, upto.events, now, full
                )
                if section is not None:
                    join[room_id] = section
            elif membership == "invite":
                if member_event.sender in req.hidden_senders:
                    continue  # spec: no invites from ignored users
                if since_events is None or member_stream > since_events:
                    invite[room_id] = {"invite_state": {"events": self.stripped_state(room, member_event)}}
            elif membership == "knock":
                if since_events is None or member_stream > since_events:
                    knock[room_id] = {"knock_state": {"events": self.stripped_state(room, member_event)}}
            elif membership in ("leave", "ban"):
                if since_events is None and not room_filter.include_leave:
                    continue
                if since_events is not None and member_stream <= since_events and not (
                    req.full_state and room_filter.include_leave
                ):
                    continue
                section = await self._left_room(req, room, since_events, member_event, now)
                leave[room_id] = section
        # Rooms forgotten after a leave inside this sync's range: the leave still shows once.
        if since_events is not None:
            for room_id, leave_stream in events.recently_forgotten(user_id).items():
                if room_id in memberships or room_id in leave or not room_filter.allows_room(room_id):
                    continue
                if since_events < leave_stream <= upto.events:
                    room = events.cached_room(room_id) or await events.get_room(room_id)
                    member_event = room.state.get(("m.room.member", user_id)) if room is not None else None
                    if room is not None and member_event is not None and member_event.stream_ordering == leave_stream:
                        leave[room_id] = await self._left_room(req, room, since_events, member_event, now)
        # Rooms an admin deleted with purge: only the user's leave is left of them.
        if self._purged_leave_sections is not None:
            for room_id, section in self._purged_leave_sections(user_id, since_events, upto.events, now).items():
                if room_filter.allows_room(room_id):
                    leave.setdefault(room_id, section)

        ctx = SyncContext(req.requester, req.filter, since, upto, joined_ids, newly_joined)
        has_updates = bool(join or invite or leave or knock)
        response: dict[str, Any] = {}
        next_batch = upto
        for source in self.sources:
            contribution = await source.contribute(ctx)
            if contribution.resume_from is not None:
                next_batch = next_batch.with_position(source.stream, contribution.resume_from)
            response.update(contribution.always)
            for key, value in contribution.top_level.items():
                if value:
                    has_updates = True
                    if key == "account_data" and key in response:
                        # Several sources send global account data (push rules, ...).
                        response[key]["events"].extend(value["events"])
                    else:
                        response[key] = value
            for room_id, sections in contribution.rooms.items():
                if room_id not in join:
                    join[room_id] = self._empty_joined_section()
                for name, items in sections.items():
                    if items:
                        has_updates = True
                        join[room_id].setdefault(name, {"events": []})["events"].extend(items)
            for room_id, counts in contribution.unread.items():
                if room_id in join:
                    join[room_id]["unread_notifications"] = counts
            for room_id, threads in contribution.unread_threads.items():
                if room_id in join:
                    join[room_id]["unread_thread_notifications"] = threads
        response["next_batch"] = next_batch.serialize()
        rooms: dict[str, Any] = {}
        if join:
            rooms["join"] = join
        if invite:
            rooms["invite"] = invite
        if leave:
            rooms["leave"] = leave
        if knock:
            rooms["knock"] = knock
        if rooms:
            response["rooms"] = rooms
        return response, has_updates

    @staticmethod
    def _empty_joined_section() -> dict[str, Any]:
        return {"timeline": {"events": [], "limited": False}, "state": {"events": []}}

    def stripped_state(self, room: RoomState, member_event: Event) -> list[dict[str, Any]]:
        out = [
            stripped_state_event(room.state[(t, "")])
            for t in STRIPPED_STATE_TYPES
            if (t, "") in room.state
        ]
        out.append(stripped_state_event(member_event))
        sender_member = room.state.get(("m.room.member", member_event.sender))
        if sender_member is not None and sender_member.event_id != member_event.event_id:
            out.append(stripped_state_event(sender_member))
        return out

    async def room_events(
        self, room: RoomState, after: int | None, upto: int, limit: int, req: SyncRequest
    ) -> tuple[list[Event], bool]:
        """The timeline events of (after, upto] the user may read, and whether more existed."""
        events, more = await self._recent_room_events(room, after, upto, limit, req)
        user_id = req.requester.user_id
        membership = room.membership(user_id)
        visibility = self.history_visibility
        if events and not (membership == "join" and await visibility.is_always_open(room.room_id)):
            events = await visibility.filter_events(
                user_id, room.room_id, events, current_membership=membership
            )
        return events, more

    async def _recent_room_events(
        self, room: RoomState, after: int | None, upto: int, limit: int, req: SyncRequest
    ) -> tuple[list[Event], bool]:
        """The last `limit` timeline events in (after, upto], and whether more existed."""
        tl_filter = req.filter.room.timeline
        hidden = req.hidden_senders

        def allows(e: Event) -> bool:
            return tl_filter.allows(e) and (not hidden or e.is_state or e.sender not in hidden)

        if after is not None:
            cached = room.recent_since(after, upto)
            if cached is not None:
                matching = [e for e in cached if allows(e)] if not tl_filter.is_noop or hidden else cached
                return matching[-limit:] if limit else [], len(matching) > limit
        events: list[Event] = []
        before = upto + 1
        fetch = max(limit * 2, 20)
        more = False
        while len(events) <= limit:
            batch = await self.event_store.get_room_events(
                room.room_id, after=after, before=before, limit=fetch, newest_first=True
            )
            for e in batch:
                if allows(e):
                    events.append(e)
            if len(batch) < fetch:
                break
            before = batch[-1].stream_ordering  # type: ignore[assignment]
        if len(events) > limit:
            more = True
            events = events[:limit]
        events.reverse()
        return events, more

    async def _joined_room(
        self,
        req: SyncRequest,
        room: RoomState,
        after: int | None,
        upto: int,
        now: int,
        full_state: bool,
    ) -> dict[str, Any] | None:
        limit = req.filter.timeline_limit
        if after is not None and room.latest_stream <= after:
            return None
        timeline, limited = await self.room_events(room, after, upto, limit, req)
        if after is not None and not timeline and not limited:
            return None
        state_events: list[Event] = []
        if full_state or limited:
            state_events = await self._state_for_timeline(room, req, after, timeline, upto, full_state)
        prev_batch_pos = (timeline[0].stream_ordering or 1) - 1 if timeline else upto
        return {
            "timeline": {
                "events": await self.format_timeline(room, timeline, now, req),
                "limited": limited,
                "prev_batch": StreamToken(events=prev_batch_pos).serialize(),
            },
            "state": {"events": [self._format(e, now) for e in state_events]},
            # spec: sync.yaml RoomSummary — the counts are "required if the field has changed
            # since the last sync", i.e. whenever a membership event is in this response.
            "summary": self._summary(room) if full_state or _has_member_event(timeline, state_events) else {},
        }

    def _summary(self, room: RoomState) -> dict[str, Any]:
        joined = room.members_with("join")
        invited = room.members_with("invite")
        summary: dict[str, Any] = {
            "m.joined_member_count": len(joined),
            "m.invited_member_count": len(invited),
        }
        if ("m.room.name", "") not in room.state and ("m.room.canonical_alias", "") not in room.state:
            summary["m.heroes"] = sorted(joined + invited)[:5]
        return summary

    async def _state_for_timeline(
        self,
        room: RoomState,
        req: SyncRequest,
        after: int | None,
        timeline: list[Event],
        upto: int,
        full_state: bool,
    ) -> list[Event]:
        """State at the start of the timeline (all of it, or what changed since `after`)."""
        events = self.events
        if timeline:
            start_ids = await events.state_before_event(timeline[0].event_id)
        else:
            group = await self.event_store.get_state_group_before_stream(room.room_id, upto)
            start_ids = await events.state_at_group(group)
        wanted: dict[StateKey, str]
        if full_state or after is None:
            wanted = dict(start_ids)
        else:
            group = await self.event_store.get_state_group_before_stream(room.room_id, after)
            since_ids = await events.state_at_group(group)
            wanted = {k: v for k, v in start_ids.items() if since_ids.get(k) != v}
        state_filter = req.filter.room.state
        if state_filter.lazy_load_members:
            needed = {e.sender for e in timeline} | {req.requester.user_id}
            wanted = {
                k: v for k, v in wanted.items() if k[0] != "m.room.member" or k[1] in needed
            }
        in_timeline = {e.event_id for e in timeline}
        ids = [v for k, v in wanted.items() if v not in in_timeline and state_filter.allows_type_and_sender(k[0], "")]
        fetched = await self.event_store.get_events(ids)
        return [fetched[i] for i in ids if i in fetched and state_filter.allows(fetched[i])]

    async def _left_room(
        self,
        req: SyncRequest,
        room: RoomState,
        since_events: int | None,
        member_event: Event,
        now: int,
    ) -> dict[str, Any]:
        upto = member_event.stream_ordering or 0
        timeline, limited = await self.room_events(
            room, since_events, upto, req.filter.timeline_limit, req
        )
        # State as at the start of the timeline (spec: sync.yaml LeftRoom "state"): needed when
        # the timeline does not reach back to what the client knew, and when it is empty
        # (e.g. timeline limit 0), where it is the state as at the leave.
        state_events: list[Event] = []
        if limited or not timeline:
            state_events = await self._state_for_timeline(
                room, req, since_events, timeline, upto, req.full_state
            )
        return {
            "timeline": {
                "events": await self.format_timeline(room, timeline, now, req),
                "limited": limited,
                "prev_batch": StreamToken(
                    events=((timeline[0].stream_ordering or 1) - 1) if timeline else upto
                ).serialize(),
            },
            "state": {"events": [self._format(e, now) for e in state_events]},
        }

    async def format_timeline(
        self, room: RoomState, events: list[Event], now: int, req: SyncRequest
    ) -> list[dict[str, Any]]:
        viewer = (req.requester.user_id, req.requester.device_id)
        formatted = await self.relations.format_events(
            events, include_room_id=False, now_ms=now, viewer=viewer
        )
        memberships = await self._viewer_memberships(room, events, req.requester.user_id)
        for out, membership in zip(formatted, memberships, strict=True):
            out.setdefault("unsigned", {})["membership"] = membership
        return formatted

    async def _viewer_memberships(self, room: RoomState, events: list[Event], user_id: str) -> list[str]:
        """The viewer's membership at each event, the event's own change included
        (spec: ClientEvent unsigned.membership; "leave" before any membership)."""
        if not events:
            return []
        member = room.state.get(("m.room.member", user_id))
        current = (member.membership if member is not None else None) or "leave"
        member_stream = (member.stream_ordering or 0) if member is not None else 0
        if member is None or (events[0].stream_ordering or 0) > member_stream:
            # The usual case: the membership has not changed since before the first event.
            return [current] * len(events)
        changes = await self.room_history.get_state_changes(room.room_id, "m.room.member", user_id)
        streams = [stream for stream, _ in changes]
        out = []
        for e in events:
            i = bisect.bisect_right(streams, e.stream_ordering or 0)
            value = changes[i - 1][1].get("membership") if i else None
            out.append(value if isinstance(value, str) else "leave")
        return out

    def _format(self, event: Event, now: int) -> dict[str, Any]:
        return client_event(event, include_room_id=False, now_ms=now)


def _has_member_event(*event_lists: list[Event]) -> bool:
    return any(e.type == "m.room.member" for events in event_lists for e in events)
