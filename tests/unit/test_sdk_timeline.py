"""Edits, reactions, redactions and replies folded into a room timeline."""

from __future__ import annotations

from typing import Any

from clients.sdk import content
from clients.sdk.timeline import Timeline


def ev(event_id: str, sender: str, body_content: dict[str, Any], etype: str = "m.room.message", **kw: Any) -> dict[str, Any]:
    return {"event_id": event_id, "sender": sender, "type": etype, "origin_server_ts": 1,
            "content": body_content, **kw}


def test_edit_by_sender_replaces_content() -> None:
    t = Timeline()
    t.add(ev("$1", "@a", content.text("teh")))
    t.add(ev("$2", "@a", content.edit("$1", "the")))
    item = t.get("$1")
    assert item is not None and item.body == "the" and item.edited
    assert len(t) == 1  # the edit is not a separate message


def test_edit_by_someone_else_is_ignored() -> None:
    t = Timeline()
    t.add(ev("$1", "@a", content.text("mine")))
    t.add(ev("$2", "@b", content.edit("$1", "hijacked")))
    assert t.get("$1").body == "mine"  # type: ignore[union-attr]


def test_reactions_counted_per_key_and_sender() -> None:
    t = Timeline()
    t.add(ev("$1", "@a", content.text("hi")))
    t.add(ev("$r1", "@b", content.reaction("$1", "👍"), "m.reaction"))
    t.add(ev("$r2", "@c", content.reaction("$1", "👍"), "m.reaction"))
    t.add(ev("$r3", "@c", content.reaction("$1", "🎉"), "m.reaction"))
    assert t.get("$1").reaction_counts() == {"👍": 2, "🎉": 1}  # type: ignore[union-attr]


def test_redacting_a_reaction_removes_it() -> None:
    t = Timeline()
    t.add(ev("$1", "@a", content.text("hi")))
    t.add(ev("$r1", "@b", content.reaction("$1", "👍"), "m.reaction"))
    t.add({"event_id": "$x", "type": "m.room.redaction", "sender": "@b", "redacts": "$r1", "content": {}})
    assert t.get("$1").reaction_counts() == {}  # type: ignore[union-attr]


def test_redacting_a_message_clears_it() -> None:
    t = Timeline()
    t.add(ev("$1", "@a", content.text("oops")))
    t.add({"event_id": "$x", "type": "m.room.redaction", "sender": "@a", "content": {"redacts": "$1"}})
    item = t.get("$1")
    assert item is not None and item.redacted and item.body == ""


def test_reply_target_is_exposed() -> None:
    t = Timeline()
    item = t.add(ev("$2", "@b", content.reply("$1", "yes")))
    assert item is not None and item.in_reply_to == "$1"


def test_back_pagination_applies_relations_seen_before_their_target() -> None:
    t = Timeline()
    t.add(ev("$3", "@a", content.text("newest")))
    # /messages dir=b gives newest first: the edit and reaction come before the original.
    t.prepend([
        ev("$e", "@a", content.edit("$1", "fixed")),
        ev("$r", "@b", content.reaction("$1", "❤"), "m.reaction"),
        ev("$1", "@a", content.text("brokn")),
    ])
    assert [i.event_id for i in t] == ["$1", "$3"]
    item = t.get("$1")
    assert item is not None and item.body == "fixed" and item.reaction_counts() == {"❤": 1}


def test_state_events_and_duplicates_are_not_messages() -> None:
    t = Timeline()
    assert t.add(ev("$s", "@a", {"name": "x"}, "m.room.name", state_key="")) is None
    t.add(ev("$1", "@a", content.text("once")))
    assert t.add(ev("$1", "@a", content.text("once"))) is None
    assert len(t) == 1


def test_timeline_is_bounded() -> None:
    t = Timeline(max_items=3)
    for n in range(5):
        t.add(ev(f"${n}", "@a", content.text(str(n))))
    assert [i.body for i in t] == ["2", "3", "4"]
