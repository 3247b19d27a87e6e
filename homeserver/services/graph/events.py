"""The event pipeline: build, authorise and persist room events; keep room caches.

Local sends go: RoomState (in memory) -> build + sign the PDU -> auth rules
against the auth events -> assign a stream position and update the RoomState
-> batched write -> notify. Everything before the write happens without an
await, so each room's graph stays linear without locks and many rooms (and
many senders in one room) share each commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from federation.crypto.canonical_json import CanonicalJsonError
from federation.crypto.signing import SigningKey
from federation.rooms.auth import AuthError, auth_types_for_event, check_auth_rules
from federation.rooms.builder import build_event
from federation.rooms.events import Event, StateKey
from federation.rooms.power_levels import user_power_level
from federation.rooms.redaction import redact_pdu
from federation.rooms.versions import KNOWN_ROOM_VERSIONS, RoomVersion
from homeserver.clock import Clock
from homeserver.core.event_format import client_event
from homeserver.core.room_fold import Fold, ResolvedState, StateGroupDelta, fold_event
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.graph.notifier import Notifier
from homeserver.storage.events import EventStore, NewStateGroup, PersistEvent
from homeserver.storage.rooms import RoomStore
from homeserver.storage.state import MAX_DELTA_DEPTH, StateStore

logger = logging.getLogger(__name__)

MAX_PREV_EVENTS = 10
RECENT_TXNS_KEPT = 50_000
RECENTLY_FORGOTTEN_KEPT = 100  # per user


class EventService:
    def __init__(
        self,
        store: EventStore,
        state_store: StateStore,
        room_store: RoomStore,
        notifier: Notifier,
        clock: Clock,
        server_name: str,
        signing_key: SigningKey,
    ) -> None:
        self.store = store
        self.state_store = state_store
        self.room_store = room_store
        self.notifier = notifier
        self.clock = clock
        self.server_name = server_name
        self.signing_key = signing_key
        self._rooms: dict[str, RoomState] = {}
        self._loading: dict[str, asyncio.Future[RoomState | None]] = {}
        self._next_stream = 1
        # Outliers and backfilled history take positions below every timeline event,
        # counting down, so they never appear as new in /sync.
        self._next_backward_stream = -1
        self._next_state_group = 1
        # Highest stream position whose event is committed; sync reads up to here.
        self.persisted_stream = 0
        # user_id -> {room_id: membership} for local users, filled lazily.
        self._user_rooms: dict[str, dict[str, str]] = {}
        self._last_create_ts = 0
        # event_id -> (user_id, device_id, txn_id) of recent local sends, for the
        # sender's own unsigned.transaction_id; older ones are read from storage.
        self._recent_txns: OrderedDict[str, tuple[str, str, str]] = OrderedDict()
        # user_id -> {room_id: leave stream} of rooms forgotten since start-up.
        self._recently_forgotten: dict[str, dict[str, int]] = {}
        # Called (synchronously, in registration order) after each event is committed:
        # relations, push rules, search indexing, the federation sender. Slow work
        # belongs in a task.
        self._persist_listeners: list[Callable[[RoomState, Event], None]] = []
        # Checked before a local event is built (blocked rooms, server notice rooms):
        # check(room, sender, type, content, state_key) raises MatrixError to refuse it.
        self._send_checks: list[Callable[[RoomState, str, str, dict[str, Any], str | None], None]] = []

    def add_send_check(self, check: Callable[[RoomState, str, str, dict[str, Any], str | None], None]) -> None:
        """Run ``check`` on every local send before the event is built."""
        self._send_checks.append(check)

    def add_persist_listener(self, listener: Callable[[RoomState, Event], None]) -> None:
        """Run ``listener(room, event)`` after every committed event (local or remote)."""
        self._persist_listeners.append(listener)

    async def load(self) -> None:
        self.persisted_stream = await self.store.max_stream_ordering()
        self._next_stream = self.persisted_stream + 1
        self._next_backward_stream = min(await self.store.min_stream_ordering(), 0) - 1
        self._next_state_group = await self.store.max_state_group() + 1

    # --- room caches -------------------------------------------------------------
    async def get_room(self, room_id: str) -> RoomState | None:
        room = self._rooms.get(room_id)
        if room is not None:
            return room
        pending = self._loading.get(room_id)
        if pending is not None:
            return await pending
        fut: asyncio.Future[RoomState | None] = asyncio.get_running_loop().create_future()
        self._loading[room_id] = fut
        try:
            room = await self._load_room(room_id)
            if room is not None:
                self._rooms[room_id] = room
            fut.set_result(room)
            return room
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved
            raise
        finally:
            del self._loading[room_id]

    async def require_room(self, room_id: str) -> RoomState:
        room = await self.get_room(room_id)
        if room is None:
            raise not_found("Unknown room")
        return room

    async def _load_room(self, room_id: str) -> RoomState | None:
        version_id = await self.room_store.get_room_version(room_id)
        if version_id is None:
            return None
        version = KNOWN_ROOM_VERSIONS[version_id]
        state_ids = await self.room_store.get_current_state_ids(room_id)
        events = await self.store.get_events(state_ids.values())
        state = {k: events[eid] for k, eid in state_ids.items() if eid in events}
        create = state.get(("m.room.create", ""))
        if create is None:
            return None
        latest = await self.store.get_room_latest_stream(room_id)
        group = await self.store.get_state_group_before_stream(room_id, latest)
        if group is None or await self.state_store.get_state_ids(group) != state_ids:
            # Current state came from state resolution or a remote join and is not
            # the state after the latest event: give it a snapshot group of its own.
            group = self.allocate_state_group()
            await self.store.write_state_group(NewStateGroup(group, room_id, None, 0, dict(state_ids)))
        self.state_store.remember(group, dict(state_ids))
        extremities = await self.store.get_forward_extremities(room_id)
        extremity_hashes: dict[str, str] = {}
        if version.event_id_in_pdu:
            # Room versions 1 and 2 list each prev event's reference hash with its ID.
            tips = await self.store.get_events(extremities)
            extremity_hashes = {eid: ev.reference_hash for eid, ev in tips.items()}
        return RoomState(
            room_id=room_id,
            version=version,
            create_event=create,
            state=state,
            state_group=group,
            delta_depth=await self.state_store.get_delta_depth(group),
            extremities=extremities,
            max_depth=await self.store.get_max_depth(room_id),
            latest_stream=latest,
            recent_floor=latest,
            extremity_hashes=extremity_hashes,
        )

    def cached_room(self, room_id: str) -> RoomState | None:
        return self._rooms.get(room_id)

    def forget_room(self, room_id: str, event_ids: Iterable[str]) -> None:
        """Drop a purged room and its events from the caches (after the purge's commit)."""
        self._rooms.pop(room_id, None)
        for rooms in self._user_rooms.values():
            rooms.pop(room_id, None)
        for event_id in event_ids:
            self._recent_txns.pop(event_id, None)

    # --- user memberships (local users) -----------------------------------------
    async def rooms_for_user(self, user_id: str) -> dict[str, str]:
        """room_id -> membership of a local user (join, invite, leave, ban, knock)."""
        rooms = self._user_rooms.get(user_id)
        if rooms is None:
            rows = await self.room_store.get_memberships_for_user(user_id)
            rooms = self._user_rooms.setdefault(user_id, {r[0]: r[1] for r in rows})
        return rooms

    def forget_room_for_user(self, user_id: str, room_id: str) -> None:
        rooms = self._user_rooms.get(user_id)
        if rooms is not None:
            rooms.pop(room_id, None)
        # An incremental /sync whose range holds the leave still reports it once
        # (Complement TestRoomForget); kept in memory only.
        room = self._rooms.get(room_id)
        member = room.state.get(("m.room.member", user_id)) if room is not None else None
        if member is not None and member.stream_ordering is not None:
            forgotten = self._recently_forgotten.setdefault(user_id, {})
            forgotten[room_id] = member.stream_ordering
            if len(forgotten) > RECENTLY_FORGOTTEN_KEPT:
                forgotten.pop(next(iter(forgotten)))

    def recently_forgotten(self, user_id: str) -> dict[str, int]:
        """room_id -> stream of the user's leave, for rooms they forgot since start-up."""
        return self._recently_forgotten.get(user_id, {})

    # --- creating events -----------------------------------------------------------
    async def create_room_event(
        self,
        *,
        version: RoomVersion,
        sender: str,
        content: dict[str, Any],
        room_id: str | None,
    ) -> Event:
        """Create and persist a room's m.room.create event, making a new room."""
        # In v12 the room ID is the create event's hash: two identical create events
        # (same creator and content in the same millisecond) would name one room, so
        # the timestamp moves on until the ID is new.
        while True:
            ts = max(self.clock.time_ms(), self._last_create_ts + 1)
            self._last_create_ts = ts  # claimed before any await, so concurrent creates differ
            try:
                event = build_event(
                    room_version=version,
                    room_id=None if version.hash_room_ids else room_id,
                    sender=sender,
                    event_type="m.room.create",
                    content=content,
                    state_key="",
                    prev_event_ids=[],
                    auth_event_ids=[],
                    depth=1,
                    origin_server_ts=ts,
                    server_name=self.server_name,
                    signing_key=self.signing_key,
                )
            except CanonicalJsonError as e:
                raise MatrixError("M_BAD_JSON", 400, f"Invalid m.room.create content: {e}") from None
            if event.room_id not in self._rooms and await self.room_store.get_room_version(event.room_id) is None:
                break
        try:
            check_auth_rules(event, {}, None)
        except AuthError as e:
            raise MatrixError("M_BAD_JSON", 400, f"Invalid m.room.create event: {e}") from None
        if event.room_id in self._rooms:
            raise MatrixError("M_UNKNOWN", 409, "Room already exists")
        group_id = self._allocate_state_group()
        event.stream_ordering = self._allocate_stream()
        room = RoomState(
            room_id=event.room_id,
            version=version,
            create_event=event,
            state={("m.room.create", ""): event},
            state_group=group_id,
            delta_depth=0,
            extremities=[],
            max_depth=1,
            latest_stream=event.stream_ordering,
            recent_floor=event.stream_ordering - 1,
        )
        room.set_extremities([event.event_id], event)
        room.add_recent(event)
        self._rooms[room.room_id] = room
        state_ids = {("m.room.create", ""): event.event_id}
        self.state_store.remember(group_id, state_ids)
        item = PersistEvent(
            event=event,
            state_group_before=None,
            state_group_after=group_id,
            new_state_group=NewStateGroup(group_id, room.room_id, None, 0, state_ids),
            forward_extremities=[event.event_id],
            current_state_updates=dict(state_ids),
            new_room_version=version,
        )
        await self._write(room, item)
        return event

    async def send(
        self,
        room_id: str,
        sender: str,
        event_type: str,
        content: dict[str, Any],
        state_key: str | None = None,
        *,
        txn: tuple[str, str, str] | None = None,
        redacts: str | None = None,
    ) -> Event:
        """Build, authorise and persist a local event; returns it once committed."""
        room = await self.require_room(room_id)
        for check in self._send_checks:
            check(room, sender, event_type, content, state_key)
        try:
            event, auth_events = self._build(room, sender, event_type, content, state_key, redacts)
        except CanonicalJsonError as e:
            # spec: rooms/fragments/v6-canonical-json.md — "/send/{eventType} ... would
            # return a M_BAD_JSON error" (v6+; earlier versions encode leniently).
            raise MatrixError("M_BAD_JSON", 400, f"Event is not valid canonical JSON: {e}") from None
        try:
            # A locally built event carries exactly this server's signature.
            check_auth_rules(
                event, auth_events, room.create_event,
                is_signed_by=lambda _ev, server: server == self.server_name,
            )
        except AuthError as e:
            raise forbidden(str(e)) from None
        item = self._apply(room, event)
        item.txn = txn
        if txn is not None:
            self._recent_txns[event.event_id] = txn
            if len(self._recent_txns) > RECENT_TXNS_KEPT:
                self._recent_txns.popitem(last=False)
        await self._write(room, item)
        if event.type == "m.room.redaction":
            await self._apply_redaction(room, event)
        return event

    def _build(
        self,
        room: RoomState,
        sender: str,
        event_type: str,
        content: dict[str, Any],
        state_key: str | None,
        redacts: str | None,
    ) -> tuple[Event, dict[StateKey, Event]]:
        version = room.version
        auth_events: dict[StateKey, Event] = {}
        for key in auth_types_for_event(version, event_type, state_key, sender, content):
            ev = room.state.get(key)
            if ev is not None:
                auth_events[key] = ev
        unsigned: dict[str, Any] | None = None
        if state_key is not None:
            previous = room.state.get((event_type, state_key))
            if previous is not None:
                unsigned = {
                    "replaces_state": previous.event_id,
                    "prev_content": previous.content,
                    "prev_sender": previous.sender,
                }
        event = build_event(
            room_version=version,
            room_id=room.room_id,
            sender=sender,
            event_type=event_type,
            content=content,
            state_key=state_key,
            prev_event_ids=room.extremities[-MAX_PREV_EVENTS:],
            auth_event_ids=[ev.event_id for ev in auth_events.values()],
            depth=room.max_depth + 1,
            origin_server_ts=self.clock.time_ms(),
            server_name=self.server_name,
            signing_key=self.signing_key,
            redacts=redacts,
            unsigned=unsigned,
            reference_hashes=room.reference_hashes(auth_events.values()),
        )
        return event, auth_events

    def _allocate_stream(self) -> int:
        s = self._next_stream
        self._next_stream += 1
        return s

    def _allocate_state_group(self) -> int:
        g = self._next_state_group
        self._next_state_group += 1
        return g

    # --- for federated ingestion (services/federation/) ---------------------------
    # Remote events change a room only through ``apply_remote`` and
    # ``persist_remote_join``; outliers take IDs from the allocators below.
    allocate_state_group = _allocate_state_group

    def allocate_backward_stream(self) -> int:
        """A position below every timeline event (outliers, backfilled history)."""
        s = self._next_backward_stream
        self._next_backward_stream -= 1
        return s

    def allocate_stream(self) -> int:
        """A timeline position for something outside the events table (an out-of-band
        membership); ``advance_persisted_stream`` once it is stored."""
        return self._allocate_stream()

    def advance_persisted_stream(self, stream: int) -> None:
        """``stream`` is committed elsewhere (out-of-band memberships): sync reads up to
        it and new positions go above it."""
        if stream > self.persisted_stream:
            self.persisted_stream = stream
        if stream >= self._next_stream:
            self._next_stream = stream + 1

    def apply_remote(
        self, room: RoomState, event: Event, resolved: ResolvedState | None = None
    ) -> PersistEvent:
        """Give an accepted remote event its stream position and fold it into ``room``
        (no await; see ``fold_event``); persist the result with ``write``/``write_many``.

        Without ``resolved`` the event extends the room's single forward extremity."""
        event.stream_ordering = self._allocate_stream()
        fold = fold_event(room, event, self._allocate_state_group, MAX_DELTA_DEPTH, resolved,
                          full_state_after=True)
        # The next remote event's state is read by group: keep the full states at hand.
        for group_id, state in fold.full_states:
            self.state_store.remember(group_id, state)
        return self._persist_item(room, event, fold)

    async def persist_remote_join(
        self,
        version: RoomVersion,
        create: Event,
        state: dict[StateKey, Event],
        join: Event,
        previous: RoomState | None,
    ) -> RoomState:
        """A local user's join to a room held by another server (spec: "Joining Rooms"):
        the room's current state becomes ``state`` (from send_join) plus the join, and
        the room is live here; ``previous`` is what we held of it before, if anything."""
        room_id = join.room_id
        join.stream_ordering = self._allocate_stream()
        before_id = self._allocate_state_group()
        after_id = self._allocate_state_group()
        state_ids: dict[StateKey, str] = {k: ev.event_id for k, ev in state.items()}
        key = join.state_tuple
        state_after = {**state_ids, key: join.event_id}
        self.state_store.remember(before_id, state_ids)
        self.state_store.remember(after_id, state_after)
        all_state: dict[StateKey, Event] = {**state, key: join}
        room = RoomState(
            room_id=room_id, version=version, create_event=create, state=all_state,
            state_group=after_id, delta_depth=1, extremities=[],
            max_depth=max(join.depth, previous.max_depth if previous is not None else 0),
            latest_stream=join.stream_ordering, recent_floor=join.stream_ordering - 1,
        )
        room.set_extremities([join.event_id], join)
        room.add_recent(join)
        memberships = [
            (k[1], ev.membership, ev.event_id)
            for k, ev in all_state.items()
            if k[0] == "m.room.member" and ev.membership is not None
        ]
        for user_id, membership, _ in memberships:
            self._note_membership(room_id, user_id, membership)
        item = PersistEvent(
            event=join, state_group_before=before_id, state_group_after=after_id,
            new_state_group=NewStateGroup(after_id, room_id, before_id, 1, {key: join.event_id}),
            extra_state_groups=[NewStateGroup(before_id, room_id, None, 0, state_ids)],
            forward_extremities=[join.event_id], current_state_updates=state_after,
            replace_current_state=True, membership_updates=memberships, replaces_outlier=True,
        )
        self._rooms[room_id] = room
        await self._write(room, item)
        return room

    def _note_membership(self, room_id: str, user_id: str, membership: str) -> None:
        rooms = self._user_rooms.get(user_id)
        if rooms is not None:
            rooms[room_id] = membership

    async def write(self, room: RoomState, item: PersistEvent) -> None:
        """Persist an item applied to ``room`` and run the post-commit hooks."""
        await self._write(room, item)

    async def write_many(self, room: RoomState, items: list[PersistEvent]) -> None:
        """Persist items applied to ``room`` (in stream order) in one write, then run
        each one's post-commit hooks in order (a /send transaction's PDUs of a room)."""
        if items:
            await self._write(room, *items)

    async def apply_redaction(self, room: RoomState, redaction: Event) -> None:
        """Redact the target of an accepted redaction (the caller checked it may)."""
        await self._apply_redaction(room, redaction)

    async def redact_if_allowed(self, room: RoomState, redaction: Event) -> None:
        """Apply an accepted redaction from another server when its sender may.

        spec: rooms/fragments/v3-handling-redactions.md — when the redaction's sender
        has the redact power level, or is on the target's sender's server.
        """
        if redaction.rejected_reason is not None:
            return
        target_id = redaction.redacts
        target = await self.store.get_event(target_id) if target_id else None
        if target is None or target.room_id != room.room_id:
            return
        power_levels = room.state.get(("m.room.power_levels", ""))
        content = power_levels.content if power_levels is not None else None
        level = user_power_level(redaction.sender, content, room.create_event, room.version)
        redact_level = content.get("redact", 50) if isinstance(content, dict) else 50
        if target.origin == redaction.origin or level >= redact_level:
            await self._apply_redaction(room, redaction)

    async def write_quietly(self, items: list[PersistEvent]) -> None:
        """Persist events without hooks or notification (outliers, backfilled history)."""
        if items:
            await self.store.persist(items)

    def _apply(self, room: RoomState, event: Event) -> PersistEvent:
        """Give a local event its stream position and fold it into the room's current state."""
        event.stream_ordering = self._allocate_stream()
        fold = fold_event(room, event, self._allocate_state_group, MAX_DELTA_DEPTH)
        return self._persist_item(room, event, fold)

    def _persist_item(self, room: RoomState, event: Event, fold: Fold) -> PersistEvent:
        """The write for a folded event; the membership cache follows the fold."""
        new_group = fold.new_state_group
        if new_group is None and not fold.current_state_updates and not fold.extra_state_groups:
            # The current state did not change (a message event): the common case, kept short.
            return PersistEvent(
                event, fold.state_group_before, fold.state_group_after, None,
                fold.forward_extremities, fold.current_state_updates, fold.membership_updates,
            )
        room_id = room.room_id
        for user_id, membership, _ in fold.membership_updates:
            self._note_membership(room_id, user_id, membership)
        return PersistEvent(
            event=event,
            state_group_before=fold.state_group_before,
            state_group_after=fold.state_group_after,
            new_state_group=stored_group(room_id, new_group) if new_group is not None else None,
            forward_extremities=fold.forward_extremities,
            current_state_updates=fold.current_state_updates,
            membership_updates=fold.membership_updates,
            replace_current_state=fold.replace_current_state,
            extra_state_groups=[stored_group(room_id, g) for g in fold.extra_state_groups],
        )

    async def _write(self, room: RoomState, item: PersistEvent, *more: PersistEvent) -> None:
        try:
            await self.store.persist([item, *more])
        except Exception:
            # The in-memory room moved ahead of the database: drop it so the next
            # use reloads the truth from storage.
            logger.exception("persisting %s in %s failed", item.event.event_id, room.room_id)
            self._rooms.pop(room.room_id, None)
            self._user_rooms.clear()
            raise
        for written in (item, *more):
            stream = written.event.stream_ordering
            assert stream is not None
            if stream > self.persisted_stream:
                self.persisted_stream = stream
            for listener in self._persist_listeners:
                try:
                    listener(room, written.event)
                except Exception:
                    logger.exception("persist listener %r failed on %s", listener, written.event.event_id)
            self.notifier.on_room_event(room, written.event)

    # --- redactions ------------------------------------------------------------------
    async def _apply_redaction(self, room: RoomState, redaction: Event) -> None:
        target_id = redaction.redacts
        if not target_id:
            return
        target = await self.store.get_event(target_id)
        if target is None or target.room_id != room.room_id:
            return
        # spec: rooms fragments v3-handling-redactions — only redact when the
        # redaction's sender may: same sender domain (checked by caller for locals)
        # or sufficient power.
        redacted = redact_pdu(target.pdu, room.version)
        redacted.setdefault("unsigned", {})["redacted_because"] = client_event(redaction)
        await self.store.mark_redacted(target_id, redacted, redaction.event_id)
        new_event = Event(target_id, redacted, room.version, target.rejected_reason, target.stream_ordering)
        for i, ev in enumerate(room.recent):
            if ev.event_id == target_id:
                room.recent[i] = new_event
        for key, ev in list(room.state.items()):
            if ev.event_id == target_id:
                room.state[key] = new_event

    # --- reads ---------------------------------------------------------------------
    async def transaction_ids_for(
        self, events: list[Event], user_id: str, device_id: str
    ) -> dict[str, str]:
        """event_id -> txn_id for the events this device sent (spec: unsigned.transaction_id)."""
        own = [e.event_id for e in events if e.pdu.get("sender") == user_id]
        if not own:
            return {}
        found: dict[str, tuple[str, str, str]] = {}
        missing = []
        for eid in own:
            txn = self._recent_txns.get(eid)
            if txn is not None:
                found[eid] = txn
            else:
                missing.append(eid)
        if missing:
            found.update(await self.store.get_txn_ids(missing))
        return {eid: t[2] for eid, t in found.items() if t[0] == user_id and t[1] == device_id}

    async def get_event(self, event_id: str) -> Event | None:
        return await self.store.get_event(event_id)

    async def state_at_group(self, group_id: int | None) -> dict[StateKey, str]:
        if group_id is None:
            return {}
        return await self.state_store.get_state_ids(group_id)

    async def state_before_event(self, event_id: str) -> dict[StateKey, str]:
        groups = await self.store.get_state_groups_of(event_id)
        if groups is None:
            return {}
        return await self.state_at_group(groups[0])

    async def state_after_event(self, event_id: str) -> dict[StateKey, str]:
        groups = await self.store.get_state_groups_of(event_id)
        if groups is None:
            return {}
        return await self.state_at_group(groups[1])


def stored_group(room_id: str, group: StateGroupDelta) -> NewStateGroup:
    """A folded state group as storage writes it."""
    return NewStateGroup(group.group_id, room_id, group.prev_group, group.delta_depth, group.entries)
