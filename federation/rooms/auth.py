"""The authorisation rules of room versions 1 to 12.

spec: rooms/fragments/v1-auth-rules.md (v1, v2), v3-auth-rules.md (v3-v5), rooms/v6.md,
v7.md, v8-auth-rules.md (v8, v9), rooms/v10.md, v11.md, v12.md ("Authorisation rules")
and server-server-api.md ("Auth events selection").

Rule numbers in comments follow rooms/v11.md; room version 12 inserts a rule 2
(the room ID is the create event's hash), so its later rules are one higher
(v11 rule 4.3.1 is v12 rule 5.3.1, v11 rule 9 is v12 rule 10). Room versions 1-5
have an extra rule 4 for m.room.aliases, so their later rules are one higher too
(v1 rule 10 is v11 rule 9), and versions 1 and 2 end with rule 11 for redactions.
The differences are switches of ``RoomVersion``: ``special_case_aliases`` (v1-v5),
``redaction_auth_rule`` (v1, v2), ``limit_notifications_power_levels`` (v6+),
``knock_join_rule`` (v7+), ``restricted_join_rule`` (v8+),
``knock_restricted_join_rule`` and ``strict_integer_power_levels`` (v10+).

Two entry points, because the rules mix two kinds of check:

* ``check_auth_event_list`` checks the event's *listed* ``auth_events`` themselves
  (duplicates, keys the selection algorithm would not pick, rejected entries,
  wrong room): v11 rules 2.1-2.5, v12 rules 3.1-3.5.
* ``check_auth_rules`` checks the event against a state map: either the event's own
  auth events or any room state (the state before the event, the current state, a
  partially resolved state). Only the keys chosen by ``auth_types_for_event`` are
  ever read from that map, so passing the full room state is fine.

``check_event_against_auth_events`` does both, in rule order, for the first check
on receipt of a PDU. Signature checks are cryptography and live in federation/crypto;
the two rules that need them (4.2 and 4.4.1.7) ask caller-supplied callbacks and
reject when none was supplied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from federation.rooms.events import Event, StateKey
from federation.rooms.hashes import event_id_domain
from federation.rooms.power_levels import (
    PowerLevel,
    ban_level,
    invite_level,
    is_power_level,
    kick_level,
    parse_power_level,
    redact_level,
    required_power_level,
    room_creators,
    user_power_level,
)
from federation.rooms.versions import KNOWN_ROOM_VERSIONS, RoomVersion

# Does the event carry a valid signature from this server? (rule 4.2.1)
EventSignatureCheck = Callable[[Event, str], bool]
# Is this third-party invite `signed` object signed by any of these public keys? (rule 4.4.1.7)
ThirdPartySignatureCheck = Callable[[Mapping[str, Any], Sequence[str]], bool]

CREATE = "m.room.create"
MEMBER = "m.room.member"
POWER_LEVELS = "m.room.power_levels"
JOIN_RULES = "m.room.join_rules"
THIRD_PARTY_INVITE = "m.room.third_party_invite"
ALIASES = "m.room.aliases"
REDACTION = "m.room.redaction"

CREATE_KEY: StateKey = (CREATE, "")
POWER_LEVELS_KEY: StateKey = (POWER_LEVELS, "")
JOIN_RULES_KEY: StateKey = (JOIN_RULES, "")

_POWER_LEVEL_SCALARS = (
    "users_default",
    "events_default",
    "state_default",
    "ban",
    "redact",
    "kick",
    "invite",
)
_POWER_LEVEL_MAPS = ("events", "notifications")

# spec: appendices.md, "Server Name" and "Historical User IDs" (which servers must accept).
_SERVER_NAME = re.compile(r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9A-Za-z.\-]{1,255})(?::[0-9]{1,5})?")


class AuthError(Exception):
    """The event is not allowed by the authorisation rules."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_valid_user_id(user_id: object) -> bool:
    """A user ID servers must accept over federation (historical localparts included)."""
    if not isinstance(user_id, str) or not user_id.startswith("@"):
        return False
    localpart, sep, server_name = user_id[1:].partition(":")
    if not sep or "\x00" in localpart or len(user_id.encode("utf-8")) > 255:
        return False
    return _SERVER_NAME.fullmatch(server_name) is not None


def _server_of(user_id: str) -> str:
    return user_id.partition(":")[2]


