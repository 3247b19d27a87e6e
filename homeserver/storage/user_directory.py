"""User directory search over room memberships and profiles (no separate index yet)."""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.storage.database import Database


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    user_id: str
    display_name: str | None
    avatar_url: str | None


def _like_pattern(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# spec: users.yaml — at a minimum, users sharing a room with the requester and
# users joined to rooms with a public join rule or world_readable history.
_SEARCH = """
WITH visible_rooms AS (
    SELECT room_id FROM room_memberships WHERE user_id = :me AND membership = 'join'
    UNION
    SELECT cs.room_id FROM current_state cs JOIN events e ON e.event_id = cs.event_id
    WHERE cs.type = 'm.room.join_rules' AND cs.state_key = ''
      AND json_extract(e.json, '$.content.join_rule') = 'public'
    UNION
    SELECT cs.room_id FROM current_state cs JOIN events e ON e.event_id = cs.event_id
    WHERE cs.type = 'm.room.history_visibility' AND cs.state_key = ''
      AND json_extract(e.json, '$.content.history_visibility') = 'world_readable'
),
candidates AS (
    SELECT m.user_id AS user_id FROM room_memberships m
    JOIN visible_rooms v ON v.room_id = m.room_id
    WHERE m.membership = 'join'
    UNION
    SELECT user_id FROM users WHERE :all_local_users = 1
),
profiles AS (
    -- Local users show their global profile, never a per-room name; remote
    -- users the name from one of their member events.
    SELECT c.user_id,
           CASE WHEN u.user_id IS NOT NULL THEN u.displayname ELSE (
               SELECT json_extract(e.json, '$.content.displayname') FROM room_memberships m
               JOIN events e ON e.event_id = m.event_id WHERE m.user_id = c.user_id LIMIT 1
           ) END AS display_name,
           CASE WHEN u.user_id IS NOT NULL THEN u.avatar_url ELSE (
               SELECT json_extract(e.json, '$.content.avatar_url') FROM room_memberships m
               JOIN events e ON e.event_id = m.event_id WHERE m.user_id = c.user_id LIMIT 1
           ) END AS avatar_url
    FROM candidates c LEFT JOIN users u ON u.user_id = c.user_id
    WHERE u.deactivated IS NULL OR u.deactivated = 0
)
SELECT user_id, display_name, avatar_url FROM profiles
WHERE lower(user_id) LIKE :pattern ESCAPE '\\' OR lower(COALESCE(display_name, '')) LIKE :pattern ESCAPE '\\'
ORDER BY (lower(COALESCE(display_name, '')) LIKE :prefix ESCAPE '\\' OR lower(user_id) LIKE :idprefix ESCAPE '\\') DESC,
         display_name IS NULL, lower(COALESCE(display_name, user_id))
LIMIT :limit
"""


class UserDirectoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(
        self, requester: str, term: str, limit: int, all_local_users: bool = False
    ) -> list[DirectoryEntry]:
        """Up to ``limit`` matching users visible to the requester, best first
        (``all_local_users``: every local account is visible too)."""
        pattern = _like_pattern(term)
        prefix = pattern[1:]  # "term%"
        rows = await self.db.fetchall(
            "user_directory_search",
            _SEARCH,
            {
                "me": requester,
                "pattern": pattern,
                "prefix": prefix,
                "idprefix": "@" + prefix,
                "limit": limit,
                "all_local_users": int(all_local_users),
            },  # type: ignore[arg-type]
        )
        return [DirectoryEntry(r[0], r[1], r[2]) for r in rows]
