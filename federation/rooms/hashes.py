"""Content hashes, reference hashes and event IDs of PDUs.

spec: server-server-api.md, "Calculating the content hash for an event" and
"Calculating the reference hash for an event"; rooms/fragments/v4-event-ids.md.

The reference hash needs the room version's redaction algorithm, so this
module depends on ``federation.rooms.redaction`` (which is itself pure).
"""

from __future__ import annotations

import hashlib
from typing import Any

from federation.crypto.base64 import (
    Base64DecodeError,
    decode_base64,
    encode_base64,
    encode_base64_url_safe,
)
from federation.crypto.canonical_json import encode_canonical_json
from federation.rooms.redaction import redact_pdu
from federation.rooms.versions import RoomVersion

# Keys never covered by the content hash.
_CONTENT_HASH_EXCLUDED_KEYS = frozenset({"unsigned", "signatures", "hashes"})
# Keys never covered by the reference hash (after redaction). `age_ts` is a
# top-level key in very old events; redaction already drops it.
_REFERENCE_HASH_EXCLUDED_KEYS = frozenset({"signatures", "unsigned", "age_ts"})


def compute_content_hash_bytes(pdu: dict[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of ``pdu`` without unsigned/signatures/hashes."""
    hashed = {k: v for k, v in pdu.items() if k not in _CONTENT_HASH_EXCLUDED_KEYS}
    return hashlib.sha256(encode_canonical_json(hashed)).digest()


def compute_content_hash(pdu: dict[str, Any]) -> str:
    """The content hash as it appears in ``hashes.sha256`` (unpadded base64)."""
    return encode_base64(compute_content_hash_bytes(pdu))


def add_content_hash(pdu: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``pdu`` with ``hashes.sha256`` set to its content hash."""
    return {**pdu, "hashes": {"sha256": compute_content_hash(pdu)}}


def check_content_hash(pdu: dict[str, Any]) -> bool:
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
    return claimed_bytes == compute_content_hash_bytes(pdu)


def reference_hash_of_redacted(redacted_pdu: dict[str, Any]) -> bytes:
    """SHA-256 over an already redacted PDU, minus signatures and unsigned."""
    hashed = {k: v for k, v in redacted_pdu.items() if k not in _REFERENCE_HASH_EXCLUDED_KEYS}
    return hashlib.sha256(encode_canonical_json(hashed)).digest()


def compute_reference_hash(pdu: dict[str, Any], room_version: RoomVersion) -> bytes:
    """The reference hash: redact, drop signatures/unsigned, SHA-256 of canonical JSON."""
    return reference_hash_of_redacted(redact_pdu(pdu, room_version))


def event_id_from_reference_hash(reference_hash: bytes) -> str:
    # spec: rooms/fragments/v4-event-ids.md — "$" + URL-safe unpadded base64.
    return "$" + encode_base64_url_safe(reference_hash)


def compute_event_id(pdu: dict[str, Any], room_version: RoomVersion) -> str:
    """The event ID of ``pdu`` (room versions 4 and later)."""
    return event_id_from_reference_hash(compute_reference_hash(pdu, room_version))
