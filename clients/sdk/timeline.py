"""A room's recent messages with edits, reactions and redactions folded in (pure).

spec: client-server-api "Event replacements" (m.replace), "Event annotations and
reactions" (m.annotation), "Redactions", "Rich replies" (m.in_reply_to).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from clients.sdk.jsonutil import as_dict

DEFAULT_MAX_ITEMS = 500


@dataclass(slots=True)
class TimelineItem:
    event_id: str
    sender: str
    type: str
    origin_server_ts: int
    content: dict[str, Any]
    original_content: dict[str, Any]
    edited: bool = False
    redacted: bool = False
    # reaction key -> {sender: reaction event ID}
    reactions: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def body(self) -> str:
        body = self.content.get("body")
        return body if isinstance(body, str) else ""

    @property
    def msgtype(self) -> str | None:
        value = self.content.get("msgtype")
        return value if isinstance(value, str) else None

    @property
    def in_reply_to(self) -> str | None:
        relates = self.original_content.get("m.relates_to")
        if isinstance(relates, dict):
            reply = relates.get("m.in_reply_to")
            if isinstance(reply, dict) and isinstance(reply.get("event_id"), str):
                return reply["event_id"]
        return None

    def reaction_counts(self) -> dict[str, int]:
        return {key: len(senders) for key, senders in self.reactions.items() if senders}


def relation_of(event: dict[str, Any]) -> tuple[str, str] | None:
    """(rel_type, target event ID) of an event's m.relates_to, if it has a typed relation."""
    content = event.get("content")
    relates = content.get("m.relates_to") if isinstance(content, dict) else None
    if not isinstance(relates, dict):
        return None
    rel_type, target = relates.get("rel_type"), relates.get("event_id")
    if isinstance(rel_type, str) and isinstance(target, str):
        return rel_type, target
    return None


class Timeline:
    """Messages keyed by event ID in display order; relations that arrive before their
    target (as happens when paginating backwards) are held until the target shows up."""

    def __init__(self, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, TimelineItem] = OrderedDict()
        self._pending: dict[str, list[dict[str, Any]]] = {}
        # reaction event ID -> (target ID, key, sender), so redacting a reaction removes it.
        self._reaction_index: dict[str, tuple[str, str, str]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._items.values())

    def get(self, event_id: str) -> TimelineItem | None:
        return self._items.get(event_id)

    @property
    def items(self) -> list[TimelineItem]:
        return list(self._items.values())

    def clear(self) -> None:
        self._items.clear()
        self._pending.clear()
        self._reaction_index.clear()

    def add(self, event: dict[str, Any]) -> TimelineItem | None:
        """Apply one newer event; returns the item it created or changed."""
        return self._apply(event, prepend=False)

    def prepend(self, events_newest_first: list[dict[str, Any]]) -> None:
        """Add older events from a backwards /messages page (newest first)."""
        for event in events_newest_first:
            self._apply(event, prepend=True)

    # --- internals --------------------------------------------------------------------
    def _apply(self, event: dict[str, Any], *, prepend: bool) -> TimelineItem | None:
        event_id = event.get("event_id")
        etype = event.get("type")
        if not isinstance(event_id, str) or not isinstance(etype, str) or event_id in self._items:
            return None
        if "state_key" in event:
            return None
        if etype == "m.room.redaction":
            target = event.get("redacts") or (event.get("content") or {}).get("redacts")
            return self._redact(target) if isinstance(target, str) else None
        relation = relation_of(event)
        if relation is not None and relation[0] in ("m.replace", "m.annotation"):
            target = self._items.get(relation[1])
            if target is None:
                self._pending.setdefault(relation[1], []).append(event)
                return None
            return self._apply_relation(target, event, relation[0])
        if etype not in ("m.room.message", "m.sticker", "m.room.encrypted"):
            return None
        content = as_dict(event.get("content"))
        item = TimelineItem(
            event_id=event_id,
            sender=str(event.get("sender", "")),
            type=etype,
            origin_server_ts=int(event.get("origin_server_ts", 0)),
            content=dict(content),
            original_content=dict(content),
            redacted=bool((event.get("unsigned") or {}).get("redacted_because")),
        )
        self._items[event_id] = item
        if prepend:
            self._items.move_to_end(event_id, last=False)
        for pending in self._pending.pop(event_id, []):
            rel = relation_of(pending)
            if rel is not None:
                self._apply_relation(item, pending, rel[0])
        self._trim(prepend)
        return item

    def _apply_relation(self, target: TimelineItem, event: dict[str, Any], rel_type: str) -> TimelineItem | None:
        content = event.get("content") or {}
        sender = str(event.get("sender", ""))
        if rel_type == "m.replace":
            new_content = content.get("m.new_content")
            # spec: a replacement from anyone but the original sender is ignored.
            if sender != target.sender or not isinstance(new_content, dict) or target.redacted:
                return None
            target.content = dict(new_content)
            target.edited = True
            return target
        key = (content.get("m.relates_to") or {}).get("key")
        if not isinstance(key, str):
            return None
        target.reactions.setdefault(key, {})[sender] = str(event["event_id"])
        self._reaction_index[str(event["event_id"])] = (target.event_id, key, sender)
        return target

    def _redact(self, target_id: str) -> TimelineItem | None:
        reaction = self._reaction_index.pop(target_id, None)
        if reaction is not None:
            item = self._items.get(reaction[0])
            if item is not None:
                senders = item.reactions.get(reaction[1], {})
                if senders.get(reaction[2]) == target_id:
                    del senders[reaction[2]]
                if not senders:
                    item.reactions.pop(reaction[1], None)
            return item
        item = self._items.get(target_id)
        if item is None:
            return None
        item.redacted = True
        item.content = {}
        item.reactions.clear()
        return item

    def _trim(self, prepended: bool) -> None:
        while len(self._items) > self.max_items:
            # Drop from the far end of where we are adding.
            _, dropped = self._items.popitem(last=prepended)
            for senders in dropped.reactions.values():
                for reaction_id in senders.values():
                    self._reaction_index.pop(reaction_id, None)
