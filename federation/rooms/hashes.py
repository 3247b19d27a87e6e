"""Content hashes, reference hashes and event IDs of PDUs.

spec: server-server-api.md, "Calculating the content hash for an event" and
"Calculating the reference hash for an event"; rooms/fragments/v1-event-ids.md,
rooms/v3.md ("Event IDs") and rooms/fragments/v4-event-ids.md.

The reference hash needs the room version's redaction algorithm, so this
module depends on ``federation.rooms.redaction`` (which is itself pure).
Room versions 1-5 hash and sign lenient JSON (floats, large integers; see
``encode_canonical_json(strict=False)``); functions that take a room version
use its encoding, the others the strict one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from federation.crypto.base64 import (
    Base64DecodeError,
    decode_base64,
    encode_base64,
    encode_base64_url_safe,
)
from federation.crypto.canonical_json import encode_canonical_json
from federation.rooms.redaction import redact_pdu
from federation.rooms.versions import EventIdFormat, RoomVersion

# Keys never covered by the content hash.
_CONTENT_HASH_EXCLUDED_KEYS = frozenset({"unsigned", "signatures", "hashes"})
# Keys never covered by the reference hash (after redaction). `age_ts` is a
# top-level key in very old events; redaction already drops it.
_REFERENCE_HASH_EXCLUDED_KEYS = frozenset({"signatures", "unsigned", "age_ts"})


def _is_strict(room_version: RoomVersion | None) -> bool:
    return room_version is None or room_version.strict_canonical_json


def compute_content_hash_bytes(
    pdu: dict[str, Any], room_version: RoomVersion | None = None
) -> bytes:
    """SHA-256 of the canonical JSON of ``pdu`` without unsigned/signatures/hashes.

    In room versions 1 and 2 the PDU's own ``event_id`` is covered too.
    """
    hashed = {k: v for k, v in pdu.items() if k not in _CONTENT_HASH_EXCLUDED_KEYS}
    return hashlib.sha256(encode_canonical_json(hashed, strict=_is_strict(room_version))).digest()


def compute_content_hash(pdu: dict[str, Any], room_version: RoomVersion | None = None) -> str:
    """The content hash as it appears in ``hashes.sha256`` (unpadded base64)."""
    return encode_base64(compute_content_hash_bytes(pdu, room_version))


def add_content_hash(pdu: dict[str, Any], room_version: RoomVersion | None = None) -> dict[str, Any]:
    """A shallow copy of ``pdu`` with ``hashes.sha256`` set to its content hash."""
    return {**pdu, "hashes": {"sha256": compute_content_hash(pdu, room_version)}}


def check_content_hash(pdu: dict[str, Any], room_version: RoomVersion | None = None) -> bool:
    """True if ``hashes.sha256`` matches the event's content.

    spec: server-server-api.md, "Checks performed on receipt of a PDU" — a
    mismatch means we must use the redacted form of the event instead.
    """
    hashes = pdu.get("hashes")
    if not isinstance(hashes, dict):
        return False
    claimed = hashes.get("sha256")
    if not isinstance(claimed, str):
        return False
    try:
        claimed_bytes = decode_base64(claimed)
    except Base64DecodeError:
        return False
    return claimed_bytes == compute_content_hash_bytes(pdu, room_version)


def reference_hash_of_redacted(
    redacted_pdu: dict[str, Any], room_version: RoomVersion | None = None
) -> bytes:
    """SHA-256 over an already redacted PDU, minus signatures and unsigned."""
    hashed = {k: v for k, v in redacted_pdu.items() if k not in _REFERENCE_HASH_EXCLUDED_KEYS}
    return hashlib.sha256(encode_canonical_json(hashed, strict=_is_strict(room_version))).digest()


def compute_reference_hash(pdu: dict[str, Any], room_version: RoomVersion) -> bytes:
    """The reference hash: redact, drop signatures/unsigned, SHA-256 of canonical JSON."""
    return reference_hash_of_redacted(redact_pdu(pdu, room_version), room_version)


def event_id_from_reference_hash(
    reference_hash: bytes, room_version: RoomVersion | None = None
) -> str:
    """The event ID a reference hash names: URL-safe base64 (v4+, the default) or
    standard base64 (v3). Room versions 1 and 2 do not derive IDs from hashes."""
    if room_version is None or room_version.event_id_format is EventIdFormat.URL_SAFE_REFERENCE_HASH:
        # spec: rooms/fragments/v4-event-ids.md — "$" + URL-safe unpadded base64.
        return "$" + encode_base64_url_safe(reference_hash)
    if room_version.event_id_format is EventIdFormat.REFERENCE_HASH:
        # spec: rooms/v3.md, "Event IDs" — "$" + unpadded (standard) base64.
        return "$" + encode_base64(reference_hash)
    raise ValueError(f"room version {room_version.identifier} event IDs are not reference hashes")


class MissingEventId(ValueError):
    """A room version 1/2 PDU without a usable ``event_id``."""


def compute_event_id(pdu: dict[str, Any], room_version: RoomVersion) -> str:
    """The event ID of ``pdu``: its ``event_id`` field in room versions 1 and 2
    (spec: v1-event-ids.md), its reference hash from room version 3 on."""
    if room_version.event_id_in_pdu:
        event_id = pdu.get("event_id")
        if not is_server_event_id(event_id):
            raise MissingEventId(f"not a room version {room_version.identifier} event ID: {event_id!r}")
        assert isinstance(event_id, str)
        return event_id
    return event_id_from_reference_hash(compute_reference_hash(pdu, room_version), room_version)


def is_server_event_id(event_id: object) -> bool:
    """``$opaque_id:domain``, the event ID grammar of room versions 1 and 2."""
    if not isinstance(event_id, str) or not event_id.startswith("$"):
        return False
    _opaque, sep, domain = event_id[1:].partition(":")
    return bool(sep and domain) and len(event_id.encode("utf-8")) <= 255


def event_id_domain(event_id: str) -> str:
    """The server name in a room version 1/2 event ID (empty for hash IDs)."""
    return event_id.partition(":")[2]


# --- (event_id, hash) references of room versions 1 and 2 ----------------------------


def reference_hash_base64(pdu: dict[str, Any], room_version: RoomVersion) -> str:
    """The reference hash as room version 1/2 references carry it (unpadded base64)."""
    return encode_base64(compute_reference_hash(pdu, room_version))


def event_references(
    event_ids: Sequence[str], reference_hashes: Mapping[str, str]
) -> list[list[Any]]:
    """``[[event_id, {"sha256": hash}], …]``: prev_events/auth_events in room versions
    1 and 2 (spec: data/api/server-server/definitions/pdu_v1.yaml). Raises
    ``KeyError`` when a hash is not known."""
    return [[event_id, {"sha256": reference_hashes[event_id]}] for event_id in event_ids]


def event_ids_of_references(references: Sequence[Any]) -> list[str]:
    """The event IDs of prev_events/auth_events in either format (pairs or plain IDs)."""
    return [r if isinstance(r, str) else r[0] for r in references]
