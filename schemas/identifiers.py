"""Matrix identifier grammar (spec: appendices.md, "Common Identifier Format")."""

from __future__ import annotations

import re

_LOCALPART = re.compile(r"^[a-z0-9._=\-/+]+$")
# Historical user IDs: any printable ASCII except ':' (spec: "Historical User IDs").
_HISTORICAL_LOCALPART = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
_SERVER_NAME = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::[0-9]{1,5})?$"
)
MAX_ID_BYTES = 255


def is_valid_localpart(localpart: str) -> bool:
    return bool(_LOCALPART.match(localpart))


def is_valid_server_name(name: str) -> bool:
    return bool(_SERVER_NAME.match(name)) and len(name) <= MAX_ID_BYTES


def split_id(identifier: str, sigil: str) -> tuple[str, str] | None:
    """('localpart', 'server') for a well-formed identifier with this sigil."""
    if not identifier.startswith(sigil) or ":" not in identifier:
        return None
    local, _, server = identifier[1:].partition(":")
    if not local or not is_valid_server_name(server):
        return None
    return local, server


def is_valid_user_id(user_id: str, *, historical: bool = True) -> bool:
    if not isinstance(user_id, str) or len(user_id.encode("utf-8")) > MAX_ID_BYTES:
        return False
    parts = split_id(user_id, "@")
    if parts is None:
        return False
    pattern = _HISTORICAL_LOCALPART if historical else _LOCALPART
    return bool(pattern.match(parts[0]))


def is_valid_room_alias(alias: str) -> bool:
    if not isinstance(alias, str) or len(alias.encode("utf-8")) > MAX_ID_BYTES:
        return False
    parts = split_id(alias, "#")
    return parts is not None and "\x00" not in parts[0]


def is_valid_room_id(room_id: str) -> bool:
    if not isinstance(room_id, str) or not room_id.startswith("!"):
        return False
    if len(room_id.encode("utf-8")) > MAX_ID_BYTES or "\x00" in room_id:
        return False
    return len(room_id) > 1


def server_of(identifier: str) -> str:
    return identifier.split(":", 1)[1]


def localpart_of(identifier: str) -> str:
    return identifier[1:].split(":", 1)[0]
