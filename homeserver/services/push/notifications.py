"""Per-event push rule evaluation, notification records and GET /notifications.

spec: client-server-api/modules/push.md, "Server behaviour": when an event arrives,
the push rules of each local user in the room (except the sender) are evaluated,
and "the updated notification count from a new event MUST appear in the same /sync
response as the event itself". So evaluation runs in the persist listener, which is
synchronous and runs before the notifier wakes /sync: counts are updated in memory
there, and one ``event_notifications`` row per event (everyone it notified, packed)
is queued for an owned writer task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from federation.rooms.events import Event
from federation.rooms.power_levels import user_power_level
from homeserver.clock import Clock
from homeserver.core.event_format import client_event
from homeserver.core.push.bulk import RoomEvaluation
from homeserver.core.push.rules import EventContext, flatten_event
from homeserver.core.room_state import RoomState
from homeserver.errors import invalid_param
from homeserver.services.graph.events import EventService
from homeserver.services.push.gateway import PushGatewayDelivery
from homeserver.services.push.settings import PushSettingsService
from homeserver.services.push.unread import NotificationCounter, ReadPositions, UnreadCountsSource
from homeserver.services.social.account_data import AccountDataService
from homeserver.services.social.receipts import ReceiptService
from homeserver.storage.events import EventStore
from homeserver.storage.push import MAIN_THREAD, EventNotifications, Notified, PushAction, PushStore

logger = logging.getLogger(__name__)

_MEMBER_CACHE_LIMIT = 10_000
_THREAD_CACHE_LIMIT = 100_000
_UNKNOWN: Any = object()
# The event fields push rule keys can address (spec: event_match examples use type,
# state_key, sender, room_id and content.*).
_PUSH_FIELDS = ("type", "sender", "room_id", "state_key", "content", "redacts")


class NotificationService:
    def __init__(
        self,
        store: PushStore,
        push_settings: PushSettingsService,
        account_data: AccountDataService,
        receipts: ReceiptService,
        events: EventService,
        event_store: EventStore,
        clock: Clock,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.push_settings = push_settings
        self.account_data = account_data
        self.event_store = event_store
        self.clock = clock
        self.is_mine = is_mine
        self.counter = NotificationCounter(store, self._unflushed_for, account_data.ignored_users)
        self.gateway = PushGatewayDelivery(
            events, event_store, push_settings, self.counter, account_data.ignored_users
        )
        # /sync's unread_notifications: a sync source of its own (registered in wiring/sync.py).
        self.unread_counts = UnreadCountsSource(self.counter, receipts, events)
        self._queued: list[EventNotifications] = []
        self._in_flight: list[EventNotifications] = []
        self._redacted: list[str] = []  # event IDs whose notification rows are to go
        self._redacted_in_flight: list[str] = []
        self._writer: asyncio.Task[None] | None = None
        # (room_id, state_group) -> (joined members, the local ones); membership only changes with state.
        self._joined: dict[tuple[str, int], tuple[list[str], list[str]]] = {}
        # room_id -> (state_group, user_id -> display name): members' names at the room's latest state.
        self._names: dict[str, tuple[int, dict[str, str | None]]] = {}
        # event_id -> thread root, for recent events in a thread: an event relating to one
        # of them (a reaction, an edit) is in that thread too.
        self._thread_of_event: dict[str, str] = {}

    # --- evaluation (persist listener) ------------------------------------------------
    def on_event_persisted(self, room: RoomState, event: Event) -> None:
        if event.rejected_reason is not None:
            return
        if self.is_mine(event.sender):
            self.counter.sent_event(event.sender, event.room_id, event.stream_ordering or 0)
        if event.type == "m.room.redaction" and event.redacts:
            self._forget_redacted(room, event.redacts)
        thread_id = self._thread_of(event)
        joined, local_joined = self._joined_members(room)
        recipients = [u for u in local_joined if u != event.sender]
        if event.type == "m.room.member" and event.membership == "invite":
            invitee = event.state_key
            if invitee and invitee != event.sender and self.is_mine(invitee) and invitee not in recipients:
                recipients.append(invitee)  # .m.rule.invite_for_me
        if not recipients:
            return
        pdu = event.pdu
        view = {k: pdu[k] for k in _PUSH_FIELDS if k in pdu}
        view["room_id"] = event.room_id
        view["event_id"] = event.event_id
        power_event = room.state.get(("m.room.power_levels", ""))
        power_levels = power_event.content if power_event is not None else None
        content = event.content
        ctx = EventContext(
            flattened=flatten_event(view),
            room_member_count=len(joined),
            sender_power_level=user_power_level(event.sender, power_levels, room.create_event, room.version),
            power_levels=power_levels,
            has_mentions=isinstance(content, dict) and "m.mentions" in content,
        )
        now = self.clock.time_ms()
        stream = event.stream_ordering or 0
        # The event is evaluated once per distinct ruleset, then per member only the
        # member-dependent conditions still in play (push_bulk.py). This loop runs for
        # every member of big rooms: what does not depend on the member is built once.
        evaluation = RoomEvaluation(ctx)
        settings = self.push_settings
        room_id, sender, event_id = event.room_id, event.sender, event.event_id
        notified = {False: Notified(stream, False, sender, thread_id), True: Notified(stream, True, sender, thread_id)}
        # id(match) -> (its actions, highlight, the users it matched for): the packed row.
        groups: dict[int, tuple[list[Any], bool, list[str]]] = {}
        names = self._display_names(room)
        last_ruleset, prepared = None, None
        for user_id in recipients:
            ruleset = settings.compiled_rules_for(user_id)
            if ruleset is not last_ruleset or prepared is None:  # most members share one
                last_ruleset, prepared = ruleset, evaluation.prepare(ruleset)
            if not prepared.can_notify:
                continue
            name = None
            if prepared.needs_display_name:
                name = names.get(user_id, _UNKNOWN)
                if name is _UNKNOWN:
                    name = names[user_id] = self._display_name(room, user_id)
            match = prepared.first_match(user_id, name)
            if match is None or not match.notify:
                continue
            highlight = match.highlight
            self.counter.record(user_id, room_id, notified[highlight])
            group = groups.get(id(match))
            if group is None:
                group = groups[id(match)] = (list(match.actions), highlight, [])
            group[2].append(user_id)
            if user_id in settings.http_pusher_users:
                self.gateway.enqueue(
                    PushAction(user_id, room_id, stream, event_id, sender, group[0], highlight, now, thread_id)
                )
        if groups:
            self._queued.append(
                EventNotifications(room_id, stream, event_id, sender, thread_id, now, list(groups.values()))
            )
            self._start_writer()

    def _thread_of(self, event: Event) -> str:
        """spec: client-server-api, "Threaded read receipts" — an event is in a thread if it
        has an m.thread relation or relates to an event in the thread. Following one hop
        through the events remembered here covers chains (each in-thread event is
        remembered); a parent not remembered (older, or from before a restart) is taken as
        the main timeline."""
        thread_id = thread_of(event.content)
        if thread_id == MAIN_THREAD:
            parent = related_event_id(event.content)
            if parent is None:
                return MAIN_THREAD
            thread_id = self._thread_of_event.get(parent, MAIN_THREAD)
            if thread_id == MAIN_THREAD:
                return MAIN_THREAD
        if len(self._thread_of_event) >= _THREAD_CACHE_LIMIT:
            self._thread_of_event.clear()
        self._thread_of_event[event.event_id] = thread_id
        return thread_id

    def _display_names(self, room: RoomState) -> dict[str, str | None]:
        cached = self._names.get(room.room_id)
        if cached is None or cached[0] != room.state_group:
            if len(self._names) >= _MEMBER_CACHE_LIMIT:
                self._names.clear()
            cached = self._names[room.room_id] = (room.state_group, {})
        return cached[1]

    @staticmethod
    def _display_name(room: RoomState, user_id: str) -> str | None:
        member = room.state.get(("m.room.member", user_id))
        name = member.content.get("displayname") if member is not None else None
        return name if isinstance(name, str) else None

    def _start_writer(self) -> None:
        if (self._queued or self._redacted) and self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name="push-actions-writer")

    def _forget_redacted(self, room: RoomState, event_id: str) -> None:
        """A redacted event stops counting, as in Synapse; in this sync when it is recent."""
        target = next((e for e in room.recent if e.event_id == event_id), None)
        if target is not None and target.stream_ordering is not None:
            self.counter.forget(room.room_id, target.stream_ordering)
        self._redacted.append(event_id)
        self._start_writer()

    def _joined_members(self, room: RoomState) -> tuple[list[str], list[str]]:
        key = (room.room_id, room.state_group)
        members = self._joined.get(key)
        if members is None:
            if len(self._joined) >= _MEMBER_CACHE_LIMIT:
                self._joined.clear()
            joined = room.members_with("join")
            members = self._joined[key] = (joined, [u for u in joined if self.is_mine(u)])
        return members

    # --- writing notification rows ----------------------------------------------------
    async def _write_loop(self) -> None:
        try:
            while self._queued or self._redacted:
                self._in_flight, self._queued = self._queued, []
                self._redacted_in_flight, self._redacted = self._redacted, []
                try:
                    if self._in_flight:
                        await self.store.add_event_notifications(self._in_flight)
                    if self._redacted_in_flight:
                        removed = await self.store.delete_notifications_for_events(self._redacted_in_flight)
                        for user_id, room_id, stream in removed:
                            self.counter.forget(room_id, stream, user_id)
                except Exception:
                    logger.exception("storing notifications of %d events (%d redacted) failed",
                                     len(self._in_flight), len(self._redacted_in_flight))
                self._in_flight, self._redacted_in_flight = [], []
        finally:
            self._writer = None

    def _unflushed_for(self, user_id: str, room_id: str) -> list[Notified]:
        redacted = {*self._redacted, *self._redacted_in_flight}
        found: list[Notified] = []
        for row in (*self._in_flight, *self._queued):
            if row.room_id != room_id or row.event_id in redacted:
                continue
            for _, highlight, users in row.groups:
                if user_id in users:
                    found.append(Notified(row.stream_ordering, highlight, row.sender, row.thread_id))
                    break
        return found

    async def flush(self) -> None:
        """Wait until every queued notification row is committed."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    async def stop(self) -> None:
        await self.gateway.stop()
        await self.flush()

    # --- GET /notifications -----------------------------------------------------------
    async def list_notifications(
        self, user_id: str, from_token: str | None, limit: int, only_highlight: bool
    ) -> dict[str, Any]:
        """spec: data/api/client-server/notifications.yaml."""
        before: int | None = None
        if from_token is not None:
            try:
                before = int(from_token)
            except ValueError:
                raise invalid_param("from is not a token this server issued") from None
        await self.flush()
        found = await self.store.notifications(user_id, before, limit, only_highlight)
        ignored = await self.account_data.ignored_users(user_id)
        events = await self.event_store.get_events([a.event_id for a in found if a.sender not in ignored])
        reads: dict[str, ReadPositions] = {}
        now = self.clock.time_ms()
        notifications: list[dict[str, Any]] = []
        for action in found:
            event = events.get(action.event_id)
            if event is None:
                continue
            read = reads.get(action.room_id)
            if read is None:
                read = reads[action.room_id] = await self.counter.read_positions(user_id, action.room_id)
            notifications.append({
                "actions": action.actions,
                "event": client_event(event, include_room_id=True, now_ms=now),
                "read": read.has_read(action.stream_ordering, action.thread_id),
                "room_id": action.room_id,
                "ts": action.ts,
            })
        out: dict[str, Any] = {"notifications": notifications}
        if len(found) == limit and found:
            out["next_token"] = str(found[-1].stream_ordering)
        return out


def thread_of(content: Any) -> str:
    """The thread an event belongs to: its root for an m.thread relation, else "main".

    spec: client-server-api, "Threaded read receipts" — the root itself is in the main
    timeline.
    """
    relates_to = content.get("m.relates_to") if isinstance(content, dict) else None
    if isinstance(relates_to, dict) and relates_to.get("rel_type") == "m.thread":
        root = relates_to.get("event_id")
        if isinstance(root, str) and root:
            return root
    return MAIN_THREAD


def related_event_id(content: Any) -> str | None:
    """The event a (non-thread) relation points at, if any."""
    relates_to = content.get("m.relates_to") if isinstance(content, dict) else None
    parent = relates_to.get("event_id") if isinstance(relates_to, dict) else None
    return parent if isinstance(parent, str) and parent else None
