"""Everything the client knows from /sync: rooms, account data, presence (pure).

``ClientState.apply_sync`` folds one sync response into the model and returns the
updates in order, for the client to hand to callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from clients.sdk.jsonutil import as_dict
from clients.sdk.rooms import Room

UpdateKind = Literal[
    "timeline", "state", "ephemeral", "invite", "left", "room_account_data", "account_data",
    "presence", "to_device",
]


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    kind: UpdateKind
    event: dict[str, Any]
    room: Room | None = None


@dataclass(slots=True)
class PresenceInfo:
    presence: str
    last_active_ago: int | None = None
    currently_active: bool = False
    status_msg: str | None = None


@dataclass(slots=True)
class ClientState:
    user_id: str
    rooms: dict[str, Room] = field(default_factory=dict)
    account_data: dict[str, dict[str, Any]] = field(default_factory=dict)
    presence: dict[str, PresenceInfo] = field(default_factory=dict)
    next_batch: str | None = None

    # --- queries ---------------------------------------------------------------------
    def room(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = Room(room_id, self.user_id)
        return room

    def rooms_with(self, membership: str) -> list[Room]:
        return [r for r in self.rooms.values() if r.my_membership == membership]

    @property
    def joined_rooms(self) -> list[Room]:
        return self.rooms_with("join")

    @property
    def invites(self) -> list[Room]:
        return self.rooms_with("invite")

    @property
    def direct(self) -> dict[str, list[str]]:
        """m.direct account data: user ID -> DM room IDs (spec: "Direct Messaging")."""
        content = self.account_data.get("m.direct", {})
        return {
            user: [r for r in rooms if isinstance(r, str)]
            for user, rooms in content.items()
            if isinstance(user, str) and isinstance(rooms, list)
        }

    # --- applying sync ------------------------------------------------------------------
    def apply_sync(self, response: dict[str, Any]) -> list[SyncUpdate]:
        updates: list[SyncUpdate] = []
        for event in _events(response.get("account_data")):
            if isinstance(event.get("type"), str) and isinstance(event.get("content"), dict):
                self.account_data[event["type"]] = event["content"]
                updates.append(SyncUpdate("account_data", event))
        for event in _events(response.get("presence")):
            self._apply_presence(event)
            updates.append(SyncUpdate("presence", event))
        rooms = as_dict(response.get("rooms"))
        for room_id, section in _sections(rooms.get("invite")):
            updates.extend(self._apply_invite(room_id, section))
        for room_id, section in _sections(rooms.get("join")):
            updates.extend(self._apply_joined(room_id, section))
        for room_id, section in _sections(rooms.get("knock")):
            room = self.room(room_id)
            for event in _events(section.get("knock_state")):
                room.apply_state(event)
            room.my_membership = "knock"
        for room_id, section in _sections(rooms.get("leave")):
            updates.extend(self._apply_left(room_id, section))
        for event in _events(response.get("to_device")):
            updates.append(SyncUpdate("to_device", event))
        self._mark_direct_rooms()
        if isinstance(response.get("next_batch"), str):
            self.next_batch = response["next_batch"]
        return updates

    def _apply_presence(self, event: dict[str, Any]) -> None:
        sender, content = event.get("sender"), event.get("content")
        if not isinstance(sender, str) or not isinstance(content, dict):
            return
        presence = content.get("presence")
        if isinstance(presence, str):
            self.presence[sender] = PresenceInfo(
                presence,
                content.get("last_active_ago"),
                bool(content.get("currently_active", False)),
                content.get("status_msg"),
            )

    def _apply_invite(self, room_id: str, section: dict[str, Any]) -> list[SyncUpdate]:
        room = self.room(room_id)
        room.my_membership = "invite"
        own_member: dict[str, Any] | None = None
        for event in _events(section.get("invite_state")):
            room.apply_state(event)
            if event.get("type") == "m.room.member" and event.get("state_key") == self.user_id:
                own_member = event
        return [SyncUpdate("invite", own_member or {}, room)]

    def _apply_joined(self, room_id: str, section: dict[str, Any]) -> list[SyncUpdate]:
        room = self.room(room_id)
        updates: list[SyncUpdate] = []
        summary = section.get("summary")
        if isinstance(summary, dict):
            if isinstance(summary.get("m.heroes"), list):
                room.heroes = [h for h in summary["m.heroes"] if isinstance(h, str)]
            if isinstance(summary.get("m.joined_member_count"), int):
                room.joined_count = summary["m.joined_member_count"]
            if isinstance(summary.get("m.invited_member_count"), int):
                room.invited_count = summary["m.invited_member_count"]
        for event in _events(section.get("state")):
            room.apply_state(event)
            updates.append(SyncUpdate("state", event, room))
        timeline = as_dict(section.get("timeline"))
        if timeline.get("limited"):
            # A gap: older messages are not contiguous with what we hold; start afresh.
            room.timeline.clear()
        if isinstance(timeline.get("prev_batch"), str) and (
            timeline.get("limited") or room.prev_batch is None
        ):
            room.prev_batch = timeline["prev_batch"]
        for event in _events(timeline):
            room.apply_timeline_event(event)
            updates.append(SyncUpdate("timeline", event, room))
        # Being in rooms.join is what makes us joined, whatever the state shows so far.
        room.my_membership = "join"
        for event in _events(section.get("ephemeral")):
            content = as_dict(event.get("content"))
            if event.get("type") == "m.typing":
                room.typing = [u for u in content.get("user_ids", []) if isinstance(u, str)]
            elif event.get("type") == "m.receipt":
                room.apply_receipt(content)
            updates.append(SyncUpdate("ephemeral", event, room))
        for event in _events(section.get("account_data")):
            updates.append(SyncUpdate("room_account_data", event, room))
        counts = section.get("unread_notifications")
        if isinstance(counts, dict):
            if isinstance(counts.get("notification_count"), int):
                room.notification_count = counts["notification_count"]
            if isinstance(counts.get("highlight_count"), int):
                room.highlight_count = counts["highlight_count"]
        return updates

    def _apply_left(self, room_id: str, section: dict[str, Any]) -> list[SyncUpdate]:
        room = self.room(room_id)
        updates: list[SyncUpdate] = []
        own_member: dict[str, Any] = {}
        for event in _events(section.get("state")) + _events(section.get("timeline")):
            if event.get("type") == "m.room.member" and event.get("state_key") == self.user_id:
                own_member = event
        for event in _events(section.get("state")):
            room.apply_state(event)
        for event in _events(section.get("timeline")):
            room.apply_timeline_event(event)
            updates.append(SyncUpdate("timeline", event, room))
        if room.my_membership not in ("leave", "ban"):
            room.my_membership = "leave"
        updates.append(SyncUpdate("left", own_member, room))
        return updates

    def _mark_direct_rooms(self) -> None:
        direct_ids = {room_id for rooms in self.direct.values() for room_id in rooms}
        for room in self.rooms.values():
            room.is_direct = room.room_id in direct_ids or (
                room.my_membership == "invite" and room.invite_is_direct
            )


def _events(section: Any) -> list[dict[str, Any]]:
    if not isinstance(section, dict) or not isinstance(section.get("events"), list):
        return []
    return [e for e in section["events"] if isinstance(e, dict)]


def _sections(value: Any) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(value, dict):
        return []
    return [(k, v) for k, v in value.items() if isinstance(k, str) and isinstance(v, dict)]
