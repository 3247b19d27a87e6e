"""Room upgrades: replace a room by a new one of another room version.

spec: client-server-api/modules/room_upgrades.md, "Server behaviour", and
data/api/client-server/room_upgrades.yaml (POST /rooms/{roomId}/upgrade).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
from collections.abc import Callable
from typing import Any

from federation.rooms.power_levels import (
    integer_power_levels,
    required_power_level,
    room_creators,
    user_power_level,
)
from federation.rooms.versions import KNOWN_ROOM_VERSIONS, RoomVersion
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError, forbidden
from homeserver.services.graph.events import EventService
from homeserver.services.push.settings import PushSettingsService
from homeserver.services.rooms.carry_over import SettingsCarryOver
from homeserver.services.rooms.rooms import RoomService, default_power_levels
from homeserver.storage.rooms import RoomStore
from schemas.identifiers import is_valid_user_id

logger = logging.getLogger(__name__)

# spec: "Replicates transferable state events" — the recommended list (power levels are
# handled apart, since the upgrading user may need more power while the room is built).
TRANSFERRED_STATE_TYPES = (
    "m.room.server_acl",
    "m.room.encryption",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.guest_access",
    "m.room.history_visibility",
    "m.room.join_rules",
)
# Keys of the old m.room.create content that describe the room rather than its version.
COPIED_CREATION_KEYS = ("type", "m.federate")


def validate_upgrade_body(body: dict[str, Any]) -> tuple[RoomVersion, list[str]]:
    """The target room version and the requested additional creators (400 on bad input)."""
    if "new_version" not in body:
        raise MatrixError("M_MISSING_PARAM", 400, "new_version is required")
    new_version = body["new_version"]
    if not isinstance(new_version, str):
        raise MatrixError("M_BAD_JSON", 400, "new_version must be a string")
    version = KNOWN_ROOM_VERSIONS.get(new_version)
    if version is None:
        raise MatrixError("M_UNSUPPORTED_ROOM_VERSION", 400, f"Unsupported room version {new_version!r}")
    additional = body.get("additional_creators", [])
    if not isinstance(additional, list) or not all(isinstance(u, str) for u in additional):
        raise MatrixError("M_BAD_JSON", 400, "additional_creators must be an array of user IDs")
    for user_id in additional:
        if not is_valid_user_id(user_id):
            raise MatrixError("M_INVALID_PARAM", 400, f"Invalid user ID {user_id!r} in additional_creators")
    # "When upgrading to a room version which doesn't support additional creators, this field is ignored."
    return version, list(dict.fromkeys(additional)) if version.privileged_creators else []


class RoomUpgradeService:
    def __init__(
        self,
        *,
        events: EventService,
        room_store: RoomStore,
        rooms: RoomService,
        push_settings: PushSettingsService,
        carry_over: SettingsCarryOver,
        server_name: str,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.events = events
        self.room_store = room_store
        self.rooms = rooms
        self.push_settings = push_settings
        self.carry_over = carry_over
        self.server_name = server_name
        self.is_mine = is_mine
        self._locks: dict[str, asyncio.Lock] = {}

    async def upgrade(self, user_id: str, old_room_id: str, body: dict[str, Any]) -> str:
        """Upgrade ``old_room_id``; returns the replacement room's ID."""
        version, additional_creators = validate_upgrade_body(body)
        lock = self._locks.setdefault(old_room_id, asyncio.Lock())
        async with lock:
            old = await self.events.get_room(old_room_id)
            if old is None or old.membership(user_id) != "join":
                raise forbidden("You are not in this room")
            self._check_may_tombstone(old, user_id)
            new_room_id = await self._create_replacement(old, user_id, version, additional_creators)
            await self._move_aliases(old, new_room_id, user_id)
            await self.events.send(
                old_room_id, user_id, "m.room.tombstone",
                {"body": "This room has been replaced", "replacement_room": new_room_id}, "",
            )
            await self._restrict_old_room(old, user_id)
            local_members = [u for u in old.members_with("join") if self.is_mine(u)]
            await self.push_settings.copy_room_rules(old_room_id, new_room_id, local_members)
            await self.carry_over.carry_over_settings(user_id, new_room_id)  # the upgrader is in the new room
        return new_room_id

    def _check_may_tombstone(self, room: RoomState, user_id: str) -> None:
        # spec: step 1, "Checks that the user has permission to send m.room.tombstone events".
        pl = _power_levels(room)
        have = user_power_level(user_id, pl, room.create_event, room.version)
        if have < required_power_level("m.room.tombstone", True, pl):
            raise forbidden("You cannot upgrade this room")

    async def _create_replacement(
        self, old: RoomState, user_id: str, version: RoomVersion, additional_creators: list[str]
    ) -> str:
        events = self.events
        old_create = old.create_event.content
        content: dict[str, Any] = {k: old_create[k] for k in COPIED_CREATION_KEYS if k in old_create}
        content["room_version"] = version.identifier
        predecessor: dict[str, Any] = {"room_id": old.room_id}
        if not version.hash_room_ids:
            # "The event ID of the last known event in the old room"; v12 may omit it.
            predecessor["event_id"] = old.extremities[-1]
        content["predecessor"] = predecessor
        if not version.creator_is_sender:
            content["creator"] = user_id
        if version.privileged_creators and additional_creators:
            content["additional_creators"] = additional_creators
        room_id = None if version.hash_room_ids else f"!{secrets.token_urlsafe(18)}:{self.server_name}"
        create = await events.create_room_event(version=version, sender=user_id, content=content, room_id=room_id)
        new_room_id = create.room_id
        profile = await self.rooms.member_profile(user_id)
        await events.send(new_room_id, user_id, "m.room.member", {"membership": "join", **profile}, user_id)

        final_pl = self._new_power_levels(old, user_id, version, create.content)
        needed = max([100, *(required_power_level(t, True, final_pl) for t in TRANSFERRED_STATE_TYPES)])
        bootstrap_pl = final_pl
        if not version.privileged_creators and _level_in(final_pl, user_id) < needed:
            # Synapse's approach: enough power to build the room, then the copied levels.
            bootstrap_pl = copy.deepcopy(final_pl)
            bootstrap_pl.setdefault("users", {})[user_id] = needed
        await events.send(new_room_id, user_id, "m.room.power_levels", bootstrap_pl, "")
        for event_type in TRANSFERRED_STATE_TYPES:
            source = old.state.get((event_type, ""))
            if source is not None and source.content:
                await events.send(new_room_id, user_id, event_type, dict(source.content), "")
        if bootstrap_pl is not final_pl:
            await events.send(new_room_id, user_id, "m.room.power_levels", final_pl, "")
        return new_room_id

    def _new_power_levels(
        self, old: RoomState, user_id: str, version: RoomVersion, new_create_content: dict[str, Any]
    ) -> dict[str, Any]:
        old_pl = _power_levels(old)
        if old_pl is None:
            return default_power_levels(user_id, version.privileged_creators)
        # Rooms before v10 may hold levels as strings (v1-v5: floats too); the new room's
        # version may refuse them.
        pl = integer_power_levels(copy.deepcopy(dict(old_pl)))
        users = dict(pl.get("users") or {}) if isinstance(pl.get("users"), dict) else {}
        if version.privileged_creators:
            # spec: rooms/v12 — creators have infinite power and must not be in "users".
            creators = {user_id, *new_create_content.get("additional_creators", [])}
            users = {u: level for u, level in users.items() if u not in creators}
        elif old.version.privileged_creators:
            # The old room's creators had infinite power beyond "users"; keep them admins.
            for creator in room_creators(old.create_event, old.version):
                users[creator] = max(_level_in({"users": users}, creator), 100)
            users[user_id] = max(users.get(user_id, 0), 100)
        pl["users"] = users
        return pl

    async def _move_aliases(self, old: RoomState, new_room_id: str, user_id: str) -> None:
        # spec: step 4, "Moves any local aliases to the new room."
        store = self.room_store
        for alias in await store.get_aliases_for_room(old.room_id):
            found = await store.get_alias(alias)
            creator = found[1] if found is not None else user_id
            await store.delete_alias(alias)
            await store.create_alias(alias, new_room_id, creator)
        canonical = old.state_content("m.room.canonical_alias")
        if canonical:
            await self._try_send(new_room_id, user_id, "m.room.canonical_alias", dict(canonical))
            await self._try_send(old.room_id, user_id, "m.room.canonical_alias", {})
        if await store.is_public(old.room_id):
            await store.set_public(new_room_id, True)
            await store.set_public(old.room_id, False)

    async def _restrict_old_room(self, old: RoomState, user_id: str) -> None:
        # spec: step 6 — "setting events_default and invite to the greater of 50 and users_default + 1".
        pl = _power_levels(old)
        if pl is None:
            return
        users_default = pl.get("users_default", 0)
        floor = max(50, (users_default if type(users_default) is int else 0) + 1)
        restricted = dict(pl)
        restricted["events_default"] = max(floor, _int(pl.get("events_default"), 0))
        restricted["invite"] = max(floor, _int(pl.get("invite"), 0))
        if restricted != dict(pl):
            await self._try_send(old.room_id, user_id, "m.room.power_levels", restricted)

    async def _try_send(self, room_id: str, user_id: str, event_type: str, content: dict[str, Any]) -> None:
        """Best-effort steps ("if possible"): the user may lack the power for them."""
        try:
            await self.events.send(room_id, user_id, event_type, content, "")
        except MatrixError as e:
            logger.info("room upgrade of %s by %s: could not send %s: %s", room_id, user_id, event_type, e)


def _int(value: object, default: int) -> int:
    return value if type(value) is int else default  # type: ignore[return-value]


def _level_in(pl: dict[str, Any], user_id: str) -> int:
    users = pl.get("users")
    if isinstance(users, dict) and type(users.get(user_id)) is int:
        return int(users[user_id])
    return _int(pl.get("users_default"), 0)



def _power_levels(room: RoomState) -> dict[str, Any] | None:
    """The room's power levels content, None when it has no m.room.power_levels event."""
    event = room.state.get(("m.room.power_levels", ""))
    return dict(event.content) if event is not None else None