# --- auth events selection -------------------------------------------------


def auth_types_for_event(
    room_version: RoomVersion,
    event_type: str,
    state_key: str | None,
    sender: str,
    content: Mapping[str, Any],
) -> list[StateKey]:
    """The state keys an event's ``auth_events`` may (and should) reference.

    spec: server-server-api.md, "Auth events selection"; v12 never selects the create event.
    """
    if event_type == CREATE:
        return []
    if room_version.hash_room_ids:
        keys: list[StateKey] = [POWER_LEVELS_KEY, (MEMBER, sender)]
    else:
        keys = [CREATE_KEY, POWER_LEVELS_KEY, (MEMBER, sender)]
    if event_type == MEMBER and state_key is not None:
        if state_key != sender:
            keys.append((MEMBER, state_key))
        membership = content.get("membership")
        if membership in ("join", "invite", "knock"):
            keys.append(JOIN_RULES_KEY)
        if membership == "invite":
            token = _third_party_invite_token(content)
            if token is not None:
                keys.append((THIRD_PARTY_INVITE, token))
        elif membership == "join" and room_version.restricted_join_rule:
            authoriser = content.get("join_authorised_via_users_server")
            if isinstance(authoriser, str):
                key = (MEMBER, authoriser)
                if key not in keys:
                    keys.append(key)
    return keys


def _third_party_invite_token(content: Mapping[str, Any]) -> str | None:
    invite = content.get("third_party_invite")
    if not isinstance(invite, Mapping):
        return None
    signed = invite.get("signed")
    if not isinstance(signed, Mapping):
        return None
    token = signed.get("token")
    return token if isinstance(token, str) else None


def _auth_types_of(event: Event) -> list[StateKey]:
    return auth_types_for_event(
        event.room_version, event.type, event.state_key, event.sender, event.content
    )


# --- checks on the listed auth events ---------------------------------------


def check_auth_event_list(event: Event, auth_event_list: Sequence[Event]) -> None:
    """v11 rules 2.1-2.5 (v12: 3.1-3.5): the event's listed ``auth_events`` themselves.

    ``auth_event_list`` holds the events named by ``event.auth_event_ids``, loaded by the caller.
    """
    if event.type == CREATE:
        if auth_event_list:
            raise AuthError("m.room.create must not have auth_events")
        return
    allowed_keys = _auth_types_of(event)
    seen: set[StateKey] = set()
    has_create = False
    room_id = event.room_id
    for auth_event in auth_event_list:
        if not auth_event.is_state:
            raise AuthError(f"auth event {auth_event.event_id} is not a state event")
        key = auth_event.state_tuple
        # rule 2.1
        if key in seen:
            raise AuthError(f"duplicate auth events for {key}")
        seen.add(key)
        # rule 2.2 (v12: the create event is never selected, so it fails here too)
        if key not in allowed_keys:
            raise AuthError(f"auth event {auth_event.event_id} {key} is not selected for this event")
        # rule 2.3
        if auth_event.rejected_reason is not None:
            raise AuthError(f"auth event {auth_event.event_id} was rejected")
        if key == CREATE_KEY:
            has_create = True
        # rule 2.5
        if auth_event.room_id != room_id:
            raise AuthError(f"auth event {auth_event.event_id} belongs to another room")
    # rule 2.4 (not in v12, where the room ID names the create event instead)
    if not event.room_version.hash_room_ids and not has_create:
        raise AuthError("no m.room.create event among auth_events")


def check_event_against_auth_events(
    event: Event,
    auth_event_list: Sequence[Event],
    room_create_event: Event | None = None,
    *,
    is_signed_by: EventSignatureCheck | None = None,
    is_third_party_signed: ThirdPartySignatureCheck | None = None,
) -> None:
    """The first check on receipt of a PDU: allowed by the auth rules given its own auth events.

    ``room_create_event`` is required for v12 (the create event is not in ``auth_events``).
    """
    if event.type != CREATE:
        if event.room_version.hash_room_ids:
            # v12 rule 2 comes before the auth event list checks (rule 3)
            _check_room_id_names_create(event, room_create_event)
        check_auth_event_list(event, auth_event_list)
    check_auth_rules(
        event,
        {e.state_tuple: e for e in auth_event_list},
        room_create_event,
        is_signed_by=is_signed_by,
        is_third_party_signed=is_third_party_signed,
    )


