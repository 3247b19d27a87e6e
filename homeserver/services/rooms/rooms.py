"""Room lifecycle and membership: create, join, leave, invite, kick, ban, knock, aliases.

Joins of rooms on other servers go through federation (make_join/send_join),
added by the federation service; this service handles rooms this server holds.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from federation.rooms.events import Event
from federation.rooms.versions import KNOWN_ROOM_VERSIONS
from homeserver.core.privileged_creators import (
    check_creators_not_in_users,
    reject_creators_in_power_levels,
)
from homeserver.core.room_state import RoomState
from homeserver.core.room_summary import room_summary
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.federation.membership import FederatedMembershipService
from homeserver.services.federation.out_of_band import OutOfBandMembershipService
from homeserver.services.graph.events import EventService
from homeserver.services.graph.join_policy import JoinPolicy
from homeserver.services.rooms.carry_over import SettingsCarryOver
from homeserver.services.rooms.restricted_joins import (
    member_content_from_client,
    restricted_join_content,
)
from homeserver.storage.accounts import AccountStore
from homeserver.storage.rooms import RoomStore
from schemas.identifiers import is_valid_room_alias, is_valid_user_id

logger = logging.getLogger(__name__)

PRESETS: dict[str, tuple[str, str, str]] = {
    # preset -> (join_rule, history_visibility, guest_access)
    "private_chat": ("invite", "shared", "can_join"),
    "trusted_private_chat": ("invite", "shared", "can_join"),
    "public_chat": ("public", "shared", "forbidden"),
}


def default_power_levels(creator: str, privileged_creators: bool) -> dict[str, Any]:
    content: dict[str, Any] = {
        "users": {} if privileged_creators else {creator: 100},
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            "m.room.tombstone": 150 if privileged_creators else 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 0,
        "historical": 100,
        "notifications": {"room": 50},
    }
    return content


# spec: data/api/client-server/definitions/public_rooms_chunk.yaml
_PUBLIC_CHUNK_KEYS = frozenset({
    "room_id", "num_joined_members", "world_readable", "guest_can_join", "join_rule",
    "name", "topic", "avatar_url", "canonical_alias", "room_type",
})


def public_room_chunk(room: RoomState) -> dict[str, Any]:
    """One entry of a published room directory (spec: PublishedRoomsChunk)."""
    return {k: v for k, v in room_summary(room).items() if k in _PUBLIC_CHUNK_KEYS}


# Called as check(room_id, user_id) when a user asks to join; raises MatrixError to refuse.


# (user ID or alias) -> whether it exists once the owner was asked.
UnknownQuery = Callable[[str], Awaitable[bool]]

class RoomService:
    def __init__(
        self,
        *,
        events: EventService,
        store: RoomStore,
        account_store: AccountStore,
        federated_membership: FederatedMembershipService,
        out_of_band: OutOfBandMembershipService,
        carry_over: SettingsCarryOver,
        server_name: str,
        is_mine: Callable[[str], bool],
        default_room_version: str,
        join_policy: JoinPolicy,
    ) -> None:
        self.events = events
        self.store = store
        self.account_store = account_store
        self.federated_membership = federated_membership
        self.out_of_band = out_of_band
        self.carry_over = carry_over
        self.server_name = server_name
        self.is_mine = is_mine
        self.default_room_version = default_room_version
        self.join_policy = join_policy
        self.events.add_send_check(reject_creators_in_power_levels)
        # Hooks of higher areas (application services, wired in wiring/appservices.py).
        self._alias_checks: list[Callable[[str, str], None]] = []
        self._unknown_user_query: UnknownQuery | None = None
        self._unknown_alias_query: UnknownQuery | None = None

    def add_alias_check(self, check: Callable[[str, str], None]) -> None:
        """``check(user_id, alias)`` raises when the user may not create the alias."""
        self._alias_checks.append(check)

    def use_unknown_user_query(self, query: UnknownQuery) -> None:
        """Asked about an unknown local user before inviting it; True if it exists now."""
        self._unknown_user_query = query

    def use_unknown_alias_query(self, query: UnknownQuery) -> None:
        """Asked about an unknown local alias before resolving it; True if it exists now."""
        self._unknown_alias_query = query

    async def get_local_alias(self, alias: str) -> tuple[str, str] | None:
        """(room ID, creator) of a local alias, asking the unknown-alias hook on a miss."""
        found = await self.store.get_alias(alias)
        if found is None and self._unknown_alias_query is not None and await self._unknown_alias_query(alias):
            found = await self.store.get_alias(alias)
        return found

    # --- creation ------------------------------------------------------------------
    async def create_room(self, creator: str, body: dict[str, Any]) -> str:
        """spec: POST /createRoom, events in the documented order."""
        version_id = body.get("room_version") or self.default_room_version
        version = KNOWN_ROOM_VERSIONS.get(version_id)
        if version is None:
            raise MatrixError("M_UNSUPPORTED_ROOM_VERSION", 400, f"Unsupported room version {version_id!r}")
        visibility = body.get("visibility", "private")
        preset = body.get("preset") or ("public_chat" if visibility == "public" else "private_chat")
        if preset not in PRESETS:
            raise MatrixError("M_BAD_JSON", 400, f"Unknown preset {preset!r}")
        invitees: list[str] = list(body.get("invite") or [])
        for user_id in invitees:
            if not is_valid_user_id(user_id):
                raise MatrixError("M_INVALID_PARAM", 400, f"Invalid user ID {user_id!r}")
        alias: str | None = None
        if body.get("room_alias_name") is not None:
            alias = f"#{body['room_alias_name']}:{self.server_name}"
            if not is_valid_room_alias(alias) or ":" in body["room_alias_name"]:
                raise MatrixError("M_INVALID_PARAM", 400, "Invalid room_alias_name")
            if await self.store.get_alias(alias) is not None:
                raise MatrixError("M_ROOM_IN_USE", 400, "Room alias already taken")
            for check in self._alias_checks:
                check(creator, alias)

        creation_content = dict(body.get("creation_content") or {})
        creation_content["room_version"] = version.identifier
        if not version.creator_is_sender:
            creation_content["creator"] = creator
        if preset == "trusted_private_chat" and version.privileged_creators and invitees:
            extra = list(creation_content.get("additional_creators") or [])
            creation_content["additional_creators"] = extra + [u for u in invitees if u not in extra]
        override = body.get("power_level_content_override")
        if override and version.privileged_creators:
            additional = creation_content.get("additional_creators")
            creators = [creator, *(additional if isinstance(additional, list) else [])]
            check_creators_not_in_users([u for u in creators if isinstance(u, str)], override)
        room_id = None if version.hash_room_ids else f"!{secrets.token_urlsafe(18)}:{self.server_name}"
        create = await self.events.create_room_event(
            version=version, sender=creator, content=creation_content, room_id=room_id
        )
        room_id = create.room_id
        send = self.events.send

        await send(room_id, creator, "m.room.member", {"membership": "join", **await self.member_profile(creator)}, creator)

        power = default_power_levels(creator, version.privileged_creators)
        if preset == "trusted_private_chat" and not version.privileged_creators:
            for user_id in invitees:
                power["users"][user_id] = 100
        if override:
            power.update(override)
        await send(room_id, creator, "m.room.power_levels", power, "")

        if alias is not None:
            await self.store.create_alias(alias, room_id, creator)
            await send(room_id, creator, "m.room.canonical_alias", {"alias": alias}, "")

        join_rule, history, guest = PRESETS[preset]
        initial_state = {(e["type"], e.get("state_key", "")) for e in body.get("initial_state") or []}
        if ("m.room.join_rules", "") not in initial_state:
            await send(room_id, creator, "m.room.join_rules", {"join_rule": join_rule}, "")
        if ("m.room.history_visibility", "") not in initial_state:
            await send(room_id, creator, "m.room.history_visibility", {"history_visibility": history}, "")
        if ("m.room.guest_access", "") not in initial_state:
            await send(room_id, creator, "m.room.guest_access", {"guest_access": guest}, "")
        for ev in body.get("initial_state") or []:
            await send(room_id, creator, ev["type"], ev.get("content", {}), ev.get("state_key", ""))
        if body.get("name") is not None:
            await send(room_id, creator, "m.room.name", {"name": body["name"]}, "")
        if body.get("topic") is not None:
            # spec: createRoom "topic" — an m.room.topic "with a text/plain mimetype" (m.topic, v1.15).
            plain = {"body": body["topic"], "mimetype": "text/plain"}
            topic = {"topic": body["topic"], "m.topic": {"m.text": [plain]}}
            await send(room_id, creator, "m.room.topic", topic, "")
        for user_id in invitees:
            await self.invite(creator, room_id, user_id, is_direct=bool(body.get("is_direct")))
        if visibility == "public":
            await self.store.set_public(room_id, True)
        if "predecessor" in creation_content:  # a "manual" room upgrade
            await self.carry_over.carry_over_settings(creator, room_id)
        return room_id

    async def member_profile(self, user_id: str) -> dict[str, Any]:
        """The displayname and avatar_url a local user's m.room.member events carry."""
        if not self.is_mine(user_id):
            return {}
        user = await self.account_store.get_user(user_id)
        out: dict[str, Any] = {}
        if user is not None:
            if user.displayname is not None:
                out["displayname"] = user.displayname
            if user.avatar_url is not None:
                out["avatar_url"] = user.avatar_url
        return out

    # --- resolution --------------------------------------------------------------------
    async def resolve_room(self, room_id_or_alias: str) -> str:
        if room_id_or_alias.startswith("#"):
            if not is_valid_room_alias(room_id_or_alias):
                raise MatrixError("M_INVALID_PARAM", 400, "Invalid room alias")
            found = await self.get_local_alias(room_id_or_alias)
            if found is None:
                raise not_found("Room alias not found")
            return found[0]
        if not room_id_or_alias.startswith("!"):
            raise MatrixError("M_INVALID_PARAM", 400, "Expected a room ID or alias")
        return room_id_or_alias

    # --- membership ------------------------------------------------------------------
    async def _membership(
        self, room_id: str, sender: str, target: str, membership: str, extra: dict[str, Any] | None = None
    ) -> Event:
        content: dict[str, Any] = {"membership": membership}
        if extra:
            content.update({k: v for k, v in extra.items() if v is not None})
        return await self.events.send(room_id, sender, "m.room.member", content, target)

    def server_in_room(self, room: RoomState) -> bool:
        """Whether a local user is joined, i.e. this server holds the room's live graph."""
        return any(self.is_mine(u) for u in room.members_with("join"))

    async def _resolve_with_servers(self, room_id_or_alias: str, servers: Sequence[str]) -> tuple[str, list[str]]:
        """Room ID and servers to try; a remote alias is asked of its server (/query/directory)."""
        candidates = list(servers)
        if room_id_or_alias.startswith("#") and is_valid_room_alias(room_id_or_alias) \
                and not self.is_mine(room_id_or_alias):
            found = await self.federated_membership.query_alias(room_id_or_alias)
            return found["room_id"], candidates + found["servers"]
        return await self.resolve_room(room_id_or_alias), candidates

    async def join(self, user_id: str, room_id_or_alias: str, reason: str | None = None,
                   servers: Sequence[str] = (), content: dict[str, Any] | None = None) -> str:
        room_id, candidates = await self._resolve_with_servers(room_id_or_alias, servers)
        # A blocked room stays blocked even once no local member is left to refuse the join.
        self.join_policy.check(room_id, user_id)
        room = await self.events.get_room(room_id)
        extra = {**await self.member_profile(user_id), **(content or {})}
        if reason:
            extra["reason"] = reason
        if room is None or not self.server_in_room(room):
            # spec: server-server-api.md, "Joining Rooms" — through a resident server.
            joined = await self.federated_membership.join(user_id, room_id, candidates, extra)
            await self.carry_over.carry_over_settings(user_id, joined)
            return joined
        if room.membership(user_id) == "join":
            return room_id  # idempotent, as Synapse
        try:
            extra.update(await restricted_join_content(self.events, self.is_mine, room, user_id))
        except MatrixError as e:
            if e.errcode != "M_UNABLE_TO_GRANT_JOIN":
                raise
            # spec: server-server-api.md "Restricted rooms" — no one here may vouch for the
            # join, so a resident server whose users can is asked (make_join/send_join).
            joined = await self.federated_membership.join(user_id, room_id, candidates, extra)
            await self.carry_over.carry_over_settings(user_id, joined)
            return joined
        await self._membership(room_id, user_id, user_id, "join", extra)
        await self.carry_over.carry_over_settings(user_id, room_id)
        return room_id

    async def leave(self, user_id: str, room_id: str, reason: str | None = None) -> None:
        room = await self.events.get_room(room_id)
        if room is None or not self.server_in_room(room):
            oob = await self.out_of_band.get(room_id, user_id)
            if oob is not None and oob.membership in ("invite", "knock"):
                # spec: "Leaving Rooms (Rejecting Invites)" — make_leave / send_leave.
                await self.federated_membership.leave(user_id, room_id, {"reason": reason} if reason else {})
                return
            if room is None:
                raise not_found("Unknown room")
        current = room.membership(user_id)
        if current is None or current in ("leave",):
            # Leaving a room you're not in: spec allows it silently for forgotten rooms.
            if current is None:
                raise forbidden("You are not a member of this room")
            return
        await self._membership(room_id, user_id, user_id, "leave", {"reason": reason})

    async def invite(self, sender: str, room_id: str, target: str, *, reason: str | None = None,
                     is_direct: bool = False) -> None:
        if not is_valid_user_id(target):
            raise MatrixError("M_INVALID_PARAM", 400, "Invalid user ID")
        room = await self.events.require_room(room_id)
        if room.membership(sender) != "join":
            raise forbidden("You are not in this room")
        if room.membership(target) == "invite":
            return  # already invited
        if self.is_mine(target) and self._unknown_user_query is not None \
                and await self.account_store.get_user(target) is None:
            # spec: application-service-api.md, "Querying" — the service may create the user.
            await self._unknown_user_query(target)
        extra = await self.member_profile(target)
        if is_direct:
            extra["is_direct"] = True
        if reason:
            extra["reason"] = reason
        if not self.is_mine(target) and room.membership(target) not in ("join", "ban"):
            # spec: "Inviting to a room" — the invitee's server countersigns first.
            await self.federated_membership.invite(room, sender, target, {"membership": "invite", **extra})
            return
        await self._membership(room_id, sender, target, "invite", extra)

    async def kick(self, sender: str, room_id: str, target: str, reason: str | None = None) -> None:
        room = await self.events.require_room(room_id)
        if room.membership(target) not in ("join", "invite", "knock"):
            raise forbidden("The target user is not in the room")
        await self._membership(room_id, sender, target, "leave", {"reason": reason})

    async def ban(self, sender: str, room_id: str, target: str, reason: str | None = None) -> None:
        await self.events.require_room(room_id)
        await self._membership(room_id, sender, target, "ban", {"reason": reason})

    async def unban(self, sender: str, room_id: str, target: str, reason: str | None = None) -> None:
        room = await self.events.require_room(room_id)
        if room.membership(target) != "ban":
            raise forbidden("The target user is not banned")
        await self._membership(room_id, sender, target, "leave", {"reason": reason})

    async def knock(self, user_id: str, room_id_or_alias: str, reason: str | None = None,
                    servers: Sequence[str] = ()) -> str:
        room_id, candidates = await self._resolve_with_servers(room_id_or_alias, servers)
        room = await self.events.get_room(room_id)
        extra = await self.member_profile(user_id)
        if reason:
            extra["reason"] = reason
        if room is None or not self.server_in_room(room):
            # spec: server-server-api.md, "Knocking upon a room".
            return await self.federated_membership.knock(user_id, room_id, candidates, extra)
        await self._membership(room_id, user_id, user_id, "knock", extra)
        return room_id

    async def forget(self, user_id: str, room_id: str) -> None:
        room = await self.events.get_room(room_id)
        membership = room.membership(user_id) if room is not None else None
        if room is None:
            # A remote invite or knock (and its rejection) in a room this server is not in.
            oob = await self.out_of_band.get(room_id, user_id)
            membership = oob.membership if oob is not None else None
        if membership in ("join", "invite", "knock"):
            raise MatrixError("M_UNKNOWN", 400, "You must leave the room before forgetting it")
        if membership is None:
            raise not_found("You have never been in this room")
        await self.store.forget(room_id, user_id)
        self.events.forget_room_for_user(user_id, room_id)

    async def leave_all_rooms(self, user_id: str) -> None:
        """Leave (or reject invites to) every room; used on deactivation."""
        for room_id, membership in list((await self.events.rooms_for_user(user_id)).items()):
            if membership in ("join", "invite", "knock"):
                try:
                    await self.leave(user_id, room_id)  # remote invites/knocks: make_leave
                except MatrixError as e:
                    logger.warning("could not leave %s for %s: %s", room_id, user_id, e)

    async def update_profile_in_rooms(self, user_id: str) -> None:
        """Send fresh member events after a displayname/avatar change."""
        profile = await self.member_profile(user_id)
        for room_id, membership in list((await self.events.rooms_for_user(user_id)).items()):
            if membership != "join":
                continue
            room = await self.events.get_room(room_id)
            if room is None:
                continue
            current = room.state.get(("m.room.member", user_id))
            if current is None:
                continue
            content = {k: v for k, v in current.content.items() if k not in ("displayname", "avatar_url")}
            content.update(profile)
            if content == current.content:
                continue
            try:
                await self.events.send(room_id, user_id, "m.room.member", content, user_id)
            except MatrixError as e:
                logger.warning("profile update in %s for %s failed: %s", room_id, user_id, e)

    # --- state and members ---------------------------------------------------------------
    async def require_visible_room(self, user_id: str, room_id: str) -> RoomState:
        """The room, if the user is (or was) a member; 403 otherwise."""
        room = await self.events.get_room(room_id)
        if room is None:
            raise forbidden("You are not in this room")
        membership = room.membership(user_id)
        if membership is None or membership in ("invite", "knock"):
            raise forbidden("You are not in this room")
        if membership != "join" and room_id not in await self.events.rooms_for_user(user_id):
            raise forbidden("You have forgotten this room")
        return room

    # --- published room directory ----------------------------------------------------------
    async def public_rooms(self, limit: int | None, since: str | None, search: str | None) -> dict[str, Any]:
        """This server's published rooms, as /publicRooms answers both clients and servers.

        spec: client-server-api "GET /publicRooms"; server-server-api.md, "Public Room Directory".
        """
        chunks = []
        for room_id in await self.store.public_room_ids():
            room = await self.events.get_room(room_id)
            if room is None:
                continue
            chunk = public_room_chunk(room)
            if search:
                hay = " ".join(str(chunk.get(k, "")) for k in ("name", "topic", "canonical_alias")).lower()
                if search.lower() not in hay:
                    continue
            chunks.append(chunk)
        chunks.sort(key=lambda c: (-c["num_joined_members"], c["room_id"]))
        start = 0
        if since:
            try:
                start = int(since.removeprefix("p"))
            except ValueError:
                raise MatrixError("M_INVALID_PARAM", 400, "Bad since token") from None
            if start < 0:
                raise MatrixError("M_INVALID_PARAM", 400, "Bad since token")
        end = len(chunks) if limit is None else start + max(limit, 0)
        body: dict[str, Any] = {"chunk": chunks[start:end], "total_room_count_estimate": len(chunks)}
        if end < len(chunks):
            body["next_batch"] = f"p{end}"
        if start > 0:
            body["prev_batch"] = f"p{max(0, start - (limit or 0))}"
        return body

    # --- aliases ------------------------------------------------------------------------
    async def create_alias(self, user_id: str, alias: str, room_id: str) -> None:
        if not is_valid_room_alias(alias):
            raise MatrixError("M_INVALID_PARAM", 400, "Invalid room alias")
        if not self.is_mine(alias):
            raise MatrixError("M_INVALID_PARAM", 400, "Alias must be on this server")
        if await self.events.get_room(room_id) is None:
            raise not_found("Unknown room")
        for check in self._alias_checks:
            check(user_id, alias)
        if not await self.store.create_alias(alias, room_id, user_id):
            raise MatrixError("M_UNKNOWN", 409, "Room alias already exists")

    async def delete_alias(self, requester_id: str, is_admin: bool, alias: str) -> None:
        found = await self.store.get_alias(alias)
        if found is None:
            raise not_found("Room alias not found")
        room_id, creator = found
        if creator != requester_id and not is_admin:
            room = await self.events.get_room(room_id)
            from federation.rooms.power_levels import required_power_level, user_power_level

            pl = room.state_content("m.room.power_levels") if room else {}
            allowed = room is not None and user_power_level(
                requester_id, pl or None, room.create_event, room.version
            ) >= required_power_level("m.room.canonical_alias", True, pl)
            if not allowed:
                raise forbidden("You may not delete this alias")
        await self.store.delete_alias(alias)
        await self._drop_from_canonical_alias(room_id, alias, requester_id)

    async def _drop_from_canonical_alias(self, room_id: str, alias: str, requester_id: str) -> None:
        """A deleted alias leaves the room's m.room.canonical_alias (as Synapse does; the spec
        asks servers to keep it pointing at aliases that resolve to the room)."""
        room = await self.events.get_room(room_id)
        if room is None or ("m.room.canonical_alias", "") not in room.state:
            return
        content = dict(room.state_content("m.room.canonical_alias"))
        alt = content.get("alt_aliases")
        if content.get("alias") != alias and not (isinstance(alt, list) and alias in alt):
            return
        if content.get("alias") == alias:
            del content["alias"]
        if isinstance(alt, list):
            content["alt_aliases"] = [a for a in alt if a != alias]
            if not content["alt_aliases"]:
                del content["alt_aliases"]
        # The alias's creator may lack the power to change state: fall back to a local admin.
        from federation.rooms.power_levels import user_power_level

        pl = room.state.get(("m.room.power_levels", ""))
        levels = pl.content if pl is not None else None
        local = sorted((u for u in room.members_with("join") if self.is_mine(u)),
                       key=lambda u: -user_power_level(u, levels, room.create_event, room.version))
        for sender in dict.fromkeys([requester_id, *local]):
            if room.membership(sender) != "join":
                continue
            try:
                await self.events.send(room_id, sender, "m.room.canonical_alias", content, "")
                return
            except MatrixError:
                continue
        logger.info("alias %s deleted but no local user may update %s's canonical alias", alias, room_id)

    # --- for the HTTP handlers (api/client/events.py: PUT /state/m.room.member) ------------
    async def member_content_from_client(
        self, room: RoomState, sender: str, target: str, content: dict[str, Any]
    ) -> dict[str, Any]:
        """A client's m.room.member content with the authorising user chosen by this server
        (see ``restricted_joins.member_content_from_client``)."""
        return await member_content_from_client(self.events, self.is_mine, room, sender, target, content)
