"""User directory search (spec: data/api/client-server/users.yaml).

Searches users who share a room with the requester or sit in public
(join rule ``public`` or ``world_readable``) rooms, by user ID or global display
name, case-insensitively. Per-room display names are never searched, so a
private nickname does not leak (Complement: TestRoomSpecificUsernameChange).
"""

from __future__ import annotations

from typing import Any

from homeserver.config import UserDirectoryConfig
from homeserver.storage.user_directory import UserDirectoryStore

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


class UserDirectoryService:
    def __init__(self, store: UserDirectoryStore, config: UserDirectoryConfig) -> None:
        self.store = store
        self.config = config

    async def search(self, requester: str, term: str, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        limit = max(0, min(limit, MAX_LIMIT))
        term = term.strip()
        if not term or limit == 0:
            return {"results": [], "limited": False}
        found = await self.store.search(
            requester, term, limit + 1, all_local_users=self.config.search_all_users
        )
        results = []
        for entry in found[:limit]:
            item: dict[str, Any] = {"user_id": entry.user_id}
            if entry.display_name is not None:
                item["display_name"] = entry.display_name
            if entry.avatar_url is not None:
                item["avatar_url"] = entry.avatar_url
            results.append(item)
        return {"results": results, "limited": len(found) > limit}
