"""Default rooms: rooms every newly registered user joins (config ``default_rooms``).

Missing rooms are created at start by the server-notices system user, as
public rooms carrying the configured alias. Aliases on other servers are
joined as given (which needs federation for rooms held elsewhere).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from homeserver.errors import MatrixError

if TYPE_CHECKING:
    from homeserver.app.container import Container as Homeserver

logger = logging.getLogger(__name__)


class DefaultRoomsService:
    def __init__(self, hs: Homeserver) -> None:
        self.hs = hs
        self.aliases = list(hs.config.default_rooms)

    async def ensure_created(self) -> None:
        owner = self.hs.server_notices.system_user_id
        for alias in self.aliases:
            if not self.hs.is_mine(alias) or await self.hs.room_store.get_alias(alias) is not None:
                continue
            localpart = alias[1:].split(":", 1)[0]
            room_id = await self.hs.rooms.create_room(owner, {
                "visibility": "public", "preset": "public_chat", "room_alias_name": localpart, "name": localpart,
            })
            logger.info("created default room %s (%s)", alias, room_id)

    async def join_new_user(self, user_id: str) -> None:
        for alias in self.aliases:
            try:
                await self.hs.rooms.join(user_id, alias)
            except MatrixError as e:
                logger.warning("could not join new user %s to default room %s: %s", user_id, alias, e)
