"""Space hierarchies (spec: client-server-api/modules/spaces.md, GET /hierarchy).

A depth-first walk over m.space.child state events from a space-room. Rooms
this server knows are summarised from their current state; unknown rooms are
asked of the servers in the child event's `via` over federation
(`/_matrix/federation/v1/hierarchy`, whose answers are cached briefly). Loops
are cut by remembering visited rooms; pagination keeps the rest of the walk
server-side behind an opaque token, as Synapse does.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from federation.rooms.events import Event
from federation.transport.client import FederationClient
from homeserver.core.room_state import RoomState
from homeserver.core.room_summary import room_summary, summary_is_open, user_may_see_summary
from homeserver.errors import MatrixError, forbidden
from homeserver.services.federation.membership import FederatedMembershipService
from homeserver.services.graph.events import EventService

logger = logging.getLogger(__name__)

# A room ID or alias -> the room ID (RoomService.resolve_room, in the rooms area above).
RoomResolver = Callable[[str], Awaitable[str]]

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
DEFAULT_MAX_DEPTH = 20
MAX_MAX_DEPTH = 50
PAGINATION_TTL_S = 300.0
REMOTE_CACHE_TTL_S = 60.0
MAX_VIA_TRIED = 3


def _valid_order(value: object) -> bool:
    # spec: m.space.child "order" is at most 50 printable ASCII characters (\x20-\x7E).
    return isinstance(value, str) and len(value) <= 50 and all(0x20 <= ord(c) <= 0x7E for c in value)


def child_events(room: RoomState) -> list[Event]:
    """The room's m.space.child events with a non-empty `via`, in the spec's order."""
    children = [
        ev for (etype, _), ev in room.state.items()
        if etype == "m.space.child" and isinstance(ev.content.get("via"), list) and ev.content["via"]
    ]

    def key(ev: Event) -> tuple[int, str, int, str]:
        order = ev.content.get("order")
        if _valid_order(order):
            return (0, order, ev.origin_server_ts, ev.state_key or "")  # type: ignore[return-value]
        return (1, "", ev.origin_server_ts, ev.state_key or "")

    return sorted(children, key=key)


def stripped_child(ev: Event) -> dict[str, Any]:
    return {
        "type": ev.type, "state_key": ev.state_key, "content": ev.content,
        "sender": ev.sender, "origin_server_ts": ev.origin_server_ts,
    }


async def _no_room_resolver(room_id_or_alias: str) -> str:
    raise RuntimeError("SpaceHierarchyService.use_room_resolver was not called")


@dataclass(slots=True)
class _Walk:
    """A paused hierarchy walk: what is left to visit."""

    user_id: str
    root: str
    suggested_only: bool
    max_depth: int
    # (room_id, depth, via servers); popped from the end (depth first).
    stack: list[tuple[str, int, list[str]]]
    seen: set[str] = field(default_factory=set)
    expires: float = 0.0


class SpaceHierarchyService:
    def __init__(
        self,
        events: EventService,
        federated_membership: FederatedMembershipService,
        federation_client: FederationClient,
        server_name: str,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.events = events
        self.federated_membership = federated_membership
        self.federation_client = federation_client
        self.server_name = server_name
        self.is_mine = is_mine
        self._resolve_room: RoomResolver = _no_room_resolver
        self._walks: dict[str, _Walk] = {}
        # room_id -> (expiry, summary with children_state) learned over federation.
        self._remote: dict[str, tuple[float, dict[str, Any]]] = {}

    def use_room_resolver(self, resolve: RoomResolver) -> None:
        """Resolve local room IDs and aliases with ``resolve`` (wired by the rooms area)."""
        self._resolve_room = resolve

    def forget_room(self, room_id: str) -> None:
        """Drop what federation told us of a purged room."""
        self._remote.pop(room_id, None)

    # --- client API ----------------------------------------------------------------------
    async def hierarchy(
        self,
        user_id: str,
        room_id: str,
        *,
        suggested_only: bool,
        max_depth: int | None,
        limit: int | None,
        from_token: str | None,
    ) -> dict[str, Any]:
        now = time.monotonic()
        self._walks = {t: w for t, w in self._walks.items() if w.expires > now}
        depth_cap = min(max_depth if max_depth is not None else DEFAULT_MAX_DEPTH, MAX_MAX_DEPTH)
        if from_token is not None:
            walk = self._walks.pop(from_token, None)
            if walk is None or walk.user_id != user_id or walk.root != room_id:
                raise MatrixError("M_INVALID_PARAM", 400, "Unknown pagination token")
            if walk.suggested_only != suggested_only or (
                max_depth is not None and walk.max_depth != depth_cap
            ):
                raise MatrixError(
                    "M_INVALID_PARAM", 400, "suggested_only and max_depth cannot change on paginated requests"
                )
        else:
            root = await self._summary_for(user_id, room_id, [])
            if root is None:
                raise forbidden("You are not allowed to view this room.")
            walk = _Walk(user_id, room_id, suggested_only, depth_cap, [(room_id, 0, [])])
        page_size = min(limit or DEFAULT_LIMIT, MAX_LIMIT)
        joined = await self._joined_rooms(user_id)
        rooms: list[dict[str, Any]] = []
        while walk.stack and len(rooms) < page_size:
            current, depth, via = walk.stack.pop()
            if current in walk.seen:
                continue
            walk.seen.add(current)
            summary = await self._summary_for(user_id, current, via, joined)
            if summary is None:
                continue
            rooms.append(summary)
            if depth >= walk.max_depth or summary.get("room_type") != "m.space":
                continue
            children = [
                c for c in summary["children_state"]
                if not suggested_only or c["content"].get("suggested") is True
            ]
            # Push in reverse so the first child is visited first.
            for child in reversed(children):
                if child["state_key"] not in walk.seen:
                    walk.stack.append((child["state_key"], depth + 1, list(child["content"]["via"])))
        body: dict[str, Any] = {"rooms": rooms}
        if walk.stack:
            token = secrets.token_urlsafe(12)
            walk.expires = now + PAGINATION_TTL_S
            self._walks[token] = walk
            body["next_batch"] = token
        return body

    async def room_summary(
        self, user_id: str | None, room_id_or_alias: str, via: list[str]
    ) -> dict[str, Any]:
        """spec: data/api/client-server/room_summary.yaml (GET /room_summary/{roomIdOrAlias}).

        A room the requester may not see is "not found", as in Synapse; without a
        requester only rooms anyone may see (public, knockable, world-readable) are shown.
        """
        servers = list(via)
        if room_id_or_alias.startswith("#") and not self.is_mine(room_id_or_alias):
            found = await self.federated_membership.query_alias(room_id_or_alias)
            room_id = found["room_id"]
            servers += [s for s in found["servers"] if isinstance(s, str)]
        else:
            room_id = await self._resolve_room(room_id_or_alias)
        room = await self.events.get_room(room_id)
        membership: str | None = None
        if room is not None and self._known_locally(room):
            summary = room_summary(room)
            membership = room.membership(user_id) if user_id is not None else None
        else:
            remote = await self._remote_summary(room_id, servers)
            if remote is None:
                raise MatrixError("M_NOT_FOUND", 404, "Room not found.")
            summary = {k: v for k, v in remote.items() if k != "children_state"}
        if user_id is None:
            visible = summary_is_open(summary)
        else:
            visible = membership == "knock" or user_may_see_summary(
                summary, membership, await self._joined_rooms(user_id)
            )
        if not visible:
            raise MatrixError("M_NOT_FOUND", 404, "Room not found.")
        if membership is not None:
            summary["membership"] = membership
        return summary

    async def _joined_rooms(self, user_id: str) -> set[str]:
        return {r for r, m in (await self.events.rooms_for_user(user_id)).items() if m == "join"}

    async def _summary_for(
        self, user_id: str, room_id: str, via: list[str], joined: set[str] | None = None
    ) -> dict[str, Any] | None:
        """The room's summary with children_state, if the user may see it."""
        room = await self.events.get_room(room_id)
        membership = None
        summary: dict[str, Any] | None
        if room is not None and self._known_locally(room):
            summary = self.local_summary(room)
            membership = room.membership(user_id)
        else:
            summary = await self._remote_summary(room_id, via)
        if summary is None:
            return None
        if joined is None:
            joined = await self._joined_rooms(user_id)
        return summary if user_may_see_summary(summary, membership, joined) else None

    def _known_locally(self, room: RoomState) -> bool:
        """We hold this room's state first-hand: one of our users is or was in it."""
        return any(
            etype == "m.room.member" and state_key and self.is_mine(state_key)
            for etype, state_key in room.state
        )

    @staticmethod
    def local_summary(room: RoomState) -> dict[str, Any]:
        summary = room_summary(room)
        summary["children_state"] = [stripped_child(ev) for ev in child_events(room)] if (
            summary.get("room_type") == "m.space"
        ) else []
        return summary

    # --- federation ----------------------------------------------------------------------
    async def _remote_summary(self, room_id: str, via: list[str]) -> dict[str, Any] | None:
        now = time.monotonic()
        cached = self._remote.get(room_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        client = self.federation_client
        for server in [s for s in via if isinstance(s, str) and s != self.server_name][:MAX_VIA_TRIED]:
            try:
                answer = await client.get_json(
                    server, f"/_matrix/federation/v1/hierarchy/{quote(room_id, safe='')}",
                    query={"suggested_only": "false"}, timeout=10.0,
                )
            except Exception as e:  # a down or confused server: try the next one
                logger.info("hierarchy of %s from %s failed: %s", room_id, server, e)
                continue
            summary = answer.get("room") if isinstance(answer, dict) else None
            if not isinstance(summary, dict) or summary.get("room_id") != room_id:
                continue
            summary.setdefault("children_state", [])
            self._remote[room_id] = (now + REMOTE_CACHE_TTL_S, summary)
            for child in answer.get("children", []):
                if isinstance(child, dict) and isinstance(child.get("room_id"), str):
                    child.setdefault("children_state", [])
                    self._remote.setdefault(child["room_id"], (now + REMOTE_CACHE_TTL_S, child))
            return summary
        return None

    async def federation_hierarchy(self, origin: str, room_id: str, suggested_only: bool) -> dict[str, Any]:
        """spec: server-server-api "Spaces", GET /hierarchy/{roomId} (no pagination)."""
        room = await self.events.get_room(room_id)
        if room is None or not self._known_locally(room):
            raise MatrixError("M_NOT_FOUND", 404, "Unknown room")
        summary = self.local_summary(room)
        if not await self._server_may_see(summary, room, origin):
            raise MatrixError("M_FORBIDDEN", 403, "The requesting server may not view this room")
        children: list[dict[str, Any]] = []
        inaccessible: list[str] = []
        for child in summary["children_state"]:
            if suggested_only and child["content"].get("suggested") is not True:
                continue
            child_room = await self.events.get_room(child["state_key"])
            if child_room is None or not self._known_locally(child_room):
                continue  # we cannot describe it: leave it out entirely (spec)
            child_summary = self.local_summary(child_room)
            if await self._server_may_see(child_summary, child_room, origin):
                children.append(child_summary)
            else:
                inaccessible.append(child["state_key"])
        return {"room": summary, "children": children, "inaccessible_children": inaccessible}

    async def _server_may_see(self, summary: dict[str, Any], room: RoomState, origin: str) -> bool:
        """Whether ``origin`` has a viable way to peek or join (spec: inaccessible_children)."""
        if summary_is_open(summary) or self._server_has_member(room, origin, ("join", "invite")):
            return True
        # Restricted: viable when the origin has a member in an allowed room, which we can only
        # tell for allowed rooms held here (as Synapse; the requesting server then filters
        # for its own users).
        for allowed_id in summary.get("allowed_room_ids", []):
            allowed = await self.events.get_room(allowed_id)
            if allowed is not None and self._server_has_member(allowed, origin, ("join",)):
                return True
        return False

    @staticmethod
    def _server_has_member(room: RoomState, server: str, memberships: tuple[str, ...]) -> bool:
        suffix = ":" + server
        return any(
            etype == "m.room.member" and (state_key or "").endswith(suffix)
            and ev.content.get("membership") in memberships
            for (etype, state_key), ev in room.state.items()
        )
