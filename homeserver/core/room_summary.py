"""Room summaries as the directory and space hierarchy show them, and who may see them.

spec: data/api/client-server/definitions/room_summary.yaml (public_rooms_chunk
plus room_type, allowed_room_ids, encryption, room_version), and the
"which rooms are returned" list of GET /hierarchy.
"""

from __future__ import annotations

from typing import Any

from homeserver.core.room_state import RoomState

RESTRICTED_RULES = ("restricted", "knock_restricted")


def join_rule_of(room: RoomState) -> str:
    rule = room.state_content("m.room.join_rules").get("join_rule", "invite")
    return rule if isinstance(rule, str) else "invite"


def allowed_room_ids(room: RoomState) -> list[str]:
    """Rooms whose members may join a restricted room (spec: "Restricted rooms")."""
    if join_rule_of(room) not in RESTRICTED_RULES:
        return []
    allow = room.state_content("m.room.join_rules").get("allow")
    if not isinstance(allow, list):
        return []
    return [
        cond["room_id"] for cond in allow
        if isinstance(cond, dict) and cond.get("type") == "m.room_membership"
        and isinstance(cond.get("room_id"), str)
    ]


def room_summary(room: RoomState) -> dict[str, Any]:
    st = room.state_content
    summary: dict[str, Any] = {
        "room_id": room.room_id,
        "num_joined_members": len(room.members_with("join")),
        "world_readable": st("m.room.history_visibility").get("history_visibility") == "world_readable",
        "guest_can_join": st("m.room.guest_access").get("guest_access") == "can_join",
        "join_rule": join_rule_of(room),
        "room_version": room.version.identifier,
    }
    for key, etype, field in (
        ("name", "m.room.name", "name"),
        ("topic", "m.room.topic", "topic"),
        ("avatar_url", "m.room.avatar", "url"),
        ("canonical_alias", "m.room.canonical_alias", "alias"),
    ):
        value = st(etype).get(field)
        if isinstance(value, str) and value:
            summary[key] = value
    room_type = room.create_event.content.get("type")
    if isinstance(room_type, str):
        summary["room_type"] = room_type
    algorithm = st("m.room.encryption").get("algorithm")
    if isinstance(algorithm, str):
        summary["encryption"] = algorithm
    allowed = allowed_room_ids(room)
    if allowed:
        summary["allowed_room_ids"] = allowed
    return summary


def summary_is_open(summary: dict[str, Any]) -> bool:
    """Anyone may see this room: public, knockable or world-readable."""
    return summary.get("join_rule") in ("public", "knock", "knock_restricted") or bool(
        summary.get("world_readable")
    )


def user_may_see_summary(
    summary: dict[str, Any], membership: str | None, joined_rooms: set[str]
) -> bool:
    """spec: GET /hierarchy, "The server should return any rooms where ..."."""
    if membership in ("join", "invite"):
        return True
    if summary_is_open(summary):
        return True
    if summary.get("join_rule") in RESTRICTED_RULES:
        return any(r in joined_rooms for r in summary.get("allowed_room_ids", []))
    return False
