"""Server notices: official messages from the server to a user.

spec: client-server-api/modules/server_notices.md. Each user has exactly one
server notices room, created on the first notice by the system user, tagged
``m.server_notice`` in the user's room account data; the user is invited, not
joined. Rejecting that invite is refused with M_CANNOT_LEAVE_SERVER_NOTICE_ROOM.
The system user (``server_notices.localpart``) has no password and cannot log in;
it also owns the default rooms.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from homeserver.clock import Clock
from homeserver.config import ServerNoticesConfig
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError, invalid_param, not_found
from homeserver.services.graph.events import EventService
from homeserver.services.rooms.rooms import RoomService
from homeserver.services.social.account_data import AccountDataService
from homeserver.storage.accounts import AccountStore
from homeserver.storage.admin import AdminStore
from homeserver.storage.events import EventStore

logger = logging.getLogger(__name__)

SERVER_NOTICE_TAG = "m.server_notice"
# Users cannot post in their notices room (Synapse does the same).
NOTICE_ROOM_USER_LEVEL = -10


class ServerNoticeService:
    def __init__(
        self,
        store: AdminStore,
        *,
        config: ServerNoticesConfig,
        events: EventService,
        event_store: EventStore,
        account_store: AccountStore,
        account_data: AccountDataService,
        rooms: RoomService,
        clock: Clock,
        server_name: str,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.config = config
        self.events = events
        self.event_store = event_store
        self.account_store = account_store
        self.account_data = account_data
        self.rooms = rooms
        self.clock = clock
        self.is_mine = is_mine
        self.system_user_id = f"@{config.localpart}:{server_name}"
        self._notice_rooms: set[str] = set()
        self._room_creation = asyncio.Lock()

    async def start(self) -> None:
        await self._ensure_system_user()
        self._notice_rooms = await self.store.server_notice_room_ids()

    def forget_room(self, room_id: str) -> None:
        """A purged notices room is no longer one (its row went with it)."""
        self._notice_rooms.discard(room_id)

    async def _ensure_system_user(self) -> None:
        accounts = self.account_store
        existing = await accounts.get_user(self.system_user_id)
        if existing is None:
            await accounts.create_user(
                self.system_user_id, None, self.clock.time_ms(), self.config.display_name
            )
            logger.info("created system user %s", self.system_user_id)
        elif existing.password_hash is not None:
            logger.warning("system user %s is an account with a password", self.system_user_id)

    def check_notice_room_leave(
        self, room: RoomState, sender: str, event_type: str, content: dict[str, Any], state_key: str | None
    ) -> None:
        """Send check: the invite to a server notices room cannot be rejected."""
        if (
            room.room_id in self._notice_rooms
            and event_type == "m.room.member"
            and state_key == sender
            and content.get("membership") == "leave"
            and room.membership(sender) == "invite"
        ):
            raise MatrixError(
                "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM", 403, "You cannot reject the invite to the server notices room"
            )

    async def notice_room_for(self, user_id: str) -> str:
        """The user's server notices room, created (and the user invited) when needed."""
        async with self._room_creation:
            room_id = await self.store.get_server_notice_room(user_id)
            if room_id is None:
                room_id = await self.rooms.create_room(self.system_user_id, {
                    "preset": "private_chat",
                    "name": self.config.room_name,
                    "power_level_content_override": {"users_default": NOTICE_ROOM_USER_LEVEL},
                })
                await self.store.set_server_notice_room(user_id, room_id)
                self._notice_rooms.add(room_id)
                await self.account_data.set_tag(user_id, room_id, SERVER_NOTICE_TAG, {})
                logger.info("created server notices room %s for %s", room_id, user_id)
        room = await self.events.require_room(room_id)
        if room.membership(user_id) not in ("join", "invite"):
            await self.events.send(room_id, self.system_user_id, "m.room.member", {"membership": "invite"}, user_id)
        return room_id

    async def send_notice(
        self, user_id: str, content: dict[str, Any], *, admin_id: str | None = None, txn_id: str | None = None
    ) -> str:
        """Send an m.room.message to the user's notices room; returns the event ID.

        With ``txn_id`` (PUT /send_server_notice/{txnId}), a retry by the same admin
        returns the first notice's event ID instead of sending another.
        """
        txn = (self.system_user_id, f"admin:{admin_id}", txn_id) if txn_id is not None else None
        if txn is not None:
            existing = await self.event_store.get_txn_event(*txn)
            if existing is not None:
                return existing
        if not self.is_mine(user_id):
            raise invalid_param("Server notices can only be sent to local users")
        user = await self.account_store.get_user(user_id)
        if user is None or user.deactivated:
            raise not_found("Unknown or deactivated user")
        if user_id == self.system_user_id:
            raise invalid_param("Cannot send a server notice to the system user")
        if not isinstance(content.get("body"), str) or not isinstance(content.get("msgtype"), str):
            raise invalid_param("content needs a string body and msgtype")
        room_id = await self.notice_room_for(user_id)
        event = await self.events.send(room_id, self.system_user_id, "m.room.message", content, txn=txn)
        return event.event_id
