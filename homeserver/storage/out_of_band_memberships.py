"""Out-of-band memberships: local users' invites, knocks and rejections in rooms we are not in.

The row in ``room_memberships`` is written in the same transaction, so the user's
room list (``EventService.rooms_for_user``) and /sync see the membership.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiosqlite
import orjson

from homeserver.storage.database import Database


@dataclass(slots=True, frozen=True)
class OutOfBandMembership:
    room_id: str
    user_id: str
    event_id: str
    membership: str
    room_version: str
    origin: str
    stream_ordering: int
    pdu: dict[str, Any]
    stripped_state: list[dict[str, Any]]


class OutOfBandMembershipStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, m: OutOfBandMembership) -> None:
        async def run(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT OR REPLACE INTO out_of_band_memberships (room_id, user_id, event_id, membership,"
                " room_version, origin, stream_ordering, json, stripped_state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    m.room_id, m.user_id, m.event_id, m.membership, m.room_version, m.origin,
                    m.stream_ordering, orjson.dumps(m.pdu).decode(), orjson.dumps(m.stripped_state).decode(),
                ),
            )
            await conn.execute(
                "INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (room_id, user_id) DO UPDATE SET"
                " membership = excluded.membership, event_id = excluded.event_id,"
                " stream_ordering = excluded.stream_ordering, forgotten = 0",
                (m.room_id, m.user_id, m.membership, m.event_id, m.stream_ordering),
            )

        await self.db.write("put_out_of_band_membership", run)

    async def max_stream_ordering(self) -> int:
        return int(await self.db.fetchval(
            "max_out_of_band_stream", "SELECT COALESCE(MAX(stream_ordering), 0) FROM out_of_band_memberships"
        ))

    async def get(self, room_id: str, user_id: str) -> OutOfBandMembership | None:
        row = await self.db.fetchone(
            "get_out_of_band_membership",
            "SELECT room_id, user_id, event_id, membership, room_version, origin, stream_ordering, json,"
            " stripped_state FROM out_of_band_memberships WHERE room_id = ? AND user_id = ?",
            (room_id, user_id),
        )
        if row is None:
            return None
        return OutOfBandMembership(
            room_id=row[0], user_id=row[1], event_id=row[2], membership=row[3], room_version=row[4],
            origin=row[5], stream_ordering=row[6], pdu=orjson.loads(row[7]),
            stripped_state=orjson.loads(row[8]),
        )
