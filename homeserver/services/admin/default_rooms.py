"""Default rooms: rooms every newly registered user joins (config ``default_rooms``).

Missing rooms are created at start by the server-notices system user, as
public rooms carrying the configured alias. Aliases on other servers are
joined as given (which needs federation for rooms held elsewhere).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from homeserver.errors import MatrixError
from homeserver.services.rooms.rooms import RoomService
from homeserver.storage.rooms import RoomStore

logger = logging.getLogger(__name__)


class DefaultRoomsService:
    def __init__(
        self,
        *,
        aliases: list[str],
        owner: str,
        rooms: RoomService,
        room_store: RoomStore,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.aliases = list(aliases)
        self.owner = owner  # who creates the rooms: the server notices' system user
        self.rooms = rooms
        self.room_store = room_store
        self.is_mine = is_mine

    async def ensure_created(self) -> None:
        owner = self.owner
        for alias in self.aliases:
            if not self.is_mine(alias) or await self.room_store.get_alias(alias) is not None:
                continue
            localpart = alias[1:].split(":", 1)[0]
            room_id = await self.rooms.create_room(owner, {
                "visibility": "public", "preset": "public_chat", "room_alias_name": localpart, "name": localpart,
            })
            logger.info("created default room %s (%s)", alias, room_id)

    async def join_new_user(self, user_id: str) -> None:
        for alias in self.aliases:
            try:
                await self.rooms.join(user_id, alias)
            except MatrixError as e:
                logger.warning("could not join new user %s to default room %s: %s", user_id, alias, e)
