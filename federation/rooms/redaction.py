"""The redaction algorithm: which parts of an event survive a redaction.

The same algorithm decides what the reference hash (and so the event ID) and
the server signatures of an event cover, so it must match other servers
byte for byte.

spec: rooms/fragments/v1-redactions.md (room versions 1-5), v6-redactions.md
(6, 7), rooms/v8.md (8), v9-redactions.md (9, 10) and v11-redactions.md (11, 12).
"""

from __future__ import annotations

from typing import Any

from federation.rooms.versions import RoomVersion

_V9_TOP_LEVEL_KEYS = frozenset(
    {
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "prev_state",
        "auth_events",
        "origin",
        "origin_server_ts",
        "membership",
    }
)
# spec: rooms/v11.md — top-level `origin`, `membership` and `prev_state` are no
# longer protected.
_V11_TOP_LEVEL_KEYS = _V9_TOP_LEVEL_KEYS - {"origin", "membership", "prev_state"}

_POWER_LEVELS_V9_KEYS = (
    "ban",
    "events",
    "events_default",
    "kick",
    "redact",
    "state_default",
    "users",
    "users_default",
)


def _pre_v11_content_keys(room_version: RoomVersion) -> dict[str, tuple[str, ...]]:
    """The content keys redaction keeps, by event type, in room versions 1-10."""
    member: tuple[str, ...] = ("membership",)
    if room_version.restricted_join_rule_fix:
        # spec: rooms/v9.md — keeps join_authorised_via_users_server.
        member = (*member, "join_authorised_via_users_server")
    join_rules: tuple[str, ...] = ("join_rule",)
    if room_version.restricted_join_rule:
        # spec: rooms/v8.md — m.room.join_rules keeps `allow`.
        join_rules = (*join_rules, "allow")
    keys = {
        "m.room.member": member,
        "m.room.create": ("creator",),
        "m.room.join_rules": join_rules,
        "m.room.power_levels": _POWER_LEVELS_V9_KEYS,
        "m.room.history_visibility": ("history_visibility",),
    }
    if room_version.special_case_aliases:
        # spec: rooms/fragments/v1-redactions.md — removed in v6-redactions.md.
        keys["m.room.aliases"] = ("aliases",)
    return keys


# room version identifier -> its table (room versions 1-10), built on first use
_PRE_V11_CONTENT_KEYS: dict[str, dict[str, tuple[str, ...]]] = {}

# m.room.create (all of content kept) and the `third_party_invite.signed` part of
# m.room.member are handled in code, not by this table.
_V11_CONTENT_KEYS: dict[str, tuple[str, ...]] = {
    "m.room.member": ("membership", "join_authorised_via_users_server"),
    "m.room.join_rules": ("join_rule", "allow"),
    "m.room.power_levels": (*_POWER_LEVELS_V9_KEYS, "invite"),
    "m.room.history_visibility": ("history_visibility",),
    "m.room.redaction": ("redacts",),
}


def redact_pdu(pdu: dict[str, Any], room_version: RoomVersion) -> dict[str, Any]:
    """Return the redacted form of ``pdu`` as a new dict (``pdu`` is untouched).

    Kept values are shared with ``pdu``, not copied; treat both as immutable.
    ``unsigned`` is removed like any other unprotected key.
    """
    kept_keys = _V11_TOP_LEVEL_KEYS if room_version.v11_redaction else _V9_TOP_LEVEL_KEYS
    redacted = {key: value for key, value in pdu.items() if key in kept_keys}
    content = pdu.get("content")
    if not isinstance(content, dict):
        content = {}
    redacted["content"] = _redact_content(pdu.get("type"), content, room_version)
    return redacted


def _redact_content(
    event_type: Any, content: dict[str, Any], room_version: RoomVersion
) -> dict[str, Any]:
    if room_version.v11_redaction:
        if event_type == "m.room.create":
            # spec: rooms/v11.md — "The m.room.create event now keeps the entire content".
            return dict(content)
        kept_keys = _V11_CONTENT_KEYS.get(event_type, ())
    else:
        table = _PRE_V11_CONTENT_KEYS.get(room_version.identifier)
        if table is None:
            table = _PRE_V11_CONTENT_KEYS[room_version.identifier] = _pre_v11_content_keys(
                room_version
            )
        kept_keys = table.get(event_type, ())

    redacted = {key: content[key] for key in kept_keys if key in content}

    if room_version.v11_redaction and event_type == "m.room.member":
        # spec: rooms/v11.md — third_party_invite "will only contain the `signed`
        # key after redaction". An object without `signed` is kept as `{}`,
        # which is what Synapse does; the reference hash depends on this detail.
        third_party_invite = content.get("third_party_invite")
        if isinstance(third_party_invite, dict):
            redacted["third_party_invite"] = (
                {"signed": third_party_invite["signed"]} if "signed" in third_party_invite else {}
            )
    return redacted
