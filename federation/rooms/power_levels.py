"""Power levels: who counts as a room creator, what level a user has, what level an action needs.

Pure helpers shared by the authorisation rules, state resolution and the
services that answer "may this user do X?" for the client API.

spec: data/event-schemas/schema/m.room.power_levels.yaml for the defaults;
rooms/v12.md for room creators, whose power level is infinite from v12 on.

Values are read defensively: a value that is not an integer (JSON booleans
included) is treated as absent and the default applies. The auth rules reject
such power level events in v10+, so this only matters for malformed input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from federation.rooms.events import Event
from federation.rooms.versions import RoomVersion

PowerLevelsContent = Mapping[str, Any]
PowerLevel = int | float  # float only for math.inf, the level of a v12 room creator

# spec: m.room.power_levels.yaml, defaults when a key (or the whole event) is absent.
DEFAULT_USERS_DEFAULT = 0
DEFAULT_EVENTS_DEFAULT = 0
DEFAULT_STATE_DEFAULT = 50
DEFAULT_BAN_LEVEL = 50
DEFAULT_KICK_LEVEL = 50
DEFAULT_REDACT_LEVEL = 50
DEFAULT_INVITE_LEVEL = 0
DEFAULT_ROOM_NOTIFICATION_LEVEL = 50
# spec: rooms v1-v11 — without an m.room.power_levels event the creator has 100.
CREATOR_LEVEL_WITHOUT_POWER_LEVELS = 100

_EMPTY: Mapping[str, Any] = {}


def is_integer(value: object) -> bool:
    """A JSON integer: ``int`` but not ``bool`` (``True`` is an ``int`` in Python)."""
    return type(value) is int


def _integer_or(value: object, default: int) -> int:
    return value if type(value) is int else default  # type: ignore[return-value]


def room_creators(create_event: Event, room_version: RoomVersion) -> frozenset[str]:
    """The users the room version treats as the room's creators.

    v12: the create event's sender plus ``content.additional_creators``
    (spec: rooms/v12.md, "room creators"). v11: the sender. v10: ``content.creator``.
    """
    content = create_event.content
    if room_version.privileged_creators:
        additional = content.get("additional_creators")
        creators = {create_event.sender}
        if isinstance(additional, list):
            creators.update(u for u in additional if isinstance(u, str))
        return frozenset(creators)
    if room_version.creator_is_sender:
        return frozenset((create_event.sender,))
    creator = content.get("creator")
    return frozenset((creator,)) if isinstance(creator, str) else frozenset()


def is_room_creator(user_id: str, create_event: Event, room_version: RoomVersion) -> bool:
    """Same answer as ``user_id in room_creators(...)`` without building a set."""
    if room_version.privileged_creators:
        if user_id == create_event.sender:
            return True
        additional = create_event.content.get("additional_creators")
        return isinstance(additional, list) and user_id in additional
    if room_version.creator_is_sender:
        return user_id == create_event.sender
    return user_id == create_event.content.get("creator")


def user_power_level(
    user_id: str,
    power_levels_content: PowerLevelsContent | None,
    create_event: Event | None,
    room_version: RoomVersion,
) -> PowerLevel:
    """The power level of ``user_id`` given the room's current power levels.

    ``power_levels_content`` is None when the room has no m.room.power_levels event.
    Returns ``math.inf`` for room creators in room versions with privileged creators.
    """
    if create_event is not None:
        if room_version.privileged_creators:
            if is_room_creator(user_id, create_event, room_version):
                return math.inf
        elif power_levels_content is None and is_room_creator(
            user_id, create_event, room_version
        ):
            return CREATOR_LEVEL_WITHOUT_POWER_LEVELS
    if power_levels_content is None:
        return DEFAULT_USERS_DEFAULT
    users = power_levels_content.get("users")
    if isinstance(users, Mapping):
        level = users.get(user_id)
        if type(level) is int:
            return level
    return _integer_or(power_levels_content.get("users_default"), DEFAULT_USERS_DEFAULT)


def required_power_level(
    event_type: str, is_state_event: bool, power_levels_content: PowerLevelsContent | None
) -> int:
    """The level needed to send an event of ``event_type`` (the auth rules' "required power level")."""
    content = power_levels_content if power_levels_content is not None else _EMPTY
    events = content.get("events")
    if isinstance(events, Mapping):
        level = events.get(event_type)
        if type(level) is int:
            return level
    if is_state_event:
        return _integer_or(content.get("state_default"), DEFAULT_STATE_DEFAULT)
    return _integer_or(content.get("events_default"), DEFAULT_EVENTS_DEFAULT)


def invite_level(power_levels_content: PowerLevelsContent | None) -> int:
    return _named_level(power_levels_content, "invite", DEFAULT_INVITE_LEVEL)


def kick_level(power_levels_content: PowerLevelsContent | None) -> int:
    return _named_level(power_levels_content, "kick", DEFAULT_KICK_LEVEL)


def ban_level(power_levels_content: PowerLevelsContent | None) -> int:
    return _named_level(power_levels_content, "ban", DEFAULT_BAN_LEVEL)


def redact_level(power_levels_content: PowerLevelsContent | None) -> int:
    """Level needed to redact *another* user's event (not used by the auth rules)."""
    return _named_level(power_levels_content, "redact", DEFAULT_REDACT_LEVEL)


def notification_level(key: str, power_levels_content: PowerLevelsContent | None) -> int:
    """Level needed to trigger the notification ``key`` (e.g. "room" for @room).

    Only "room" has a specified default (50); unknown keys default to 50 as well,
    the most conservative choice the spec's examples suggest.
    """
    if power_levels_content is not None:
        notifications = power_levels_content.get("notifications")
        if isinstance(notifications, Mapping):
            level = notifications.get(key)
            if type(level) is int:
                return level
    return DEFAULT_ROOM_NOTIFICATION_LEVEL


def _named_level(content: PowerLevelsContent | None, key: str, default: int) -> int:
    if content is None:
        return default
    return _integer_or(content.get(key), default)