# --- the rules ----------------------------------------------------------------


def check_auth_rules(
    event: Event,
    auth_events: Mapping[StateKey, Event],
    room_create_event: Event | None = None,
    *,
    is_signed_by: EventSignatureCheck | None = None,
    is_third_party_signed: ThirdPartySignatureCheck | None = None,
) -> None:
    """Raise ``AuthError`` unless ``event`` is allowed given the state ``auth_events``.

    For v10/v11 the create event is read from ``auth_events``; for v12 the caller passes
    it as ``room_create_event`` (it is never in ``auth_events`` there).
    """
    version = event.room_version
    if event.type == CREATE:
        _check_create(event)
        return

    if version.hash_room_ids:
        # v12 rule 2
        _check_room_id_names_create(event, room_create_event)
        create = room_create_event
    else:
        # rule 2.4
        create = auth_events.get(CREATE_KEY)
        if create is None:
            raise AuthError("no m.room.create event in auth events")
    assert create is not None
    room_id = event.room_id
    # rule 2.5, for the entries the selection algorithm picks
    for key in _auth_types_of(event):
        auth_event = auth_events.get(key)
        if auth_event is not None and auth_event.room_id != room_id:
            raise AuthError(f"auth event {auth_event.event_id} belongs to another room")

    # rule 3
    sender = event.sender
    if create.content.get("m.federate") is False and _server_of(sender) != _server_of(
        create.sender
    ):
        raise AuthError("room is not federated and sender is from another server")

    # v1-v5 rule 4: a server may always set its own aliases (spec: v1-auth-rules.md)
    if version.special_case_aliases and event.type == ALIASES:
        if event.state_key is None:
            raise AuthError("m.room.aliases needs a state_key")
        if event.state_key != _server_of(sender):
            raise AuthError("m.room.aliases state_key must be the sender's server")
        return

    power_levels_event = auth_events.get(POWER_LEVELS_KEY)
    power_levels = power_levels_event.content if power_levels_event is not None else None

    # rule 4
    if event.type == MEMBER:
        _check_membership(
            event, auth_events, create, power_levels, is_signed_by, is_third_party_signed
        )
        return

    # rule 5
    sender_member = auth_events.get((MEMBER, sender))
    if sender_member is None or sender_member.membership != "join":
        raise AuthError("sender is not joined to the room")

    sender_level = user_power_level(sender, power_levels, create, version)
    # rule 6
    if event.type == THIRD_PARTY_INVITE:
        if sender_level >= invite_level(power_levels):
            return
        raise AuthError("sender's power level is below the invite level")

    # rule 7
    state_key = event.state_key
    if required_power_level(event.type, state_key is not None, power_levels) > sender_level:
        raise AuthError(f"sender's power level is too low to send {event.type}")

    # rule 8
    if state_key is not None and state_key.startswith("@") and state_key != sender:
        raise AuthError("state_key starting with @ must be the sender")

    # rule 9
    if event.type == POWER_LEVELS:
        _check_power_levels_change(event, power_levels, sender_level, create)
    # v1, v2 rule 11 (spec: v1-auth-rules.md); from v3 on, redactions are judged when
    # applied instead ("Handling redactions").
    if version.redaction_auth_rule and event.type == REDACTION:
        _check_redaction(event, power_levels, sender_level)
    # rule 10: otherwise, allow.


def _check_redaction(
    event: Event, power_levels: Mapping[str, Any] | None, sender_level: PowerLevel
) -> None:
    # rule 11.1
    if sender_level >= redact_level(power_levels):
        return
    # rule 11.2: the redacted event was created by the redacting event's server
    redacts = event.redacts
    if redacts is not None and event_id_domain(redacts) == event_id_domain(event.event_id):
        return
    # rule 11.3
    raise AuthError("sender may not redact this event")


def _check_room_id_names_create(event: Event, create: Event | None) -> None:
    # spec: rooms/v12.md, rule 2 — the room ID is the accepted create event's ID with "!".
    if create is None or create.type != CREATE:
        raise AuthError("the room's m.room.create event was not supplied")
    if create.rejected_reason is not None:
        raise AuthError("the room's m.room.create event was rejected")
    if event.pdu.get("room_id") != "!" + create.event_id[1:]:
        raise AuthError("room_id does not name the room's m.room.create event")


