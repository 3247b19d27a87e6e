"""Room versions Parley understands, as data.

spec: rooms/_index.md and rooms/v1.md … v12.md. Each supported version is
described by the rule switches that differ between versions, so the rest of
the code asks ``version.hash_room_ids`` or ``version.event_id_format`` instead
of comparing version strings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum


class EventIdFormat(Enum):
    """How events name each other (spec: rooms/fragments/v1-event-ids.md, v3.md, v4-event-ids.md)."""

    # v1, v2: the creating server picks "$opaque:server" and puts it in the PDU's
    # `event_id`; `prev_events`/`auth_events` are [event_id, {"sha256": hash}] pairs.
    SERVER_GENERATED = "v1"
    # v3: "$" + the reference hash in standard unpadded base64; plain ID lists.
    REFERENCE_HASH = "v3"
    # v4+: "$" + the reference hash in URL-safe unpadded base64.
    URL_SAFE_REFERENCE_HASH = "v4"


class StateResolution(Enum):
    V1 = "v1"  # rooms/v1.md, "State resolution"
    V2 = "v2"  # rooms/fragments/v2-state-res.md
    V2_1 = "v2.1"  # rooms/v12.md


@dataclass(frozen=True, slots=True)
class RoomVersion:
    identifier: str
    event_id_format: EventIdFormat
    state_resolution: StateResolution
    # v1-v5: auth rule 4 lets a server set its own m.room.aliases (state_key = its
    # domain) without being in the room, and redaction keeps `aliases` (removed in v6).
    special_case_aliases: bool
    # v5+: a signing key counts only while its valid_until_ts covers the event
    # (rooms/fragments/v5-signing-requirements.md).
    enforce_key_validity: bool
    # v6+: events must be canonical JSON (no floats, integers within ±(2**53 - 1));
    # before, servers "MUST NOT strictly enforce" it (v1-canonical-json.md).
    strict_canonical_json: bool
    # v6+: power level changes also check the `notifications` object (rules 9.4, 9.5).
    limit_notifications_power_levels: bool
    # v7+: the `knock` membership and join rule.
    knock_join_rule: bool
    # v8+: the `restricted` join rule and `join_authorised_via_users_server`; redaction
    # keeps `allow` in m.room.join_rules.
    restricted_join_rule: bool
    # v9+: redaction keeps `join_authorised_via_users_server` in m.room.member.
    restricted_join_rule_fix: bool
    # v10+: the `knock_restricted` join rule.
    knock_restricted_join_rule: bool
    # v10+: power levels must be integers (v1-v9 accept integer strings, v1-v5 floats too).
    strict_integer_power_levels: bool
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

    @property
    def event_id_in_pdu(self) -> bool:
        """v1, v2: the PDU carries its own (server-chosen) ``event_id``."""
        return self.event_id_format is EventIdFormat.SERVER_GENERATED

    @property
    def redaction_auth_rule(self) -> bool:
        """v1, v2: auth rule 11 decides m.room.redaction (redact level, or the same
        event ID domain); from v3 the rule is gone and "Handling redactions" applies."""
        return self.event_id_format is EventIdFormat.SERVER_GENERATED

    @property
    def state_res_v2_1(self) -> bool:
        return self.state_resolution is StateResolution.V2_1


ROOM_VERSION_1 = RoomVersion(
    identifier="1",
    event_id_format=EventIdFormat.SERVER_GENERATED,
    state_resolution=StateResolution.V1,
    special_case_aliases=True,
    enforce_key_validity=False,
    strict_canonical_json=False,
    limit_notifications_power_levels=False,
    knock_join_rule=False,
    restricted_join_rule=False,
    restricted_join_rule_fix=False,
    knock_restricted_join_rule=False,
    strict_integer_power_levels=False,
    v11_redaction=False,
    creator_is_sender=False,
    hash_room_ids=False,
    privileged_creators=False,
)
# Each later version is the one before it with the changes its page lists.
ROOM_VERSION_2 = replace(ROOM_VERSION_1, identifier="2", state_resolution=StateResolution.V2)
ROOM_VERSION_3 = replace(ROOM_VERSION_2, identifier="3", event_id_format=EventIdFormat.REFERENCE_HASH)
ROOM_VERSION_4 = replace(
    ROOM_VERSION_3, identifier="4", event_id_format=EventIdFormat.URL_SAFE_REFERENCE_HASH
)
ROOM_VERSION_5 = replace(ROOM_VERSION_4, identifier="5", enforce_key_validity=True)
ROOM_VERSION_6 = replace(
    ROOM_VERSION_5,
    identifier="6",
    special_case_aliases=False,
    strict_canonical_json=True,
    limit_notifications_power_levels=True,
)
ROOM_VERSION_7 = replace(ROOM_VERSION_6, identifier="7", knock_join_rule=True)
ROOM_VERSION_8 = replace(ROOM_VERSION_7, identifier="8", restricted_join_rule=True)
ROOM_VERSION_9 = replace(ROOM_VERSION_8, identifier="9", restricted_join_rule_fix=True)
ROOM_VERSION_10 = replace(
    ROOM_VERSION_9,
    identifier="10",
    knock_restricted_join_rule=True,
    strict_integer_power_levels=True,
)
ROOM_VERSION_11 = replace(ROOM_VERSION_10, identifier="11", v11_redaction=True, creator_is_sender=True)
ROOM_VERSION_12 = replace(
    ROOM_VERSION_11,
    identifier="12",
    state_resolution=StateResolution.V2_1,
    hash_room_ids=True,
    privileged_creators=True,
)

KNOWN_ROOM_VERSIONS: dict[str, RoomVersion] = {
    v.identifier: v
    for v in (
        ROOM_VERSION_1, ROOM_VERSION_2, ROOM_VERSION_3, ROOM_VERSION_4, ROOM_VERSION_5,
        ROOM_VERSION_6, ROOM_VERSION_7, ROOM_VERSION_8, ROOM_VERSION_9, ROOM_VERSION_10,
        ROOM_VERSION_11, ROOM_VERSION_12,
    )
}

# spec: rooms/_index.md — "Servers SHOULD use room version 12 as the default".
DEFAULT_ROOM_VERSION = ROOM_VERSION_12


def get_room_version(identifier: str) -> RoomVersion | None:
    return KNOWN_ROOM_VERSIONS.get(identifier)
