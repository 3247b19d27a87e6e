"""Room events as clients see them (spec: client-server-api, "Room Events": ClientEvent)."""

from __future__ import annotations

from typing import Any

from federation.rooms.events import Event

# unsigned keys kept for clients; the rest (e.g. replaces_state bookkeeping) stays server-side.
_CLIENT_UNSIGNED = ("prev_content", "prev_sender", "replaces_state", "redacted_because", "invite_room_state",
                    "knock_room_state", "m.relations")


def client_event(
    event: Event,
    *,
    include_room_id: bool = True,
    now_ms: int | None = None,
    transaction_id: str | None = None,
) -> dict[str, Any]:
    pdu = event.pdu
    out: dict[str, Any] = {
        "content": pdu.get("content", {}),
        "event_id": event.event_id,
        "origin_server_ts": pdu.get("origin_server_ts", 0),
        "sender": pdu["sender"],
        "type": pdu["type"],
    }
    if include_room_id:
        out["room_id"] = event.room_id
    if "state_key" in pdu:
        out["state_key"] = pdu["state_key"]
    redacts = event.redacts
    if redacts is not None:
        # spec: v11 moved `redacts` into content; clients of older versions read it
        # at the top level, so both are served.
        out["redacts"] = redacts
    unsigned: dict[str, Any] = {}
    source = pdu.get("unsigned")
    if source:
        for key in _CLIENT_UNSIGNED:
            if key in source:
                unsigned[key] = source[key]
    if now_ms is not None:
        unsigned["age"] = max(0, now_ms - out["origin_server_ts"])
    if transaction_id is not None:
        unsigned["transaction_id"] = transaction_id
    if unsigned:
        out["unsigned"] = unsigned
    return out


def stripped_state_event(event: Event) -> dict[str, Any]:
    """spec: client-server-api, "Stripped state"."""
    return {
        "content": event.content,
        "sender": event.sender,
        "state_key": event.state_key,
        "type": event.type,
    }


# State shared with invitees and knockers (spec: "Stripped state", recommended set).
STRIPPED_STATE_TYPES = (
    "m.room.create",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.join_rules",
    "m.room.canonical_alias",
    "m.room.encryption",
)