def _check_create(event: Event) -> None:
    version = event.room_version
    content = event.content
    # rule 1.1
    if event.prev_event_ids:
        raise AuthError("m.room.create must not have prev_events")
    if version.hash_room_ids:
        # v12 rule 1.2
        if "room_id" in event.pdu:
            raise AuthError("m.room.create must not have a room_id in this room version")
    else:
        # rule 1.2
        room_id = event.pdu.get("room_id")
        if not isinstance(room_id, str) or room_id.partition(":")[2] != _server_of(event.sender):
            raise AuthError("room_id domain does not match the sender's domain")
    # rule 1.3
    if "room_version" in content and content["room_version"] not in KNOWN_ROOM_VERSIONS:
        raise AuthError("unrecognised room_version in m.room.create")
    # v10 rule 1.4
    if not version.creator_is_sender and "creator" not in content:
        raise AuthError("m.room.create has no creator")
    # v12 rule 1.4
    if version.privileged_creators and "additional_creators" in content:
        additional = content["additional_creators"]
        if not isinstance(additional, list) or not all(map(is_valid_user_id, additional)):
            raise AuthError("additional_creators must be a list of user IDs")
    # rule 1.5: otherwise, allow.


def _membership_of(auth_events: Mapping[StateKey, Event], user_id: str) -> str | None:
    member = auth_events.get((MEMBER, user_id))
    return member.membership if member is not None else None


def _check_membership(
    event: Event,
    auth_events: Mapping[StateKey, Event],
    create: Event,
    power_levels: Mapping[str, Any] | None,
    is_signed_by: EventSignatureCheck | None,
    is_third_party_signed: ThirdPartySignatureCheck | None,
) -> None:
    version = event.room_version
    content = event.content
    target = event.state_key
    membership = content.get("membership")
    # rule 4.1
    if target is None or membership is None:
        raise AuthError("m.room.member needs a state_key and content.membership")

    # rule 4.2 (v8+)
    if version.restricted_join_rule and "join_authorised_via_users_server" in content:
        authoriser = content["join_authorised_via_users_server"]
        if not isinstance(authoriser, str):
            raise AuthError("join_authorised_via_users_server is not a user ID")
        if is_signed_by is None:
            raise AuthError("cannot verify the authorising server's signature")
        if not is_signed_by(event, _server_of(authoriser)):
            raise AuthError("event is not signed by the authorising user's server")

    sender = event.sender
    sender_membership = _membership_of(auth_events, sender)
    target_membership = _membership_of(auth_events, target)

    if membership == "join":
        # rule 4.3.1: the creator's own first join
        prev_events = event.prev_event_ids
        if len(prev_events) == 1 and prev_events[0] == create.event_id:
            creator = create.sender if version.creator_is_sender else create.content.get("creator")
            if target == creator:
                return
        # rule 4.3.2
        if sender != target:
            raise AuthError("cannot join on behalf of another user")
        # rule 4.3.3
        if sender_membership == "ban":
            raise AuthError("sender is banned from the room")
        # No m.room.join_rules event means no join rule: only the creator's first join is
        # allowed (the spec gives no default).
        join_rule = _join_rule(auth_events)
        # rule 4.3.4 (`knock` from v7)
        if join_rule == "invite" or (join_rule == "knock" and version.knock_join_rule):
            if sender_membership in ("invite", "join"):
                return
            raise AuthError("join rule requires an invite")
        # rule 4.3.5 (v8+; `knock_restricted` from v10)
        if (join_rule == "restricted" and version.restricted_join_rule) or (
            join_rule == "knock_restricted" and version.knock_restricted_join_rule
        ):
            if sender_membership in ("join", "invite"):
                return
            authoriser = content.get("join_authorised_via_users_server")
            if not isinstance(authoriser, str):
                raise AuthError("restricted join needs join_authorised_via_users_server")
            if _membership_of(auth_events, authoriser) != "join":
                raise AuthError("authorising user is not joined to the room")
            if user_power_level(authoriser, power_levels, create, version) < invite_level(
                power_levels
            ):
                raise AuthError("authorising user cannot invite")
            return
        # rule 4.3.6
        if join_rule == "public":
            return
        # rule 4.3.7
        raise AuthError(f"join rule {join_rule!r} does not allow joining")

    if membership == "invite":
        # rule 4.4.1
        if "third_party_invite" in content:
            _check_third_party_invite(event, auth_events, target_membership, is_third_party_signed)
            return
        # rule 4.4.2
        if sender_membership != "join":
            raise AuthError("sender is not joined to the room")
        # rule 4.4.3
        if target_membership in ("join", "ban"):
            raise AuthError(f"target is already {target_membership}")
        # rule 4.4.4
        if user_power_level(sender, power_levels, create, version) >= invite_level(power_levels):
            return
        # rule 4.4.5
        raise AuthError("sender's power level is below the invite level")

    if membership == "leave":
        # rule 4.5.1
        if sender == target:
            if sender_membership in ("invite", "join") or (
                sender_membership == "knock" and version.knock_join_rule
            ):
                return
            raise AuthError("cannot leave a room one is not in, invited to or knocking on")
        # rule 4.5.2
        if sender_membership != "join":
            raise AuthError("sender is not joined to the room")
        sender_level = user_power_level(sender, power_levels, create, version)
        # rule 4.5.3
        if target_membership == "ban" and sender_level < ban_level(power_levels):
            raise AuthError("sender's power level is below the ban level, cannot unban")
        # rule 4.5.4
        if sender_level >= kick_level(power_levels) and user_power_level(
            target, power_levels, create, version
        ) < sender_level:
            return
        # rule 4.5.5
        raise AuthError("sender may not kick this user")

    if membership == "ban":
        # rule 4.6.1
        if sender_membership != "join":
            raise AuthError("sender is not joined to the room")
        # rule 4.6.2
        sender_level = user_power_level(sender, power_levels, create, version)
        if sender_level >= ban_level(power_levels) and user_power_level(
            target, power_levels, create, version
        ) < sender_level:
            return
        # rule 4.6.3
        raise AuthError("sender may not ban this user")

    if membership == "knock" and version.knock_join_rule:
        # rule 4.7.1 (`knock_restricted` from v10)
        join_rule = _join_rule(auth_events)
        if join_rule != "knock" and not (
            join_rule == "knock_restricted" and version.knock_restricted_join_rule
        ):
            raise AuthError("join rule does not allow knocking")
        # rule 4.7.2
        if sender != target:
            raise AuthError("cannot knock on behalf of another user")
        # rule 4.7.3
        if sender_membership not in ("ban", "invite", "join"):
            return
        # rule 4.7.4
        raise AuthError(f"cannot knock while {sender_membership}")

    # rule 4.8
    raise AuthError(f"unknown membership {membership!r}")


