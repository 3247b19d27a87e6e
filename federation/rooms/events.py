"""A persisted or received room event (a PDU) with cheap typed accessors.

The PDU dict is the wire form and the source of truth; ``Event`` only adds the
event ID (which, from room version 3 on, is not part of the PDU but derived
from its reference hash) and accessors. Events are treated as immutable.

In room versions 1 and 2 the PDU keeps its wire format too: its own ``event_id``
and ``[event_id, {"sha256": hash}]`` pairs in ``prev_events``/``auth_events``;
``prev_event_ids`` and ``auth_event_ids`` give the IDs in every version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from federation.rooms.hashes import event_ids_of_references, reference_hash_base64
from federation.rooms.versions import RoomVersion

StateKey = tuple[str, str]  # (event type, state_key)


class Event:
    __slots__ = (
        "event_id", "pdu", "room_version", "rejected_reason", "stream_ordering", "_reference_hash",
    )

    def __init__(
        self,
        event_id: str,
        pdu: dict[str, Any],
        room_version: RoomVersion,
        rejected_reason: str | None = None,
        stream_ordering: int | None = None,
    ) -> None:
        self.event_id = event_id
        self.pdu = pdu
        self.room_version = room_version
        self.rejected_reason = rejected_reason
        # Position in this server's events stream, once persisted.
        self.stream_ordering = stream_ordering
        self._reference_hash: str | None = None

    # --- accessors -------------------------------------------------------
    @property
    def type(self) -> str:
        return self.pdu["type"]

    @property
    def sender(self) -> str:
        return self.pdu["sender"]

    @property
    def room_id(self) -> str:
        # spec: rooms/v12.md — the create event carries no room_id; the room ID
        # is its event ID with the sigil "!" instead of "$".
        room_id = self.pdu.get("room_id")
        if room_id is None and self.pdu.get("type") == "m.room.create":
            return "!" + self.event_id[1:]
        return room_id  # type: ignore[return-value]

    @property
    def content(self) -> dict[str, Any]:
        return self.pdu.get("content", {})

    @property
    def state_key(self) -> str | None:
        return self.pdu.get("state_key")

    @property
    def is_state(self) -> bool:
        return "state_key" in self.pdu

    @property
    def state_tuple(self) -> StateKey:
        return (self.pdu["type"], self.pdu["state_key"])

    @property
    def depth(self) -> int:
        return self.pdu.get("depth", 0)

    @property
    def origin_server_ts(self) -> int:
        return self.pdu.get("origin_server_ts", 0)

    @property
    def prev_event_ids(self) -> list[str]:
        prev_events = self.pdu.get("prev_events", [])
        if self.room_version.event_id_in_pdu:
            return event_ids_of_references(prev_events)
        return prev_events

    @property
    def auth_event_ids(self) -> list[str]:
        auth_events = self.pdu.get("auth_events", [])
        if self.room_version.event_id_in_pdu:
            return event_ids_of_references(auth_events)
        return auth_events

    @property
    def reference_hash(self) -> str:
        """The reference hash (unpadded base64) that room version 1/2 events list next
        to this event's ID in their prev_events and auth_events."""
        if self._reference_hash is None:
            # Redaction keeps what the hash covers, so a redacted copy hashes the same.
            self._reference_hash = reference_hash_base64(self.pdu, self.room_version)
        return self._reference_hash

    @property
    def redacts(self) -> str | None:
        # spec: rooms/v11.md — `redacts` moved into content in v11+.
        if self.room_version.v11_redaction:
            r = self.content.get("redacts")
            if isinstance(r, str):
                return r
        r = self.pdu.get("redacts")
        return r if isinstance(r, str) else None

    @property
    def membership(self) -> str | None:
        m = self.content.get("membership")
        return m if isinstance(m, str) else None

    @property
    def origin(self) -> str:
        return self.sender.split(":", 1)[1]

    def __repr__(self) -> str:
        return f"<Event {self.event_id} {self.type} {self.state_key!r} in {self.room_id}>"


StateMap = Mapping[StateKey, Event]
