"""Room version 12's privileged creators, checked before a local event is built.

spec: rooms/v12.md — the room's creators (the create event's sender and
``additional_creators``) have infinite power and "MUST NOT" appear in the power
levels' ``users``. The auth rules reject such an event (403); a client asking for
one is sending a malformed request, so it gets 400 as Synapse answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from federation.rooms.power_levels import room_creators
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError


def check_creators_not_in_users(creators: Iterable[str], power_levels: Mapping[str, Any]) -> None:
    users = power_levels.get("users")
    if not isinstance(users, Mapping):
        return
    listed = sorted(set(creators) & set(users))
    if listed:
        raise MatrixError("M_BAD_JSON", 400, f"Room creators cannot be given a power level: {', '.join(listed)}")


def reject_creators_in_power_levels(
    room: RoomState, sender: str, event_type: str, content: dict[str, Any], state_key: str | None
) -> None:
    """A send check (EventService.add_send_check) for m.room.power_levels in v12 rooms."""
    if event_type != "m.room.power_levels" or state_key != "" or not room.version.privileged_creators:
        return
    check_creators_not_in_users(room_creators(room.create_event, room.version), content)
