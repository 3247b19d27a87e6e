"""The local picture of one room, kept current from /sync (pure).

spec: client-server-api "Calculating the display name for a room" and
"Calculating the display name for a user"; power levels from m.room.power_levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from clients.sdk.timeline import Timeline

MESSAGE_TYPES = ("m.room.message", "m.room.encrypted", "m.sticker")
# Room versions where creators outrank everyone (spec: room version 12, "Privileged creators").
PRIVILEGED_CREATOR_VERSIONS = frozenset({"12", "org.matrix.hydra.11"})
# MatrixRTC membership of the room's voice channel, one state event per device (docs/voice.md).
CALL_MEMBER_TYPE = "org.matrix.msc3401.call.member"


@dataclass(slots=True)
class Member:
    user_id: str
    membership: str
    display_name: str | None = None
    avatar_url: str | None = None


@dataclass(slots=True)
class Room:
    room_id: str
    own_user_id: str
    my_membership: str = "join"
    name: str | None = None
    topic: str | None = None
    canonical_alias: str | None = None
    room_type: str | None = None  # "m.space" for spaces
    encrypted: bool = False
    members: dict[str, Member] = field(default_factory=dict)
    power_levels: dict[str, Any] = field(default_factory=dict)
    creator: str | None = None
    room_version: str = "1"
    additional_creators: list[str] = field(default_factory=list)
    heroes: list[str] = field(default_factory=list)
    joined_count: int | None = None
    invited_count: int | None = None
    # Server-computed counts (unread_notifications), when the server sends them.
    notification_count: int | None = None
    highlight_count: int | None = None
    # Messages from others since our last receipt or message, counted locally.
    local_unread: int = 0
    inviter: str | None = None
    invite_is_direct: bool = False
    is_direct: bool = False
    typing: list[str] = field(default_factory=list)
    read_receipts: dict[str, str] = field(default_factory=dict)  # user -> event ID
    space_children: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Voice channel members: state key -> the (non-empty) call member event, as received.
    call_members: dict[str, dict[str, Any]] = field(default_factory=dict)
    prev_batch: str | None = None
    last_event_ts: int = 0
    timeline: Timeline = field(default_factory=Timeline)

    # --- derived views ------------------------------------------------------------------
    @property
    def is_space(self) -> bool:
        return self.room_type == "m.space"

    @property
    def unread(self) -> int:
        return self.notification_count if self.notification_count is not None else self.local_unread

    def members_with(self, membership: str) -> list[Member]:
        return [m for m in self.members.values() if m.membership == membership]

    @property
    def joined_members(self) -> list[Member]:
        return self.members_with("join")

    def member_name(self, user_id: str) -> str:
        """A member's display name, disambiguated with the user ID when another joined or
        invited member uses the same name (spec: "Calculating the display name for a user")."""
        member = self.members.get(user_id)
        name = member.display_name if member is not None else None
        if not name:
            return user_id
        clash = any(
            other.user_id != user_id
            and other.display_name == name
            and other.membership in ("join", "invite")
            for other in self.members.values()
        )
        return f"{name} ({user_id})" if clash else name

    @property
    def display_name(self) -> str:
        """spec: "Calculating the display name for a room"."""
        if self.name:
            return self.name
        if self.canonical_alias:
            return self.canonical_alias
        heroes = [h for h in self.heroes if h != self.own_user_id]
        if not heroes:
            heroes = sorted(
                m.user_id
                for m in self.members.values()
                if m.user_id != self.own_user_id and m.membership in ("join", "invite")
            )[:5]
        if heroes:
            names = [self.member_name(h) for h in heroes]
            others = (self.joined_count or 0) + (self.invited_count or 0) - 1 - len(heroes)
            if others > 0:
                return f"{', '.join(names)} and {others} others"
            return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return "Empty room"

    @property
    def creators(self) -> set[str]:
        return ({self.creator} if self.creator else set()) | set(self.additional_creators)

    def power_level(self, user_id: str) -> int | float:
        """spec: m.room.power_levels; with no such event the creator has 100, others 0.
        In room version 12 creators have infinite power whatever the event says."""
        if self.room_version in PRIVILEGED_CREATOR_VERSIONS and user_id in self.creators:
            return math.inf
        if not self.power_levels:
            return 100 if user_id == self.creator else 0
        users = self.power_levels.get("users")
        if isinstance(users, dict) and isinstance(users.get(user_id), int):
            return int(users[user_id])
        default = self.power_levels.get("users_default", 0)
        return int(default) if isinstance(default, int) else 0

    def required_level(self, action: str) -> int:
        """Level needed for kick/ban/invite/redact, or to send state event type `action`."""
        defaults = {"kick": 50, "ban": 50, "redact": 50, "invite": 0}
        if action in defaults:
            value = self.power_levels.get(action, defaults[action])
            return int(value) if isinstance(value, int) else defaults[action]
        events = self.power_levels.get("events")
        if isinstance(events, dict) and isinstance(events.get(action), int):
            return int(events[action])
        value = self.power_levels.get("state_default", 50 if self.power_levels else 0)
        return int(value) if isinstance(value, int) else 50

    # --- applying events ----------------------------------------------------------------
    def apply_state(self, event: dict[str, Any]) -> None:
        etype = event.get("type")
        state_key = event.get("state_key")
        content = event.get("content")
        if not isinstance(content, dict) or not isinstance(state_key, str):
            return
        if etype == "m.room.member":
            membership = content.get("membership")
            if not isinstance(membership, str):
                return
            name = content.get("displayname")
            avatar = content.get("avatar_url")
            self.members[state_key] = Member(
                state_key,
                membership,
                name if isinstance(name, str) else None,
                avatar if isinstance(avatar, str) else None,
            )
            if state_key == self.own_user_id:
                self.my_membership = membership
                if membership == "invite":
                    self.inviter = event.get("sender") if isinstance(event.get("sender"), str) else None
                    self.invite_is_direct = content.get("is_direct") is True
        elif etype == "m.room.name":
            self.name = content.get("name") or None
        elif etype == "m.room.topic":
            self.topic = content.get("topic") if isinstance(content.get("topic"), str) else None
        elif etype == "m.room.canonical_alias":
            self.canonical_alias = content.get("alias") if isinstance(content.get("alias"), str) else None
        elif etype == "m.room.power_levels":
            self.power_levels = dict(content)
        elif etype == "m.room.encryption":
            self.encrypted = True
        elif etype == "m.room.create":
            room_type = content.get("type")
            self.room_type = room_type if isinstance(room_type, str) else None
            creator = content.get("creator") or event.get("sender")
            self.creator = creator if isinstance(creator, str) else None
            self.room_version = str(content.get("room_version", "1"))
            extra = content.get("additional_creators")
            if isinstance(extra, list):
                self.additional_creators = [u for u in extra if isinstance(u, str)]
        elif etype == "m.space.child":
            # spec: a child event without `via` is no child (it was removed).
            if isinstance(content.get("via"), list) and content["via"]:
                self.space_children[state_key] = dict(content)
            else:
                self.space_children.pop(state_key, None)
        elif etype == CALL_MEMBER_TYPE:
            # An empty content is a device that left the channel.
            if content:
                self.call_members[state_key] = dict(event)
            else:
                self.call_members.pop(state_key, None)

    def apply_timeline_event(self, event: dict[str, Any]) -> None:
        if "state_key" in event:
            self.apply_state(event)
        ts = event.get("origin_server_ts")
        if isinstance(ts, int):
            self.last_event_ts = max(self.last_event_ts, ts)
        if event.get("type") in MESSAGE_TYPES and "state_key" not in event:
            if event.get("sender") == self.own_user_id:
                self.local_unread = 0
            elif not _is_relation(event, "m.replace"):
                self.local_unread += 1
        self.timeline.add(event)

    def apply_receipt(self, content: dict[str, Any]) -> None:
        """An m.receipt EDU: remember each user's read position; ours resets the unread count."""
        for event_id, by_type in content.items():
            if not isinstance(by_type, dict):
                continue
            for receipt_type in ("m.read", "m.read.private"):
                readers = by_type.get(receipt_type)
                if not isinstance(readers, dict):
                    continue
                for user_id in readers:
                    self.read_receipts[user_id] = event_id
                    if user_id == self.own_user_id:
                        self.local_unread = self._unread_after(event_id)

    def _unread_after(self, event_id: str) -> int:
        items = self.timeline.items
        for index, item in enumerate(items):
            if item.event_id == event_id:
                return sum(1 for later in items[index + 1:] if later.sender != self.own_user_id)
        return 0


def _is_relation(event: dict[str, Any], rel_type: str) -> bool:
    content = event.get("content")
    relates = content.get("m.relates_to") if isinstance(content, dict) else None
    return isinstance(relates, dict) and relates.get("rel_type") == rel_type
