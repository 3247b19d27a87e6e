"""A user's personal settings follow them from a room to the room that replaces it.

spec: modules/room_upgrades.md — "When a user joins the new room, the server should
automatically transfer/replicate some of the user's personalized settings such as
notifications". Used on upgrades (``RoomUpgradeService``) and on creating or joining a
room whose m.room.create names a predecessor (``RoomService``), so it sits below both.
"""

from __future__ import annotations

from typing import Any

from homeserver.errors import MatrixError
from homeserver.services.graph.events import EventService
from homeserver.services.push.settings import PushSettingsService
from homeserver.services.social.account_data import AccountDataService


class SettingsCarryOver:
    def __init__(
        self, events: EventService, push_settings: PushSettingsService, account_data: AccountDataService
    ) -> None:
        self.events = events
        self.push_settings = push_settings
        self.account_data = account_data

    async def carry_over_settings(self, user_id: str, room_id: str) -> None:
        """On joining (or creating) a room that replaces another: the user's push rules about
        the old room also apply to the new one, its tags are copied and m.direct lists it.

        Covers manual upgrades and upgrades made on other servers.
        """
        room = await self.events.get_room(room_id)
        if room is None:
            return
        predecessor = room.create_event.content.get("predecessor")
        if not isinstance(predecessor, dict) or not isinstance(predecessor.get("room_id"), str):
            return
        old_room_id = predecessor["room_id"]
        await self.push_settings.copy_room_rules(old_room_id, room_id, [user_id])
        account_data = self.account_data
        old_tags = await account_data.get_tags(user_id, old_room_id)
        if old_tags and not await account_data.get_tags(user_id, room_id):
            await account_data.put(user_id, room_id, "m.tag", {"tags": old_tags})
        await self._carry_over_direct(user_id, old_room_id, room_id)

    async def _carry_over_direct(self, user_id: str, old_room_id: str, room_id: str) -> None:
        """A DM stays a DM: the new room joins the old one in the user's m.direct lists."""
        try:
            direct = await self.account_data.get(user_id, None, "m.direct")
        except MatrixError:
            return  # no m.direct account data
        changed = False
        updated: dict[str, Any] = {}
        for other, rooms in direct.items():
            if isinstance(rooms, list) and old_room_id in rooms and room_id not in rooms:
                rooms = [*rooms, room_id]
                changed = True
            updated[other] = rooms
        if changed:
            await self.account_data.put(user_id, None, "m.direct", updated)
