"""Turning a PDU received over federation into an ``Event``: format, event ID, content hash.

spec: server-server-api.md, "Checks performed on receipt of a PDU", steps 1 and 3:
the PDU must be valid for the room version (the event ID of room versions 3+ is
its reference hash, so it is computed, never trusted; versions 1 and 2 carry their
``event_id`` and list parents as ``[event_id, {"sha256": hash}]`` pairs), and an
event whose content hash does not match is replaced by its redacted form before it
goes further. Room versions 1-5 do not enforce canonical JSON's number rules.
Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from federation.crypto.canonical_json import (
    CANONICAL_JSON_MAX_INT,
    CanonicalJsonError,
    encode_canonical_json,
)
from federation.rooms.auth import is_valid_user_id
from federation.rooms.events import Event
from federation.rooms.hashes import MissingEventId, check_content_hash, compute_event_id
from federation.rooms.redaction import redact_pdu
from federation.rooms.versions import RoomVersion

# spec: client-server-api "Size limits": a PDU is at most 65536 bytes of canonical JSON.
MAX_PDU_BYTES = 65_536
# Local bookkeeping a sender must not dictate: we compute our own unsigned data (and,
# from room version 3, the event ID).
_DROPPED_KEYS = ("unsigned", "event_id")
_DROPPED_KEYS_V1 = ("unsigned",)
# spec: pdu_v1.yaml, depth "less than the maximum value for an integer (2^63 - 1)";
# v6 event format: the canonical JSON maximum.
_MAX_DEPTH_LENIENT = 2**63 - 1


class InvalidPdu(ValueError):
    """The PDU is not a valid event of its room version; it is dropped."""


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise InvalidPdu(reason)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_reference_list(value: object) -> bool:
    """``[[event_id, {"sha256": hash}], …]`` (spec: pdu_v1.yaml); the hashes are not
    checked against the events, which other servers do not do either."""
    return isinstance(value, list) and all(
        isinstance(r, list) and len(r) == 2 and isinstance(r[0], str) and isinstance(r[1], dict)
        for r in value
    )


def event_from_pdu(
    raw: Any, room_version: RoomVersion, expected_room_id: str | None = None
) -> tuple[Event, bool]:
    """Validate a received PDU; return the event (redacted on hash mismatch) and
    whether its content hash matched."""
    _require(isinstance(raw, dict), "PDU is not a JSON object")
    dropped = _DROPPED_KEYS_V1 if room_version.event_id_in_pdu else _DROPPED_KEYS
    pdu: dict[str, Any] = {k: v for k, v in raw.items() if k not in dropped}
    strict = room_version.strict_canonical_json
    try:
        # spec: rooms/fragments/v6-canonical-json.md — v6+ events that are not canonical
        # JSON are discarded; v1-canonical-json.md — earlier versions must not do so.
        encoded = encode_canonical_json(pdu, strict=strict)
    except (CanonicalJsonError, TypeError, ValueError) as e:
        raise InvalidPdu(f"PDU is not canonical JSON: {e}") from None
    _require(len(encoded) <= MAX_PDU_BYTES, "PDU is larger than 65536 bytes")

    event_type = pdu.get("type")
    _require(isinstance(event_type, str), "type must be a string")
    _require(is_valid_user_id(pdu.get("sender")), "sender must be a user ID")
    _require(isinstance(pdu.get("content"), dict), "content must be an object")
    if room_version.event_id_in_pdu:
        _require(_is_reference_list(pdu.get("prev_events")), "prev_events must be [event_id, hashes] pairs")
        _require(_is_reference_list(pdu.get("auth_events")), "auth_events must be [event_id, hashes] pairs")
    else:
        _require(_is_str_list(pdu.get("prev_events")), "prev_events must be a list of event IDs")
        _require(_is_str_list(pdu.get("auth_events")), "auth_events must be a list of event IDs")
    depth = pdu.get("depth")
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise InvalidPdu("depth must be an integer")
    max_depth = CANONICAL_JSON_MAX_INT if strict else _MAX_DEPTH_LENIENT
    _require(0 <= depth <= max_depth, "depth out of range")
    ts = pdu.get("origin_server_ts")
    _require(isinstance(ts, int) and not isinstance(ts, bool), "origin_server_ts must be an integer")
    _require(isinstance(pdu.get("hashes"), dict), "hashes must be an object")
    _require(isinstance(pdu.get("signatures"), dict), "signatures must be an object")
    if "state_key" in pdu:
        _require(isinstance(pdu["state_key"], str), "state_key must be a string")

    is_v12_create = room_version.hash_room_ids and event_type == "m.room.create"
    if is_v12_create:
        # spec: rooms/v12.md — the create event has no room_id (its ID names the room).
        _require("room_id" not in pdu, "a v12 m.room.create event has no room_id")
        _require(not pdu["auth_events"] and not pdu["prev_events"], "m.room.create has no parents")
    else:
        _require(isinstance(pdu.get("room_id"), str), "room_id must be a string")

    # spec: rooms/fragments/v4-event-ids.md — the event ID is the reference hash (v3: in
    # standard base64); v1-event-ids.md — the PDU's own `event_id`.
    try:
        event_id = compute_event_id(pdu, room_version)
    except MissingEventId as e:
        raise InvalidPdu(str(e)) from None
    hash_ok = check_content_hash(pdu, room_version)
    if not hash_ok:
        # spec: "Checks performed on receipt of a PDU", step 3 — use the redacted event.
        pdu = redact_pdu(pdu, room_version)
    event = Event(event_id, pdu, room_version)
    if expected_room_id is not None:
        _require(event.room_id == expected_room_id, "event belongs to another room")
    return event, hash_ok