def _join_rule(auth_events: Mapping[StateKey, Event]) -> object:
    join_rules = auth_events.get(JOIN_RULES_KEY)
    return join_rules.content.get("join_rule") if join_rules is not None else None


def _check_third_party_invite(
    event: Event,
    auth_events: Mapping[StateKey, Event],
    target_membership: str | None,
    is_third_party_signed: ThirdPartySignatureCheck | None,
) -> None:
    # rule 4.4.1.1
    if target_membership == "ban":
        raise AuthError("target user is banned")
    invite = event.content["third_party_invite"]
    # rule 4.4.1.2
    signed = invite.get("signed") if isinstance(invite, Mapping) else None
    if not isinstance(signed, Mapping):
        raise AuthError("third_party_invite has no signed object")
    # rule 4.4.1.3
    mxid = signed.get("mxid")
    token = signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise AuthError("third_party_invite.signed needs mxid and token")
    # rule 4.4.1.4
    if mxid != event.state_key:
        raise AuthError("third_party_invite mxid does not match the state_key")
    # rule 4.4.1.5
    third_party_invite = auth_events.get((THIRD_PARTY_INVITE, token))
    if third_party_invite is None:
        raise AuthError("no m.room.third_party_invite for this token")
    # rule 4.4.1.6
    if third_party_invite.sender != event.sender:
        raise AuthError("sender did not send the m.room.third_party_invite")
    # rule 4.4.1.7
    public_keys = _third_party_public_keys(third_party_invite.content)
    if is_third_party_signed is None:
        raise AuthError("cannot verify the third-party invite signature")
    if public_keys and is_third_party_signed(signed, public_keys):
        return
    # rule 4.4.1.8
    raise AuthError("third-party invite is not signed by any of the invite's public keys")


