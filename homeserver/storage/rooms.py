"""Rooms, their current state and memberships, aliases and the public directory."""

from __future__ import annotations

from typing import Any

from federation.rooms.events import StateKey
from homeserver.storage.database import Database


class RoomStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_room_version(self, room_id: str) -> str | None:
        return await self.db.fetchval(
            "get_room_version", "SELECT room_version FROM rooms WHERE room_id = ?", (room_id,)
        )

    async def get_current_state_ids(self, room_id: str) -> dict[StateKey, str]:
        rows = await self.db.fetchall(
            "get_current_state_ids",
            "SELECT type, state_key, event_id FROM current_state WHERE room_id = ?",
            (room_id,),
        )
        return {(r[0], r[1]): r[2] for r in rows}

    async def get_rooms_for_user(self, user_id: str, memberships: tuple[str, ...] = ("join",)) -> dict[str, str]:
        """room_id -> membership for the user's rooms in the given memberships."""
        rows = await self.db.fetchall(
            "get_rooms_for_user",
            f"SELECT room_id, membership FROM room_memberships WHERE user_id = ? AND forgotten = 0"
            f" AND membership IN ({','.join('?' * len(memberships))})",
            (user_id, *memberships),
        )
        return {r[0]: r[1] for r in rows}

    async def get_memberships_for_user(self, user_id: str) -> list[tuple[str, str, str, int]]:
        """(room_id, membership, event_id, stream_ordering) for every non-forgotten room."""
        rows = await self.db.fetchall(
            "get_memberships_for_user",
            "SELECT room_id, membership, event_id, stream_ordering FROM room_memberships"
            " WHERE user_id = ? AND forgotten = 0",
            (user_id,),
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def get_membership(self, room_id: str, user_id: str) -> tuple[str, str, int] | None:
        row = await self.db.fetchone(
            "get_membership",
            "SELECT membership, event_id, stream_ordering FROM room_memberships WHERE room_id = ? AND user_id = ?",
            (room_id, user_id),
        )
        return (row[0], row[1], row[2]) if row else None

    async def forget(self, room_id: str, user_id: str) -> None:
        await self.db.execute(
            "forget_room",
            "UPDATE room_memberships SET forgotten = 1 WHERE room_id = ? AND user_id = ?",
            (room_id, user_id),
        )

    async def all_room_ids(self) -> list[str]:
        rows = await self.db.fetchall("all_rooms", "SELECT room_id FROM rooms")
        return [r[0] for r in rows]

    # --- aliases ---------------------------------------------------------------
    async def create_alias(self, alias: str, room_id: str, creator: str) -> bool:
        async def run(conn: Any) -> bool:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO room_aliases (alias, room_id, creator) VALUES (?, ?, ?)",
                (alias, room_id, creator),
            )
            return bool(cur.rowcount == 1)

        return await self.db.write("create_alias", run)

    async def get_alias(self, alias: str) -> tuple[str, str] | None:
        row = await self.db.fetchone(
            "get_alias", "SELECT room_id, creator FROM room_aliases WHERE alias = ?", (alias,)
        )
        return (row[0], row[1]) if row else None

    async def delete_alias(self, alias: str) -> None:
        await self.db.execute("delete_alias", "DELETE FROM room_aliases WHERE alias = ?", (alias,))

    async def get_aliases_for_room(self, room_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "get_aliases_for_room", "SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias", (room_id,)
        )
        return [r[0] for r in rows]

    # --- directory ---------------------------------------------------------------
    async def set_public(self, room_id: str, public: bool) -> None:
        await self.db.execute(
            "set_room_public", "UPDATE rooms SET is_public = ? WHERE room_id = ?", (int(public), room_id)
        )

    async def is_public(self, room_id: str) -> bool:
        return bool(
            await self.db.fetchval("is_room_public", "SELECT is_public FROM rooms WHERE room_id = ?", (room_id,))
        )

    async def public_room_ids(self) -> list[str]:
        rows = await self.db.fetchall(
            "public_rooms", "SELECT room_id FROM rooms WHERE is_public = 1 ORDER BY created_ts"
        )
        return [r[0] for r in rows]
