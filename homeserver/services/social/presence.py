"""Presence: online / unavailable / offline, status messages and last activity.

spec: client-server-api/modules/presence.md. Presence is the classic CPU and
I/O sink, so:
- the current state of every local user lives in memory; a sync that changes
  nothing costs a dict update and no write;
- changes are written in batches by one owned background task, which also
  moves idle users to ``unavailable`` and silent ones to ``offline`` on a
  coarse interval — and sleeps without a timeout while nobody is online;
- each change takes the next ``presence`` stream position and wakes only the
  users who share a room with the changed user.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeserver.clock import Clock
from homeserver.core.sync_source import SyncContext, SyncContribution
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.graph.events import EventService
from homeserver.services.graph.notifier import Notifier
from homeserver.storage.accounts import AccountStore
from homeserver.storage.presence import PresenceRecord, PresenceStore

logger = logging.getLogger(__name__)

ONLINE, UNAVAILABLE, OFFLINE = "online", "unavailable", "offline"
STATES = (ONLINE, UNAVAILABLE, OFFLINE)
MAX_STATUS_MSG = 1024
CHANGES_KEPT = 10_000
FLUSH_RETRY_S = 5.0


@dataclass(slots=True)
class _Presence:
    record: PresenceRecord
    last_sync_ts: int = 0
    # Set through PUT /presence: a sync's implicit "online" does not override it.
    explicit: bool = False


_UNCHANGED: Any = object()


class PresenceService:
    stream = "presence"

    def __init__(
        self,
        store: PresenceStore,
        account_store: AccountStore,
        events: EventService,
        notifier: Notifier,
        clock: Clock,
        is_mine: Callable[[str], bool],
        *,
        idle_after_ms: int = 5 * 60_000,
        offline_after_ms: int = 15 * 60_000,
        check_interval_s: float = 30.0,
        flush_delay_s: float = 0.5,
    ) -> None:
        self.store = store
        self.account_store = account_store
        self.events = events
        self.notifier = notifier
        self.clock = clock
        self.is_mine = is_mine
        self.idle_after_ms = idle_after_ms
        self.offline_after_ms = offline_after_ms
        self.check_interval_s = check_interval_s
        self.flush_delay_s = flush_delay_s
        self._users: dict[str, _Presence] = {}
        self._position = 0
        # (position, user_id) of recent changes, so an incremental sync reads only those.
        self._changes: deque[tuple[int, str]] = deque(maxlen=CHANGES_KEPT)
        self._active: set[str] = set()  # users not offline: the sweep watches them
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_sweep = 0.0
        self._flush_at = 0.0
        # (user_id, presence content) after every change, e.g. for federation's m.presence.
        self._change_listeners: list[Callable[[str, dict[str, Any]], None]] = []

    def add_change_listener(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        self._change_listeners.append(listener)

    # --- lifecycle ---------------------------------------------------------------
    async def load(self) -> None:
        for record in await self.store.load_all():
            self._users[record.user_id] = _Presence(record, last_sync_ts=record.last_active_ts)
            self._position = max(self._position, record.stream_id)
            if record.state != OFFLINE:
                self._active.add(record.user_id)
        self._next_sweep = self.clock.monotonic() + self.check_interval_s
        self._task = asyncio.create_task(self._run(), name="presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self._flush()

    def set_timeouts(self, *, idle_after_ms: int, offline_after_ms: int, check_interval_s: float) -> None:
        """Change the idle/offline thresholds and the sweep interval (takes effect at once)."""
        self.idle_after_ms = idle_after_ms
        self.offline_after_ms = offline_after_ms
        self.check_interval_s = check_interval_s
        self._next_sweep = self.clock.monotonic() + check_interval_s
        self._wake.set()

    def current_position(self) -> int:
        return self._position

    # --- reading -----------------------------------------------------------------
    def _content(self, p: _Presence, now: int) -> dict[str, Any]:
        r = p.record
        content: dict[str, Any] = {
            "presence": r.state,
            "last_active_ago": max(0, now - r.last_active_ts),
            "currently_active": r.currently_active,
        }
        if r.status_msg is not None:
            content["status_msg"] = r.status_msg
        return content

    def users_not_offline(self) -> list[str]:
        """Local and remote users currently online or unavailable."""
        return list(self._active)

    def presence_of(self, user_id: str) -> dict[str, Any] | None:
        """The user's current presence content, or None if we never heard of them."""
        p = self._users.get(user_id)
        return None if p is None else self._content(p, self.clock.time_ms())

    async def get_presence(self, requester: str, user_id: str) -> dict[str, Any]:
        if user_id != requester:
            if not self.is_mine(user_id) or await self.account_store.get_user(user_id) is None:
                raise not_found("Unknown user")
            if not await self._share_room(requester, user_id):
                raise forbidden("You are not allowed to see their presence")
        p = self._users.get(user_id)
        if p is None:
            return {"presence": OFFLINE}
        return self._content(p, self.clock.time_ms())

    async def _share_room(self, a: str, b: str) -> bool:
        rooms_a = {r for r, m in (await self.events.rooms_for_user(a)).items() if m == "join"}
        rooms_b = await self.events.rooms_for_user(b)
        return any(m == "join" and r in rooms_a for r, m in rooms_b.items())

    async def _interested(self, user_id: str) -> set[str]:
        users = {user_id}
        for room_id, membership in (await self.events.rooms_for_user(user_id)).items():
            if membership != "join":
                continue
            room = self.events.cached_room(room_id) or await self.events.get_room(room_id)
            if room is not None:
                users.update(room.members_with("join"))
        return users

    # --- changing --------------------------------------------------------------------
    async def set_presence(self, user_id: str, state: str, status_msg: Any = _UNCHANGED) -> None:
        """PUT /presence/{userId}/status."""
        if state not in STATES:
            raise MatrixError("M_INVALID_PARAM", 400, "presence must be online, unavailable or offline")
        if status_msg is not _UNCHANGED and status_msg is not None:
            if not isinstance(status_msg, str) or len(status_msg) > MAX_STATUS_MSG:
                raise MatrixError("M_INVALID_PARAM", 400, "status_msg must be a short string")
        await self._apply(user_id, state, status_msg, explicit=True)

    async def on_sync(self, user_id: str, set_presence: str) -> None:
        """Called by /sync; ``set_presence`` is the query parameter (default online)."""
        now = self.clock.time_ms()
        p = self._users.get(user_id)
        if p is not None:
            p.last_sync_ts = now
        if set_presence == OFFLINE:
            return  # spec: the client is not marked online by this sync
        state = p.record.state if p is not None else OFFLINE
        if set_presence == ONLINE:
            if state == ONLINE:
                p.record.last_active_ts = now  # type: ignore[union-attr]  # memory only
                return
            if state == UNAVAILABLE and p is not None and p.explicit:
                return
            await self._apply(user_id, ONLINE, _UNCHANGED, explicit=False)
        elif set_presence == UNAVAILABLE and state != UNAVAILABLE:
            await self._apply(user_id, UNAVAILABLE, _UNCHANGED, explicit=False)
        p = self._users.get(user_id)
        if p is not None:
            p.last_sync_ts = now

    async def _apply(self, user_id: str, state: str, status_msg: Any, *, explicit: bool) -> None:
        now = self.clock.time_ms()
        p = self._users.get(user_id)
        if p is None:
            p = self._users[user_id] = _Presence(
                PresenceRecord(user_id, OFFLINE, None, now, False, 0), last_sync_ts=now
            )
        p.explicit = explicit
        if self._change(p, state, p.record.status_msg if status_msg is _UNCHANGED else status_msg, now):
            await self._notify(user_id)

    def _change(self, p: _Presence, state: str, status_msg: str | None, now: int) -> bool:
        """Update one user's record in memory; True if others should hear of it."""
        r = p.record
        if state == ONLINE:
            r.last_active_ts = now
        currently_active = state == ONLINE
        if (r.state, r.status_msg, r.currently_active) == (state, status_msg, currently_active) and r.stream_id:
            return False
        r.state, r.status_msg, r.currently_active = state, status_msg, currently_active
        self._position += 1
        r.stream_id = self._position
        self._changes.append((self._position, r.user_id))
        if state == OFFLINE:
            self._active.discard(r.user_id)
        else:
            self._active.add(r.user_id)
        if not self._dirty:
            self._flush_at = self.clock.monotonic() + self.flush_delay_s
        self._dirty.add(r.user_id)
        self._wake.set()
        for listener in self._change_listeners:
            try:
                listener(r.user_id, self._content(p, now))
            except Exception:
                logger.exception("presence listener failed for %s", r.user_id)
        return True

    async def receive_remote(
        self, user_id: str, state: str, status_msg: str | None, last_active_ago: int, currently_active: bool
    ) -> None:
        """A remote user's presence from an m.presence EDU (the caller checked the origin)."""
        if state not in STATES:
            return
        now = self.clock.time_ms()
        p = self._users.get(user_id)
        if p is None:
            p = self._users[user_id] = _Presence(PresenceRecord(user_id, OFFLINE, None, now, False, 0))
        p.last_sync_ts = now  # heard of them now: the sweep counts silence from here
        changed = self._change(p, state, status_msg, now)
        p.record.last_active_ts = now - max(0, last_active_ago)
        p.record.currently_active = currently_active
        if changed:
            await self._notify(user_id)

    async def _notify(self, user_id: str) -> None:
        self.notifier.notify_users(await self._interested(user_id))

    # --- background: batched writes and idle sweeps ---------------------------------------
    async def _run(self) -> None:
        clock = self.clock
        while True:
            self._wake.clear()
            deadlines = []
            if self._dirty:
                deadlines.append(self._flush_at)  # a short delay lets changes share one write
            if self._active:
                deadlines.append(self._next_sweep)
            timeout = max(0.0, min(deadlines) - clock.monotonic()) if deadlines else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
            now = clock.monotonic()
            if self._dirty and now >= self._flush_at:
                await self._flush()
            if self._active and now >= self._next_sweep:
                await self._sweep()
                self._next_sweep = clock.monotonic() + self.check_interval_s

    async def _sweep(self) -> None:
        now = self.clock.time_ms()
        changed = []
        for user_id in list(self._active):
            if not self.is_mine(user_id):
                continue  # remote users' servers report their changes (federation times them out)
            p = self._users[user_id]
            r = p.record
            if now - max(p.last_sync_ts, r.last_active_ts) >= self.offline_after_ms:
                p.explicit = False
                if self._change(p, OFFLINE, r.status_msg, now):
                    changed.append(user_id)
            elif r.state == ONLINE and now - r.last_active_ts >= self.idle_after_ms:
                p.explicit = False
                if self._change(p, UNAVAILABLE, r.status_msg, now):
                    changed.append(user_id)
        for user_id in changed:
            try:
                await self._notify(user_id)
            except Exception:
                logger.exception("waking room-mates of %s after a presence change failed", user_id)

    async def _flush(self) -> None:
        if not self._dirty:
            return
        users, self._dirty = self._dirty, set()
        records = [self._users[u].record for u in users]
        try:
            await self.store.save(
                [PresenceRecord(r.user_id, r.state, r.status_msg, r.last_active_ts, r.currently_active,
                                r.stream_id) for r in records]
            )
        except Exception:
            logger.exception("saving presence of %d users failed; will retry", len(users))
            self._dirty |= users
            self._flush_at = self.clock.monotonic() + FLUSH_RETRY_S

    # --- sync ---------------------------------------------------------------------------
    async def contribute(self, ctx: SyncContext) -> SyncContribution:
        out = SyncContribution()
        me = ctx.requester.user_id
        presence_filter = ctx.filter.presence
        joined = set(ctx.joined_room_ids)
        wanted: set[str] = set()
        events = self.events
        if ctx.since is None:
            wanted.add(me)
            for room_id in ctx.joined_room_ids:
                room = events.cached_room(room_id)
                if room is not None:
                    wanted.update(room.members_with("join"))
        else:
            since = ctx.since.presence
            if since < self._position:
                if self._changes and self._changes[0][0] <= since + 1:
                    changed = {u for pos, u in self._changes if pos > since}
                else:
                    changed = {u for u, p in self._users.items() if p.record.stream_id > since}
                for user_id in changed:
                    if user_id == me:
                        wanted.add(user_id)
                        continue
                    rooms = await events.rooms_for_user(user_id)
                    if any(m == "join" and r in joined for r, m in rooms.items()):
                        wanted.add(user_id)
            # Members we newly share a room with: everyone in a room we joined,
            # and whoever joined one of our rooms since the last sync.
            for room_id in ctx.joined_room_ids:
                room = events.cached_room(room_id)
                if room is None:
                    continue
                if room_id in ctx.newly_joined_room_ids:
                    wanted.update(room.members_with("join"))
                elif room.latest_stream > ctx.since.events:
                    recent = room.recent_since(ctx.since.events, ctx.upto.events) or []
                    for ev in recent:
                        if ev.type == "m.room.member" and ev.membership == "join" and ev.state_key:
                            wanted.add(ev.state_key)
        now = self.clock.time_ms()
        presence_events = []
        for user_id in sorted(wanted):
            p = self._users.get(user_id)
            if p is None or not presence_filter.allows_type_and_sender("m.presence", user_id):
                continue
            presence_events.append({"type": "m.presence", "sender": user_id, "content": self._content(p, now)})
        if presence_events:
            out.top_level["presence"] = {"events": presence_events}
        return out

