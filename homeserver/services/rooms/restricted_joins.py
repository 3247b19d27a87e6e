"""Joins to rooms with the restricted join rule (spec: client-server-api "Restricted rooms",
server-server-api.md "Restricted rooms" and room version 8+ auth rules).

A user who is not invited may join when they are joined to one of the rooms in
the join rule's `allow` list; the joining server names one of its own joined
users with the power to invite in `join_authorised_via_users_server`, and the
auth rules check that user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from federation.rooms.power_levels import invite_level, user_power_level
from homeserver.core.room_state import RoomState
from homeserver.core.room_summary import RESTRICTED_RULES, allowed_room_ids, join_rule_of
from homeserver.errors import MatrixError, forbidden
from homeserver.services.graph.events import EventService


async def meets_allow_conditions(events: EventService, room: RoomState, user_id: str) -> bool:
    """Whether the user is joined to one of the rooms the join rule allows."""
    for allowed in allowed_room_ids(room):
        other = await events.get_room(allowed)
        if other is not None and other.membership(user_id) == "join":
            return True
    return False


def authorising_user(is_mine: Callable[[str], bool], room: RoomState) -> str | None:
    """A local joined user who may invite, to vouch for a restricted join."""
    levels = room.state_content("m.room.power_levels") or None
    needed = invite_level(levels)
    candidates = sorted(u for u in room.members_with("join") if is_mine(u))
    best = max(
        candidates,
        key=lambda u: user_power_level(u, levels, room.create_event, room.version),
        default=None,
    )
    if best is None or user_power_level(best, levels, room.create_event, room.version) < needed:
        return None
    return best


async def restricted_join_content(
    events: EventService, is_mine: Callable[[str], bool], room: RoomState, user_id: str
) -> dict[str, str]:
    """Extra m.room.member content for joining ``room``, or 403 when the user may not.

    Empty for rooms that are not restricted, and for users already invited or
    joined (they join under the usual rules).
    """
    if join_rule_of(room) not in RESTRICTED_RULES or room.membership(user_id) in ("invite", "join"):
        return {}
    if not await meets_allow_conditions(events, room, user_id):
        raise forbidden("You are not a member of any room that grants access to this one")
    authoriser = authorising_user(is_mine, room)
    if authoriser is None:
        # spec: server-server-api.md — no user here can issue the join.
        raise MatrixError("M_UNABLE_TO_GRANT_JOIN", 400, "No user on this server can authorise the join")
    return {"join_authorised_via_users_server": authoriser}


async def member_content_from_client(
    events: EventService,
    is_mine: Callable[[str], bool],
    room: RoomState,
    sender: str,
    target: str,
    content: dict[str, Any],
) -> dict[str, Any]:
    """A client's m.room.member content with the authorising user chosen by this server.

    ``join_authorised_via_users_server`` must be signed for by the named user's server
    (rooms/v8.md auth rules), so a client cannot pick it: it is dropped, and set again only
    when the join needs one (a new join to a restricted room; join -> join needs none).
    """
    if "join_authorised_via_users_server" not in content:
        return content
    cleaned = {k: v for k, v in content.items() if k != "join_authorised_via_users_server"}
    if cleaned.get("membership") == "join" and target == sender:
        cleaned.update(await restricted_join_content(events, is_mine, room, sender))
    return cleaned
