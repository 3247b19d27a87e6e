"""Room versions Parley understands, as data.

spec: rooms/_index.md. Each supported version is described by the rule
switches that differ between versions, so the rest of the rooms core asks
``version.hash_room_ids`` instead of comparing version strings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoomVersion:
    identifier: str
    # v11+: redaction algorithm of rooms/v11.md (keeps all of m.room.create content,
    # `invite` in power levels, `signed` in third-party invites; drops top-level `origin` etc.)
    v11_redaction: bool
    # v11+: `creator` no longer in m.room.create content; the sender is the creator.
    creator_is_sender: bool
    # v12: the room ID is "!" + the create event's reference hash; the create event
    # has no room_id and is never listed in auth_events.
    hash_room_ids: bool
    # v12: the create event's sender and content.additional_creators have infinite power.
    privileged_creators: bool
    # v12: state resolution v2.1 (start from empty state, iterative auth checks on
    # the unconflicted set are not re-used, see rooms/v12.md).
    state_res_v2_1: bool
    # v10+: power levels must be integers (not strings).
    strict_integer_power_levels: bool = True
    knock_join_rule: bool = True
    restricted_join_rule: bool = True
    knock_restricted_join_rule: bool = True


ROOM_VERSION_10 = RoomVersion(
    identifier="10",
    v11_redaction=False,
    creator_is_sender=False,
    hash_room_ids=False,
    privileged_creators=False,
    state_res_v2_1=False,
)
ROOM_VERSION_11 = RoomVersion(
    identifier="11",
    v11_redaction=True,
    creator_is_sender=True,
    hash_room_ids=False,
    privileged_creators=False,
    state_res_v2_1=False,
)
ROOM_VERSION_12 = RoomVersion(
    identifier="12",
    v11_redaction=True,
    creator_is_sender=True,
    hash_room_ids=True,
    privileged_creators=True,
    state_res_v2_1=True,
)

KNOWN_ROOM_VERSIONS: dict[str, RoomVersion] = {
    v.identifier: v for v in (ROOM_VERSION_10, ROOM_VERSION_11, ROOM_VERSION_12)
}

# spec: rooms/_index.md — "Servers SHOULD use room version 12 as the default".
DEFAULT_ROOM_VERSION = ROOM_VERSION_12


def get_room_version(identifier: str) -> RoomVersion | None:
    return KNOWN_ROOM_VERSIONS.get(identifier)
