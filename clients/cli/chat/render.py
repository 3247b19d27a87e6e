"""Text shown by the chat UI, computed from the SDK's room model (pure).

Everything here is plain text: the app shows it with ``literal.plain`` (never as markup),
and names are flattened to one line so nobody can forge a line of someone else's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from clients.cli.literal import one_line
from clients.cli.output import describe_message
from clients.sdk.media import MediaSource, media_source, thumbnail_source
from clients.sdk.rooms import Room
from clients.sdk.state import ClientState
from clients.sdk.timeline import TimelineItem
from clients.voice.call import CallLog
from clients.voice.room import channel_members


def room_label(room: Room) -> str:
    badge = ""
    if room.my_membership == "invite":
        badge = " [invite]"
    elif room.unread:
        badge = f" ({room.unread})"
    prefix = "@ " if room.is_direct else "# " if not room.is_space else "◆ "
    return f"{prefix}{one_line(room.display_name)}{badge}"


def sorted_rooms(state: ClientState) -> list[Room]:
    """Invites first, then joined rooms with the most recent activity first."""
    joined = sorted(state.joined_rooms, key=lambda r: (-r.last_event_ts, r.display_name))
    return sorted(state.invites, key=lambda r: r.display_name) + joined


def timeline_line(room: Room, item: TimelineItem) -> str:
    when = datetime.fromtimestamp(item.origin_server_ts / 1000).strftime("%H:%M")
    name = one_line(room.member_name(item.sender))
    if item.redacted:
        return f"{when} {name}: (message deleted)"
    if item.type == "m.room.encrypted":
        # Still ciphertext: its room key has not arrived (the line updates when it does).
        return f"{when} {name}: 🔒 (unable to decrypt yet)"
    if item.msgtype == "m.emote":
        text = f"{when} * {name} {item.body}"
    else:
        text = f"{when} {name}: {describe_message(item.content)}"
    if item.in_reply_to is not None:
        target = room.timeline.get(item.in_reply_to)
        quoted = (f"{one_line(room.member_name(target.sender))}: {one_line(target.body[:40])}"
                  if target else "an earlier message")
        text = f"{when} {name} ↪ [{quoted}] {describe_message(item.content)}"
    if item.edited:
        text += " (edited)"
    counts = item.reaction_counts()
    if counts:
        text += "  " + " ".join(f"{key}{n}" for key, n in counts.items())
    return text


def timeline_text(room: Room, previews: Mapping[str, str] | None = None) -> str:
    """The room's messages, one a line; an image with a text-art preview in `previews`
    (by event ID) gets it below its line, indented."""
    if room.my_membership == "invite":
        inviter = one_line(room.inviter) if room.inviter else "Someone"
        return f"{inviter} invited you to {one_line(room.display_name)}. Type /join to accept."
    lines = []
    for item in room.timeline:
        lines.append(timeline_line(room, item))
        preview = (previews or {}).get(item.event_id)
        if preview and not item.redacted:
            lines.extend("      " + row for row in preview.splitlines())
    return "\n".join(lines) if lines else "(no messages yet)"


def call_text(room: Room, calls: CallLog, own_user_id: str, now: float) -> str:
    """A line per call ringing for us in this room (spec: "Voice over IP")."""
    lines = [
        f"📞 {one_line(room.member_name(call.caller))} is calling — run `parley answer {room.room_id}`"
        for call in calls.ringing(own_user_id, room.room_id, now)
    ]
    return "\n".join(lines)


def image_sources(room: Room) -> dict[str, MediaSource]:
    """Event ID -> what to preview of the room's (unredacted) image messages: in encrypted rooms
    the sender's encrypted thumbnail (else the encrypted image), else the image's mxc:// URI
    (the server makes the thumbnail)."""
    found = {}
    for item in room.timeline:
        if item.msgtype != "m.image" or item.redacted:
            continue
        source = media_source(item.content)
        if source is not None and source.encrypted:
            thumbnail = thumbnail_source(item.content)
            source = thumbnail if thumbnail is not None and thumbnail.encrypted else source
        if source is not None:
            found[item.event_id] = source
    return found


def typing_text(room: Room, own_user_id: str) -> str:
    names = [one_line(room.member_name(u)) for u in room.typing if u != own_user_id]
    if not names:
        return ""
    if len(names) == 1:
        return f"{names[0]} is typing…"
    return f"{', '.join(names)} are typing…"


def people_text(room: Room, state: ClientState) -> str:
    lines = []
    for member in sorted(room.joined_members, key=lambda m: room.member_name(m.user_id).casefold()):
        presence = state.presence.get(member.user_id)
        dot = {"online": "●", "unavailable": "◐"}.get(presence.presence if presence else "", "○")
        lines.append(f"{dot} {one_line(room.member_name(member.user_id))}")
    return "\n".join(lines)


def voice_text(room: Room, now_ms: int, roster: list[dict[str, Any]] | None = None) -> str:
    """Who is in the room's voice channel: from the MatrixRTC member events everyone sees
    (docs/voice.md), or, while we are in it ourselves, from the focus's exact roster with
    who is muted and who speaks. Empty when nobody is."""
    if roster is not None:
        people = []
        for entry in roster:
            user_id = entry.get("user_id")
            if isinstance(user_id, str):
                mark = " (muted)" if entry.get("muted") else " 🗣" if entry.get("speaking") else ""
                people.append(one_line(room.member_name(user_id)) + mark)
        return "🔊 in voice (you too): " + ", ".join(people) if people else ""
    names: list[str] = []
    for event in channel_members(list(room.call_members.values()), now_ms):
        sender = event.get("sender")
        name = one_line(room.member_name(sender)) if isinstance(sender, str) else "?"
        if name not in names:  # one entry per user, whatever their devices
            names.append(name)
    return "🔊 in voice: " + ", ".join(names) if names else ""