def _third_party_public_keys(content: Mapping[str, Any]) -> list[str]:
    keys: list[str] = []
    public_key = content.get("public_key")
    if isinstance(public_key, str):
        keys.append(public_key)
    public_keys = content.get("public_keys")
    if isinstance(public_keys, list):
        for entry in public_keys:
            if isinstance(entry, Mapping) and isinstance(entry.get("public_key"), str):
                keys.append(entry["public_key"])
    return keys


def _check_power_levels_change(
    event: Event,
    current: Mapping[str, Any] | None,
    sender_level: PowerLevel,
    create: Event,
) -> None:
    version = event.room_version
    new = event.content
    if version.strict_integer_power_levels:
        # rule 9.1 (v10+)
        for key in _POWER_LEVEL_SCALARS:
            if key in new and not is_power_level(new[key], version):
                raise AuthError(f"power level {key} must be an integer")
        # rule 9.2 (v10+)
        for key in _POWER_LEVEL_MAPS:
            if key in new:
                value = new[key]
                if not isinstance(value, Mapping) or not all(
                    is_power_level(v, version) for v in value.values()
                ):
                    raise AuthError(f"power levels {key} must map to integers")
    # rule 9.3 (v1-v9: "integers (or a string that is an integer)"); like 9.1 and 9.2,
    # an absent `users` is not an error
    users = new.get("users", {})
    if not isinstance(users, Mapping):
        raise AuthError("power levels users must be an object")
    for user_id, level in users.items():
        if not is_valid_user_id(user_id) or not is_power_level(level, version):
            raise AuthError("power levels users must map user IDs to integers")
    # v12 rule 10.4: creators' power is implicit and cannot be listed
    if event.room_version.privileged_creators:
        creators = room_creators(create, event.room_version)
        if not creators.isdisjoint(users):
            raise AuthError("room creators cannot be listed in power levels users")
    # rule 9.4
    if current is None:
        return
    # rule 9.5
    for key in _POWER_LEVEL_SCALARS:
        old_value = current.get(key)
        new_value = new.get(key)
        if old_value == new_value and (key in current) == (key in new):
            continue
        if key in current and _exceeds(old_value, sender_level):
            raise AuthError(f"cannot change {key} from a level above your own")
        if key in new and _exceeds(new_value, sender_level):
            raise AuthError(f"cannot set {key} above your own level")
    # rules 9.6 and 9.7 (`notifications` from v6)
    for key in _POWER_LEVEL_MAPS if version.limit_notifications_power_levels else ("events",):
        old_map = _mapping(current.get(key))
        new_map = _mapping(new.get(key))
        _check_map_change(key, old_map, new_map, sender_level, None)
    # rules 9.8 and 9.9
    _check_map_change(
        "users", _mapping(current.get("users")), users, sender_level, event.sender
    )
    # rule 9.10: otherwise, allow.


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _level_or_zero(value: object) -> int:
    # Old values in pre-existing events might be malformed; they are compared as 0.
    level = parse_power_level(value)
    return 0 if level is None else level


def _exceeds(value: object, sender_level: PowerLevel) -> bool:
    return _level_or_zero(value) > sender_level


def _check_map_change(
    name: str,
    old_map: Mapping[str, Any],
    new_map: Mapping[str, Any],
    sender_level: PowerLevel,
    users_sender: str | None,
) -> None:
    """Rules 9.6/9.7 (events, notifications) or, with ``users_sender``, 9.8/9.9 (users)."""
    is_users = users_sender is not None
    for key, old_value in old_map.items():
        new_value = new_map.get(key)
        if key in new_map and new_value == old_value:
            continue
        # changed or removed
        if is_users:
            if key != users_sender and _at_least(old_value, sender_level):
                raise AuthError(f"cannot change the level of {key}, who is not below you")
        elif _exceeds(old_value, sender_level):
            raise AuthError(f"cannot change {name}.{key} from a level above your own")
    for key, new_value in new_map.items():
        if key in old_map and old_map[key] == new_value:
            continue
        # added or changed
        if _exceeds(new_value, sender_level):
            raise AuthError(f"cannot set {name}.{key} above your own level")


def _at_least(value: object, sender_level: PowerLevel) -> bool:
    return _level_or_zero(value) >= sender_level
