"""m.room.server_acl matching (pure).

spec: event-schemas m.room.server_acl (client-server-api/modules/server_acls.md)
and appendices.md, "Glob-style matching": ``*`` matches zero or more
characters, ``?`` exactly one; case-insensitive; the port of the server name
is never considered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from federation.rooms.events import Event, StateKey
from federation.rooms.server_names import ServerNameError, is_ip_literal, parse_server_name


@lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def glob_matches(pattern: str, value: str) -> bool:
    return _glob_regex(pattern).fullmatch(value) is not None


def _host_without_port(server_name: str) -> str:
    try:
        address = parse_server_name(server_name)
    except ServerNameError:
        return server_name
    # IPv6 literals keep their brackets, as in the server name itself.
    return f"[{address.host}]" if ":" in address.host else address.host


def _patterns(content: dict[str, Any], name: str) -> list[str]:
    value = content.get(name)
    if not isinstance(value, list):
        return []
    return [p for p in value if isinstance(p, str)]


def server_allowed_by_acl(server_name: str, acl_content: dict[str, Any] | None) -> bool:
    """Whether ``server_name`` may take part in a room with this ACL content.

    ``None`` means the room has no m.room.server_acl event (rule 1: allow).
    """
    if acl_content is None:
        return True
    host = _host_without_port(server_name)
    # Rule 2: allow_ip_literals defaults to true unless it is the boolean false.
    if acl_content.get("allow_ip_literals") is False and is_ip_literal(host.strip("[]")):
        return False
    if any(glob_matches(p, host) for p in _patterns(acl_content, "deny")):
        return False
    return any(glob_matches(p, host) for p in _patterns(acl_content, "allow"))


def room_allows_server(state: Mapping[StateKey, Event], origin: str) -> bool:
    """Whether the room whose current state is ``state`` lets ``origin`` take part."""
    acl_event = state.get(("m.room.server_acl", ""))
    return server_allowed_by_acl(origin, acl_event.content if acl_event is not None else None)
