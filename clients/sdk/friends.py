""""Friends": DM contacts from m.direct plus pending DM invitations (pure).

A contact is a user we share a joined DM room with. An incoming request is a DM
invite to us; an outgoing one is a DM room we joined where the other user is still
invited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clients.sdk.state import ClientState

FriendStatus = Literal["contact", "incoming", "outgoing"]


@dataclass(frozen=True, slots=True)
class Friend:
    user_id: str
    room_id: str
    status: FriendStatus
    display_name: str | None
    presence: str | None
    last_active_ago: int | None


def friends(state: ClientState) -> list[Friend]:
    found: dict[str, Friend] = {}
    rank = {"contact": 0, "outgoing": 1, "incoming": 2}

    def offer(friend: Friend) -> None:
        current = found.get(friend.user_id)
        if current is None or rank[friend.status] < rank[current.status]:
            found[friend.user_id] = friend

    for user_id, room_ids in state.direct.items():
        if user_id == state.user_id:
            continue
        for room_id in room_ids:
            room = state.rooms.get(room_id)
            if room is None or room.my_membership != "join":
                continue
            member = room.members.get(user_id)
            membership = member.membership if member else None
            if membership == "join":
                status: FriendStatus = "contact"
            elif membership == "invite":
                status = "outgoing"
            else:
                continue
            offer(_friend(state, user_id, room_id, status, member.display_name if member else None))
    for room in state.invites:
        if room.invite_is_direct and room.inviter and room.inviter != state.user_id:
            member = room.members.get(room.inviter)
            offer(_friend(state, room.inviter, room.room_id, "incoming",
                          member.display_name if member else None))
    return sorted(found.values(), key=lambda f: (rank[f.status], f.user_id))


def _friend(
    state: ClientState, user_id: str, room_id: str, status: FriendStatus, name: str | None
) -> Friend:
    presence = state.presence.get(user_id)
    return Friend(
        user_id=user_id,
        room_id=room_id,
        status=status,
        display_name=name,
        presence=presence.presence if presence else None,
        last_active_ago=presence.last_active_ago if presence else None,
    )
