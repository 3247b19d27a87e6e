"""Power levels: who counts as a room creator, what level a user has, what level an action needs.

Pure helpers shared by the authorisation rules, state resolution and the
services that answer "may this user do X?" for the client API.

spec: data/event-schemas/schema/m.room.power_levels.yaml for the defaults;
rooms/v12.md for room creators, whose power level is infinite from v12 on.

Values are read as room versions 1-9 allow them: integers, integer strings
(rooms/fragments/v1-stringy-power-levels.md: optional whitespace and sign, leading
zeros) and, from v1-v5 events, floats truncated toward zero
(v1-floaty-power-levels.md). One reader serves every version because the versions
that forbid those forms never accept a power levels event holding them: v6+
canonical JSON refuses floats, and the v10+ auth rules refuse strings. Anything
else (JSON booleans included) is treated as absent and the default applies.
"""

from __future__ import annotations

import math
import re
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


# spec: v1-stringy-power-levels.md — "a single base 10 integer … optionally prefixed with a
# single - or +", "any number of leading or trailing whitespace characters".
_INTEGER_STRING = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)
# Floats beyond a double's integer range are refused (v1-floaty-power-levels.md);
# NaN and infinities never parse from JSON.
_MAX_FLOAT_LEVEL = 2.0**63


def is_integer(value: object) -> bool:
    """A JSON integer: ``int`` but not ``bool`` (``True`` is an ``int`` in Python)."""
    return type(value) is int


def parse_power_level(value: object) -> int | None:
    """A power level as room versions 1-9 may write it, or None if it is not one."""
    if type(value) is int:
        return value
    if isinstance(value, str) and _INTEGER_STRING.fullmatch(value):
        return int(value)
    if type(value) is float and math.isfinite(value) and abs(value) < _MAX_FLOAT_LEVEL:
        return int(value)
    return None


def is_power_level(value: object, room_version: RoomVersion) -> bool:
    """Whether the auth rules accept ``value`` as a power level in ``room_version``:
    integers only from v10 (rooms/v10.md), integer strings before, floats in v1-v5."""
    if room_version.strict_integer_power_levels:
        return type(value) is int
    if type(value) is float and room_version.strict_canonical_json:
        return False
    return parse_power_level(value) is not None


def _integer_or(value: object, default: int) -> int:
    if type(value) is int:
        return value  # type: ignore[return-value]
    level = parse_power_level(value)
    return default if level is None else level


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
        if level is not None and (parsed := parse_power_level(level)) is not None:
            return parsed
    return _integer_or(power_levels_content.get("users_default"), DEFAULT_USERS_DEFAULT)


def required_power_level(
    event_type: str, is_state_event: bool, power_levels_content: PowerLevelsContent | None
) -> int:
    """The level needed to send an event of ``event_type`` (the auth rules' "required power level")."""
    content = power_levels_content if power_levels_content is not None else _EMPTY
    events = content.get("events")
    if isinstance(events, Mapping):
        level = events.get(event_type)
        if level is not None and (parsed := parse_power_level(level)) is not None:
            return parsed
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
            if level is not None and (parsed := parse_power_level(level)) is not None:
                return parsed
    return DEFAULT_ROOM_NOTIFICATION_LEVEL


def _named_level(content: PowerLevelsContent | None, key: str, default: int) -> int:
    if content is None:
        return default
    return _integer_or(content.get(key), default)


_LEVEL_SCALARS = ("users_default", "events_default", "state_default", "ban", "redact", "kick", "invite")
_LEVEL_MAPS = ("events", "notifications", "users")


def integer_power_levels(content: PowerLevelsContent) -> dict[str, Any]:
    """A copy of power levels content with every level as an integer, e.g. to carry an
    old room's levels into a room version that refuses strings (v10+) or floats (v6+).
    Levels that do not parse are left out, so the defaults apply as they did before."""
    out = dict(content)
    for key in _LEVEL_SCALARS:
        if key in out:
            level = parse_power_level(out[key])
            if level is None:
                del out[key]
            else:
                out[key] = level
    for key in _LEVEL_MAPS:
        value = out.get(key)
        if isinstance(value, Mapping):
            out[key] = {
                name: level
                for name, raw in value.items()
                if (level := parse_power_level(raw)) is not None
            }
    return out
