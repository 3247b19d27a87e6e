"""Device list changes for /sync's ``device_lists`` (spec: "Tracking the device list for a user").

``changed`` lists users sharing a room with the requester whose devices (or
keys) changed since the token, and users the requester newly shares a room
with; ``left`` lists users the requester no longer shares any room with.
"""

from __future__ import annotations

from collections.abc import Callable

from federation.rooms.events import Event
from homeserver.core.sync_source import SyncContext, SyncContribution
from homeserver.services.e2ee.key_counts import SyncKeyCounts
from homeserver.services.graph.events import EventService
from homeserver.services.graph.notifier import Notifier
from homeserver.storage.device_lists import DeviceListStore
from homeserver.storage.events import EventStore

MEMBERSHIP_SCAN_LIMIT = 1000


class DeviceListService:
    stream = "device_lists"

    def __init__(
        self,
        store: DeviceListStore,
        key_counts: SyncKeyCounts,
        events: EventService,
        event_store: EventStore,
        notifier: Notifier,
    ) -> None:
        self.store = store
        self.key_counts = key_counts
        self.events = events
        self.event_store = event_store
        self.notifier = notifier
        # Called with the user ID after each recorded change, e.g. for federation's
        # m.device_list_update.
        self._change_listeners: list[Callable[[str], None]] = []

    def add_change_listener(self, listener: Callable[[str], None]) -> None:
        self._change_listeners.append(listener)

    async def load(self) -> None:
        await self.store.load()

    def current_position(self) -> int:
        return self.store.stream.current

    async def record_device_change(self, user_id: str) -> None:
        """A user's devices or device keys changed: tell them and everyone sharing a room."""
        await self.store.record_change(user_id)
        users = {user_id}
        for room_id, membership in (await self.events.rooms_for_user(user_id)).items():
            if membership != "join":
                continue
            room = self.events.cached_room(room_id) or await self.events.get_room(room_id)
            if room is not None:
                users.update(room.members_with("join"))
        self.notifier.notify_users(users)
        for listener in self._change_listeners:
            listener(user_id)

    async def _member_events_since(self, room_id: str, after: int, upto: int) -> list[Event]:
        room = self.events.cached_room(room_id)
        if room is not None and room.latest_stream <= after:
            return []
        recent = room.recent_since(after, upto) if room is not None else None
        if recent is None:
            recent = await self.event_store.get_room_events(
                room_id, after=after, before=upto + 1, limit=MEMBERSHIP_SCAN_LIMIT, newest_first=False
            )
        return [e for e in recent if e.type == "m.room.member" and e.state_key]

    async def contribute(self, ctx: SyncContext) -> SyncContribution:
        out = SyncContribution()
        # spec: "Extensions to /sync" — one-time key counts and unused fallback key types, every sync.
        out.always.update(await self.key_counts.sync_summary(ctx.requester.user_id, ctx.requester.device_id))
        if ctx.since is None:
            return out  # spec: device_lists only on incremental sync
        me = ctx.requester.user_id
        events = self.events
        changed: set[str] = set()
        left: set[str] = set()
        sharing: set[str] | None = None

        async def shared_users() -> set[str]:
            nonlocal sharing
            if sharing is None:
                sharing = set()
                for room_id in ctx.joined_room_ids:
                    room = events.cached_room(room_id) or await events.get_room(room_id)
                    if room is not None:
                        sharing.update(room.members_with("join"))
            return sharing

        if ctx.upto.device_lists > ctx.since.device_lists:
            users = await self.store.users_changed(ctx.since.device_lists, ctx.upto.device_lists)
            if users:
                shared = await shared_users()
                changed.update(u for u in users if u in shared or u == me)

        since_events, upto_events = ctx.since.events, ctx.upto.events
        for room_id in ctx.joined_room_ids:
            room = events.cached_room(room_id)
            if room_id in ctx.newly_joined_room_ids and room is not None:
                changed.update(u for u in room.members_with("join") if u != me)
                continue
            for ev in await self._member_events_since(room_id, since_events, upto_events):
                if ev.state_key == me:
                    continue
                if ev.membership == "join":
                    changed.add(ev.state_key)  # type: ignore[arg-type]
                elif ev.membership in ("leave", "ban"):
                    if ev.state_key not in await shared_users():
                        left.add(ev.state_key)  # type: ignore[arg-type]
        # Rooms we left since the token: their members we no longer share a room with.
        for room_id, membership in (await events.rooms_for_user(me)).items():
            if membership not in ("leave", "ban"):
                continue
            room = events.cached_room(room_id) or await events.get_room(room_id)
            if room is None:
                continue
            own = room.state.get(("m.room.member", me))
            if own is None or not (since_events < (own.stream_ordering or 0) <= upto_events):
                continue
            shared = await shared_users()
            left.update(u for u in room.members_with("join") if u not in shared)
        changed -= left
        if changed or left:
            out.top_level["device_lists"] = {"changed": sorted(changed), "left": sorted(left)}
        return out
