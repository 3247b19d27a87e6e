"""Build, hash and sign PDUs created by this server; check server signatures.

spec: server-server-api.md, "Signing Events" and "Calculating the content hash
for an event"; event formats in data/api/server-server/definitions/pdu_v1.yaml
(room versions 1, 2), pdu_v3.yaml (3), rooms/fragments/v4-event-format.md (4, 5),
v6-event-format.md (6-10), v11-event-format.md and v12-event-format.md.

Room versions 1 and 2 name events by a server-chosen ``$opaque:server`` ID that is
part of the PDU (so hashed and signed), and list prev and auth events as
``[event_id, {"sha256": reference hash}]`` pairs: the caller supplies those hashes.

Order of work for a new event: assemble the PDU, put the content hash (over
the full event) in ``hashes.sha256``, then sign the *redacted* event. The
bytes that are signed (redacted event, no signatures, no unsigned) are exactly
the bytes whose SHA-256 is the reference hash, so they are encoded once and
used for both the signature and the event ID.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

from federation.crypto.base64 import encode_base64
from federation.crypto.canonical_json import CANONICAL_JSON_MAX_INT, encode_canonical_json
from federation.crypto.signing import (
    SigningKey,
    encode_json_for_signing,
    verify_json_signature,
    with_signature,
)
from federation.rooms.events import Event
from federation.rooms.hashes import event_id_from_reference_hash, event_references
from federation.rooms.redaction import redact_pdu
from federation.rooms.versions import RoomVersion

# spec: data/api/server-server/definitions/components/depth_v6.yaml — depth is
# capped at the largest canonical JSON integer.
MAX_DEPTH = CANONICAL_JSON_MAX_INT

_NOT_HASHED_KEYS = frozenset({"hashes", "signatures", "unsigned"})
_EVENT_ID_ALPHABET = string.ascii_letters


def new_server_event_id(server_name: str) -> str:
    """A fresh room version 1/2 event ID, ``$opaque:server`` (rooms/fragments/v1-event-ids.md)."""
    opaque = "".join(secrets.choice(_EVENT_ID_ALPHABET) for _ in range(18))
    return f"${opaque}:{server_name}"


def build_event(
    *,
    room_version: RoomVersion,
    room_id: str | None,
    sender: str,
    event_type: str,
    content: dict[str, Any],
    state_key: str | None = None,
    prev_event_ids: Sequence[str],
    auth_event_ids: Sequence[str],
    depth: int,
    origin_server_ts: int,
    server_name: str,
    signing_key: SigningKey,
    redacts: str | None = None,
    unsigned: dict[str, Any] | None = None,
    reference_hashes: Mapping[str, str] | None = None,
    event_id: str | None = None,
) -> Event:
    """Assemble a new PDU in ``room_version``'s format, hash and sign it.

    ``content`` is referenced, not copied, by the returned event: do not
    mutate it afterwards. ``unsigned`` is attached after hashing and signing.
    Room versions 1 and 2 need ``reference_hashes`` (event ID -> reference hash)
    for every prev and auth event; ``event_id`` is then the new event's ID
    (default: a fresh one on ``server_name``).
    """
    _check_room_id(room_version, event_type, room_id)
    if _server_name_of(sender) != server_name:
        raise ValueError(f"{server_name} cannot build events for remote sender {sender}")

    if redacts is not None:
        if event_type != "m.room.redaction":
            raise ValueError(f"redacts given for a {event_type} event")
        if room_version.v11_redaction:
            # spec: rooms/v11.md — `redacts` moved from the top level into content.
            content = {**content, "redacts": redacts}

    pdu: dict[str, Any] = {
        "auth_events": list(auth_event_ids),
        "content": content,
        "depth": min(depth, MAX_DEPTH),
        "origin_server_ts": origin_server_ts,
        "prev_events": list(prev_event_ids),
        "sender": sender,
        "type": event_type,
    }
    if room_version.event_id_in_pdu:
        if reference_hashes is None:
            reference_hashes = {}
        try:
            pdu["auth_events"] = event_references(auth_event_ids, reference_hashes)
            pdu["prev_events"] = event_references(prev_event_ids, reference_hashes)
        except KeyError as e:
            raise ValueError(f"no reference hash for {e.args[0]}") from None
        pdu["event_id"] = event_id if event_id is not None else new_server_event_id(server_name)
    if room_id is not None:
        pdu["room_id"] = room_id
    if state_key is not None:
        pdu["state_key"] = state_key
    if redacts is not None and not room_version.v11_redaction:
        pdu["redacts"] = redacts
    if not room_version.v11_redaction:
        # The v6 event format used by room version 10 still carries `origin`, and
        # the v9 redaction algorithm protects it. From v11 it is neither.
        pdu["origin"] = server_name

    return _hash_and_sign_new_pdu(pdu, room_version, server_name, signing_key, unsigned)


def hash_and_sign_pdu(
    pdu: dict[str, Any],
    room_version: RoomVersion,
    server_name: str,
    signing_key: SigningKey,
) -> Event:
    """Hash and sign an already assembled PDU (e.g. a make_join template).

    Any existing ``hashes`` and ``signatures`` are replaced, since a new
    content hash invalidates them; ``unsigned`` is kept but not covered. In room
    versions 1 and 2 the event gets a fresh ``event_id`` of ``server_name`` (the
    server that creates the event names it, as Synapse does for templates).
    """
    unsigned = pdu.get("unsigned")
    bare = {k: v for k, v in pdu.items() if k not in _NOT_HASHED_KEYS}
    if room_version.event_id_in_pdu:
        bare["event_id"] = new_server_event_id(server_name)
    return _hash_and_sign_new_pdu(bare, room_version, server_name, signing_key, unsigned)


def _hash_and_sign_new_pdu(
    pdu: dict[str, Any],
    room_version: RoomVersion,
    server_name: str,
    signing_key: SigningKey,
    unsigned: dict[str, Any] | None,
) -> Event:
    """Add hashes, signatures (and unsigned) to ``pdu`` in place; ``pdu`` has none yet."""
    strict = room_version.strict_canonical_json
    # spec: server-server-api.md, "Calculating the content hash for an event".
    content_hash = hashlib.sha256(encode_canonical_json(pdu, strict=strict)).digest()
    pdu["hashes"] = {"sha256": encode_base64(content_hash)}

    # spec: server-server-api.md, "Signing Events" — sign the redacted event.
    # With no signatures or unsigned present yet, these bytes are also the input
    # of the reference hash (server-server-api.md, "Calculating the reference hash").
    signed_bytes = encode_canonical_json(redact_pdu(pdu, room_version), strict=strict)
    signature = signing_key.sign(signed_bytes)
    if room_version.event_id_in_pdu:
        event_id: str = pdu["event_id"]
    else:
        event_id = event_id_from_reference_hash(hashlib.sha256(signed_bytes).digest(), room_version)

    pdu["signatures"] = {server_name: {signing_key.key_id: encode_base64(signature)}}
    if unsigned is not None:
        pdu["unsigned"] = unsigned
    return Event(event_id, pdu, room_version)


def add_server_signature(
    pdu: dict[str, Any],
    room_version: RoomVersion,
    server_name: str,
    signing_key: SigningKey,
) -> dict[str, Any]:
    """A copy of ``pdu`` with one more server signature (e.g. a resident server
    countersigning a join in send_join); hashes and existing signatures are kept."""
    redacted = redact_pdu(pdu, room_version)
    signature = signing_key.sign(
        encode_json_for_signing(redacted, strict=room_version.strict_canonical_json)
    )
    return with_signature(pdu, server_name, signing_key.key_id, signature)


def verify_event_signature(
    pdu: dict[str, Any],
    room_version: RoomVersion,
    server_name: str,
    key_id: str,
    verify_key_bytes: bytes,
) -> None:
    """Check ``server_name``'s signature on a PDU; raise ``SignatureError`` if bad.

    spec: server-server-api.md, "Validating hashes and signatures on received
    events" — the signature covers the redacted event, so this succeeds for the
    full event and for a redacted copy alike.
    """
    verify_json_signature(
        redact_pdu(pdu, room_version), server_name, key_id, verify_key_bytes,
        strict=room_version.strict_canonical_json,
    )


def _check_room_id(room_version: RoomVersion, event_type: str, room_id: str | None) -> None:
    is_create = event_type == "m.room.create"
    if room_version.hash_room_ids and is_create:
        # spec: rooms/v12.md — the create event has no room_id; the room ID is
        # derived from its event ID.
        if room_id is not None:
            raise ValueError("an m.room.create event in this room version has no room_id")
    elif room_id is None:
        raise ValueError(f"a {event_type} event needs a room_id")


def _server_name_of(user_id: str) -> str:
    # spec: appendices.md, "User Identifiers" — @localpart:server_name, and the
    # server name may contain a port, so split at the first colon only.
    return user_id.split(":", 1)[1] if ":" in user_id else ""
