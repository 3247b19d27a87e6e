"""Room moderation by server admins: bans, temporary kicks, blocked rooms, knocks.

Admins act in a room through a *local* member with enough power (the room's
own moderators, e.g. the server-notices system user in rooms it owns), so every
action is an ordinary, authorised room event. Temporary kicks are bans with an
expiry kept in the database; one owned task sleeps until the earliest expiry
(woken early when a sooner one is added) and unbans when due. Pending expiries
are reloaded at start, and any that passed while the server was down are
lifted straight away.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any

from federation.rooms.power_levels import ban_level, invite_level, user_power_level
from homeserver.clock import Clock
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.graph.events import EventService
from homeserver.storage.accounts import AccountStore
from homeserver.storage.admin import AdminStore, TemporaryBan

logger = logging.getLogger(__name__)

# Memberships that blocked rooms refuse for local users.
ENTERING_MEMBERSHIPS = ("join", "invite", "knock")
# Longer than this is a permanent ban in all but name (and keeps timestamps in SQLite's range).
MAX_TEMPORARY_BAN_MS = 10 * 365 * 86_400_000


class ModerationService:
    def __init__(
        self,
        store: AdminStore,
        events: EventService,
        account_store: AccountStore,
        clock: Clock,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.events = events
        self.account_store = account_store
        self.clock = clock
        self.is_mine = is_mine
        self.blocked: dict[str, str] = {}  # room_id -> admin who blocked it
        self._temporary: dict[tuple[str, str], TemporaryBan] = {}
        self._wakeup = asyncio.Event()
        self._expiry_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.blocked = await self.store.blocked_rooms()
        self._temporary = {(b.room_id, b.user_id): b for b in await self.store.temporary_bans()}
        self._expiry_task = asyncio.create_task(self._lift_expired_bans(), name="temporary-ban-expiry")

    async def stop(self) -> None:
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            try:
                await self._expiry_task
            except asyncio.CancelledError:
                pass
            self._expiry_task = None

    def forget_room(self, room_id: str) -> None:
        """Drop the in-memory temporary bans of a purged room (their rows went with it)."""
        for key in [k for k in self._temporary if k[0] == room_id]:
            self._temporary.pop(key, None)

    # --- blocked rooms -----------------------------------------------------------------
    def check_blocked_room(
        self, room: RoomState, sender: str, event_type: str, content: dict[str, Any], state_key: str | None
    ) -> None:
        """Send check: local users may not join, be invited to or knock on a blocked room."""
        if room.room_id not in self.blocked or event_type != "m.room.member" or state_key is None:
            return
        if content.get("membership") in ENTERING_MEMBERSHIPS and self.is_mine(state_key):
            raise forbidden("This room has been blocked on this server")

    def check_blocked_join(self, room_id: str, user_id: str) -> None:
        """For join paths that do not go through ``EventService.send`` (joins over federation)."""
        if room_id in self.blocked and self.is_mine(user_id):
            raise forbidden("This room has been blocked on this server")

    async def set_blocked(self, room_id: str, blocked: bool, admin: str) -> None:
        if blocked:
            await self.store.block_room(room_id, admin, self.clock.time_ms())
            self.blocked[room_id] = admin
        else:
            await self.store.unblock_room(room_id)
            self.blocked.pop(room_id, None)

    # --- acting in a room --------------------------------------------------------------
    def moderator_for(self, room: RoomState, needed: int, target: str | None = None) -> str:
        """The most powerful local member with at least ``needed`` power (and more than the target)."""
        power = room.state_content("m.room.power_levels") or None
        target_level = (
            user_power_level(target, power, room.create_event, room.version) if target is not None else -math.inf
        )
        best: tuple[float, str] | None = None
        for user_id in room.members_with("join"):
            if not self.is_mine(user_id) or user_id == target:
                continue
            level = user_power_level(user_id, power, room.create_event, room.version)
            if level >= needed and level > target_level and (best is None or level > best[0]):
                best = (level, user_id)
        if best is None:
            raise forbidden("No local member of this room has enough power to do that")
        return best[1]

    async def _member_event(self, room: RoomState, sender: str, target: str, membership: str,
                            reason: str | None) -> str:
        content: dict[str, Any] = {"membership": membership}
        if reason:
            content["reason"] = reason
        event = await self.events.send(room.room_id, sender, "m.room.member", content, target)
        return event.event_id

    async def ban(self, room_id: str, target: str, reason: str | None) -> str:
        await self._require_user(target)
        room = await self.events.require_room(room_id)
        power = room.state_content("m.room.power_levels") or None
        moderator = self.moderator_for(room, ban_level(power), target)
        return await self._member_event(room, moderator, target, "ban", reason)

    async def unban(self, room_id: str, target: str, reason: str | None = None) -> str | None:
        """Lift a ban (and any temporary ban); None if the user was not banned."""
        key = (room_id, target)
        if self._temporary.pop(key, None) is not None:
            await self.store.delete_temporary_ban(room_id, target)
        room = await self.events.require_room(room_id)
        if room.membership(target) != "ban":
            return None
        power = room.state_content("m.room.power_levels") or None
        moderator = self.moderator_for(room, ban_level(power))
        return await self._member_event(room, moderator, target, "leave", reason)

    # --- temporary kicks ---------------------------------------------------------------
    async def _require_user(self, user_id: str) -> None:
        """A local user must exist (remote users may be banned before they ever come)."""
        if self.is_mine(user_id) and await self.account_store.get_user(user_id) is None:
            raise not_found(f"No such user: {user_id}")

    async def temporary_ban(self, room_id: str, target: str, duration_ms: int, reason: str | None) -> TemporaryBan:
        if not 0 < duration_ms <= MAX_TEMPORARY_BAN_MS:
            raise MatrixError("M_INVALID_PARAM", 400, "duration must be positive and at most 10 years")
        await self.ban(room_id, target, reason)
        room = await self.events.require_room(room_id)
        banned_by = room.state[("m.room.member", target)].sender
        ban = TemporaryBan(room_id, target, banned_by, reason, self.clock.time_ms() + duration_ms)
        await self.store.put_temporary_ban(ban)
        self._temporary[(room_id, target)] = ban
        self._wakeup.set()
        logger.info("temporary ban of %s in %s until %d", target, room_id, ban.expires_ts)
        return ban

    def temporary_bans(self, room_id: str | None = None) -> list[TemporaryBan]:
        bans = [b for b in self._temporary.values() if room_id is None or b.room_id == room_id]
        return sorted(bans, key=lambda b: b.expires_ts)

    async def _lift_expired_bans(self) -> None:
        while True:
            self._wakeup.clear()
            now = self.clock.time_ms()
            for ban in [b for b in self._temporary.values() if b.expires_ts <= now]:
                if self._temporary.get((ban.room_id, ban.user_id)) is not ban:
                    continue  # replaced or lifted meanwhile
                try:
                    await self.unban(ban.room_id, ban.user_id, "Temporary ban expired")
                    logger.info("temporary ban of %s in %s expired", ban.user_id, ban.room_id)
                except Exception:
                    # E.g. nobody left who may unban: drop it rather than retry forever.
                    logger.exception("could not lift temporary ban of %s in %s", ban.user_id, ban.room_id)
                    self._temporary.pop((ban.room_id, ban.user_id), None)
                    await self.store.delete_temporary_ban(ban.room_id, ban.user_id)
            pending = [b.expires_ts for b in self._temporary.values()]
            timeout = None if not pending else max(0.0, (min(pending) - self.clock.time_ms()) / 1000)
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                pass

    # --- knocks ------------------------------------------------------------------------
    async def pending_knocks(self, room_id: str) -> list[dict[str, Any]]:
        room = await self.events.require_room(room_id)
        knocks = []
        for user_id in room.members_with("knock"):
            event = room.state[("m.room.member", user_id)]
            knocks.append({
                "user_id": user_id, "event_id": event.event_id,
                "origin_server_ts": event.origin_server_ts, "reason": event.content.get("reason"),
            })
        return sorted(knocks, key=lambda k: k["origin_server_ts"])

    async def accept_knock(self, room_id: str, user_id: str) -> str:
        """Accept a knock by inviting the knocker (spec: "Knocking on rooms")."""
        room = await self.events.require_room(room_id)
        if room.membership(user_id) != "knock":
            raise not_found("That user has no pending knock on this room")
        power = room.state_content("m.room.power_levels") or None
        inviter = self.moderator_for(room, invite_level(power))
        return await self._member_event(room, inviter, user_id, "invite", None)
