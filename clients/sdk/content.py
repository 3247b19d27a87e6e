"""Builders for event content (pure). spec: client-server-api "m.room.message msgtypes",
"Rich replies", "Event replacements", "Event annotations and reactions", "Spaces"."""

from __future__ import annotations

from typing import Any


def text(body: str, msgtype: str = "m.text") -> dict[str, Any]:
    return {"msgtype": msgtype, "body": body}


def notice(body: str) -> dict[str, Any]:
    return text(body, "m.notice")


def emote(body: str) -> dict[str, Any]:
    return text(body, "m.emote")


def reply(in_reply_to: str, body: str, msgtype: str = "m.text") -> dict[str, Any]:
    # spec v1.13 dropped reply fallbacks: the relation alone marks a reply.
    content = text(body, msgtype)
    content["m.relates_to"] = {"m.in_reply_to": {"event_id": in_reply_to}}
    return content


def edit(original_event_id: str, new_body: str, msgtype: str = "m.text") -> dict[str, Any]:
    # The outer body is the fallback shown by clients that do not understand edits.
    return {
        "msgtype": msgtype,
        "body": f"* {new_body}",
        "m.new_content": text(new_body, msgtype),
        "m.relates_to": {"rel_type": "m.replace", "event_id": original_event_id},
    }


def reaction(event_id: str, key: str) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}


def media(msgtype: str, filename: str, mxc_uri: str, info: dict[str, Any]) -> dict[str, Any]:
    return {"msgtype": msgtype, "body": filename, "filename": filename, "url": mxc_uri, "info": info}


def encrypted_media(msgtype: str, filename: str, file: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """spec: in an encrypted room the media's EncryptedFile replaces `url` (and
    `thumbnail_file` replaces `info.thumbnail_url`)."""
    return {"msgtype": msgtype, "body": filename, "filename": filename, "file": file, "info": info}


def space_child(via: list[str], *, suggested: bool = False, order: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"via": via}
    if suggested:
        content["suggested"] = True
    if order is not None:
        content["order"] = order
    return content


def direct_with(direct: dict[str, list[str]], user_id: str, room_id: str) -> dict[str, list[str]]:
    """m.direct content with room_id added under user_id (a new dict; the input is kept)."""
    updated = {user: list(rooms) for user, rooms in direct.items()}
    rooms = updated.setdefault(user_id, [])
    if room_id not in rooms:
        rooms.append(room_id)
    return updated


def direct_without(direct: dict[str, list[str]], user_id: str, room_ids: set[str]) -> dict[str, list[str]]:
    """m.direct content with `room_ids` removed from user_id's list (dropped when empty)."""
    updated = {user: list(rooms) for user, rooms in direct.items()}
    kept = [r for r in updated.get(user_id, []) if r not in room_ids]
    if kept:
        updated[user_id] = kept
    else:
        updated.pop(user_id, None)
    return updated


def with_user_power(power_levels: dict[str, Any], user_id: str, level: int) -> dict[str, Any]:
    """m.room.power_levels content giving `user_id` `level` (the users_default level removes the entry)."""
    updated = dict(power_levels)
    users = dict(updated.get("users") or {})
    default = updated.get("users_default", 0)
    if level == default:
        users.pop(user_id, None)
    else:
        users[user_id] = level
    updated["users"] = users
    return updated
