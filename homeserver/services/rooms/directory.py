"""Reading room aliases and a room's visibility in the published directory.

Creating and deleting aliases is membership-dependent and lives in ``RoomService``;
this service answers the lookups (for clients and other servers) and the visibility flag.

spec: data/api/client-server/{directory,list_public_rooms}.yaml; server-server-api.md,
"Querying for information" (/query/directory).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from federation.rooms.power_levels import required_power_level, user_power_level
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.federation.membership import FederatedMembershipService
from homeserver.services.graph.events import EventService
from homeserver.storage.rooms import RoomStore
from schemas.identifiers import is_valid_room_alias


class RoomDirectoryService:
    def __init__(
        self,
        store: RoomStore,
        events: EventService,
        federated_membership: FederatedMembershipService,
        server_name: str,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.events = events
        self.federated_membership = federated_membership
        self.server_name = server_name
        self.is_mine = is_mine
        self._unknown_alias_query: Callable[[str], Awaitable[bool]] | None = None

    def use_unknown_alias_query(self, query: Callable[[str], Awaitable[bool]]) -> None:
        """Asked about an unknown local alias (an application service may create it)."""
        self._unknown_alias_query = query

    async def _get_local_alias(self, alias: str) -> tuple[str, str] | None:
        found = await self.store.get_alias(alias)
        if found is None and self._unknown_alias_query is not None and await self._unknown_alias_query(alias):
            found = await self.store.get_alias(alias)
        return found

    # --- aliases ---------------------------------------------------------------------
    async def resolve_alias(self, alias: str) -> dict[str, Any]:
        """GET /directory/room/{alias}: {room_id, servers}, asking the alias's server if remote."""
        if is_valid_room_alias(alias) and not self.is_mine(alias):
            return await self.federated_membership.query_alias(alias)
        found = await self._get_local_alias(alias)
        if found is None:
            raise not_found("Room alias not found")
        return {"room_id": found[0], "servers": [self.server_name]}

    async def answer_alias_query(self, alias: str) -> dict[str, Any]:
        """Another server's /query/directory for a valid alias: {room_id, servers}."""
        found = await self._get_local_alias(alias) if self.is_mine(alias) else None
        if found is None:
            raise not_found("Room alias not found")
        room_id = found[0]
        room = await self.events.get_room(room_id)
        # "servers: a list of server names that are likely to hold the given room" — us first.
        servers = [self.server_name]
        if room is not None:
            servers += sorted({u.split(":", 1)[1] for u in room.members_with("join")} - {self.server_name})
        return {"room_id": room_id, "servers": servers}

    async def room_aliases(self, user_id: str, room_id: str) -> list[str]:
        """The room's local aliases, for a member (or anyone, if the room is world readable)."""
        room = await self.events.get_room(room_id)
        history = room.state_content("m.room.history_visibility").get("history_visibility") if room else None
        if room is None or (room.membership(user_id) != "join" and history != "world_readable"):
            raise forbidden("You are not in this room")
        return await self.store.get_aliases_for_room(room_id)

    async def check_canonical_alias(self, room_id: str, content: dict[str, Any]) -> None:
        """400 unless every alias of an m.room.canonical_alias content points to the room.

        spec: m.room.canonical_alias — the server SHOULD check the aliases point here.
        """
        aliases: list[Any] = []
        if content.get("alias") is not None:
            aliases.append(content["alias"])
        alt = content.get("alt_aliases", [])
        if not isinstance(alt, list):
            raise MatrixError("M_INVALID_PARAM", 400, "alt_aliases must be a list")
        aliases.extend(alt)
        for alias in aliases:
            if not isinstance(alias, str) or not alias.startswith("#") or ":" not in alias:
                raise MatrixError("M_INVALID_PARAM", 400, f"Invalid alias {alias!r}")
            found = await self.store.get_alias(alias)
            if found is None or found[0] != room_id:
                raise MatrixError("M_BAD_ALIAS", 400, f"{alias} does not point to this room")

    # --- visibility in the published directory ---------------------------------------
    async def visibility(self, room_id: str) -> str:
        """"public" or "private"; 404 for a room this server does not know."""
        if await self.store.get_room_version(room_id) is None:
            raise not_found("Unknown room")
        return "public" if await self.store.is_public(room_id) else "private"

    async def set_visibility(self, user_id: str, is_admin: bool, room_id: str, public: bool) -> None:
        """Publish or unpublish the room: a server admin, or a member who may set its aliases."""
        room = await self.events.get_room(room_id)
        if room is None:
            raise not_found("Unknown room")
        pl = room.state_content("m.room.power_levels")
        level = user_power_level(user_id, pl or None, room.create_event, room.version)
        if not is_admin and (
            room.membership(user_id) != "join"
            or level < required_power_level("m.room.canonical_alias", True, pl)
        ):
            raise forbidden("You may not change this room's visibility")
        await self.store.set_public(room_id, public)
