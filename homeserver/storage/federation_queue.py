"""Federation queues: outbound PDUs/EDUs per destination, inbound transaction answers.

Outbound rows stay until the destination answered the transaction carrying
them with 200 (spec: server-server-api.md, "Transactions"), so nothing queued
is lost when either server restarts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
import orjson

from federation.sender import NewEdu, QueuedEdu, QueuedPdu
from homeserver.storage.database import Database


@dataclass(frozen=True, slots=True)
class DeviceAnnouncement:
    """One m.device_list_update to send: a device added, changed or deleted."""

    device_id: str
    deleted: bool
    stream_id: int
    prev_ids: list[int]


_RAISE_WATERMARK = (
    "INSERT INTO federation_pdu_watermark (id, stream_ordering) VALUES (1, ?)"
    " ON CONFLICT (id) DO UPDATE SET stream_ordering = MAX(stream_ordering, excluded.stream_ordering)"
)


class FederationQueueStore:
    """The sender's ``federation.sender.OutboundQueue``, device announcements, /send answers."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- outbound ---------------------------------------------------------------
    async def enqueue(
        self, pdus: Sequence[tuple[str, str]], edus: Sequence[NewEdu], now_ms: int,
        *, watermark: int | None = None,
    ) -> None:
        """Queue (destination, event_id) PDUs and EDUs, in this order, in one commit.

        ``watermark``: the stream position of the local event being queued; the stored
        watermark moves up to it in the same commit as the rows.
        """
        pdu_rows = [(dest, event_id, now_ms) for dest, event_id in pdus]

        async def run(conn: aiosqlite.Connection) -> None:
            if watermark is not None:
                await conn.execute(_RAISE_WATERMARK, (watermark,))
            if pdu_rows:
                await conn.executemany(
                    "INSERT INTO federation_outbound_queue (destination, event_id, created_ts)"
                    " VALUES (?, ?, ?)",
                    pdu_rows,
                )
            for edu in edus:
                if edu.replace_key is not None:
                    await conn.execute(
                        "DELETE FROM federation_outbound_queue WHERE destination = ? AND edu_key = ?",
                        (edu.destination, edu.replace_key),
                    )
                body = orjson.dumps({"edu_type": edu.edu_type, "content": edu.content}).decode()
                await conn.execute(
                    "INSERT INTO federation_outbound_queue (destination, edu_json, edu_key, created_ts)"
                    " VALUES (?, ?, ?, ?)",
                    (edu.destination, body, edu.replace_key, now_ms),
                )

        await self.db.write("federation_enqueue", run)

    async def watermark(self) -> int:
        value = await self.db.fetchval(
            "federation_watermark", "SELECT stream_ordering FROM federation_pdu_watermark WHERE id = 1"
        )
        return int(value or 0)

    async def raise_watermark(self, stream_ordering: int) -> None:
        await self.db.execute("federation_raise_watermark", _RAISE_WATERMARK, (stream_ordering,))

    async def local_events_in_shared_rooms(
        self, after: int, server_name: str, limit: int
    ) -> list[tuple[int, str, str]]:
        """(stream_ordering, event_id, room_id) of timeline events sent by our users after
        ``after``, in rooms where some other server has a joined member, oldest first."""
        suffix = ":" + server_name
        rows = await self.db.fetchall(
            "federation_local_events_after",
            "SELECT e.stream_ordering, e.event_id, e.room_id FROM events e"
            " WHERE e.stream_ordering > ? AND e.outlier = 0 AND e.rejected IS NULL"
            " AND substr(e.sender, -length(?)) = ?"
            " AND EXISTS (SELECT 1 FROM room_memberships m WHERE m.room_id = e.room_id"
            "   AND m.membership = 'join' AND substr(m.user_id, -length(?)) != ?)"
            " ORDER BY e.stream_ordering LIMIT ?",
            (after, suffix, suffix, suffix, suffix, limit),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def next_batch(
        self, destination: str, max_pdus: int, max_edus: int
    ) -> tuple[list[QueuedPdu], list[QueuedEdu]]:
        """The oldest queued PDUs and EDUs of a destination, each in queue order."""
        pdu_rows = await self.db.fetchall(
            "federation_next_pdus",
            "SELECT queue_id, event_id FROM federation_outbound_queue"
            " WHERE destination = ? AND event_id IS NOT NULL ORDER BY queue_id LIMIT ?",
            (destination, max_pdus),
        )
        edu_rows = await self.db.fetchall(
            "federation_next_edus",
            "SELECT queue_id, edu_json FROM federation_outbound_queue"
            " WHERE destination = ? AND edu_json IS NOT NULL ORDER BY queue_id LIMIT ?",
            (destination, max_edus),
        )
        return (
            [QueuedPdu(r[0], r[1]) for r in pdu_rows],
            [QueuedEdu(r[0], orjson.loads(r[1])) for r in edu_rows],
        )

    async def remove(self, queue_ids: Iterable[int]) -> None:
        """Forget rows the destination acknowledged (or that can never be sent)."""
        ids = [(i,) for i in queue_ids]
        if ids:
            await self.db.executemany(
                "federation_dequeue", "DELETE FROM federation_outbound_queue WHERE queue_id = ?", ids
            )

    async def destinations_with_pending(self) -> list[str]:
        rows = await self.db.fetchall(
            "federation_pending_destinations",
            "SELECT DISTINCT destination FROM federation_outbound_queue",
        )
        return [r[0] for r in rows]

    async def pending_count(self, destination: str) -> int:
        return int(
            await self.db.fetchval(
                "federation_pending_count",
                "SELECT COUNT(*) FROM federation_outbound_queue WHERE destination = ?",
                (destination,),
            )
        )

    # --- inbound transactions -----------------------------------------------------
    async def get_txn_response(self, origin: str, txn_id: str) -> dict[str, Any] | None:
        raw = await self.db.fetchval(
            "federation_get_txn",
            "SELECT response_json FROM federation_inbound_txns WHERE origin = ? AND txn_id = ?",
            (origin, txn_id),
        )
        return None if raw is None else orjson.loads(raw)

    async def save_txn_response(
        self, origin: str, txn_id: str, response: dict[str, Any], now_ms: int, keep_ms: int
    ) -> None:
        """Remember an answer; answers older than ``keep_ms`` are dropped meanwhile."""
        body = orjson.dumps(response).decode()

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT OR REPLACE INTO federation_inbound_txns (origin, txn_id, response_json, received_ts)"
                " VALUES (?, ?, ?, ?)",
                (origin, txn_id, body, now_ms),
            )
            await conn.execute(
                "DELETE FROM federation_inbound_txns WHERE received_ts < ?", (now_ms - keep_ms,)
            )

        await self.db.write("federation_save_txn", run)

    # --- device list announcements ----------------------------------------------------
    async def announce_devices(self, user_id: str, fingerprints: dict[str, str]) -> list[DeviceAnnouncement]:
        """Diff a local user's devices (device_id -> fingerprint of name and keys)
        against the last announced set, record the new set and return one
        announcement per change, numbered in the user's m.device_list_update series."""

        async def run(conn: aiosqlite.Connection) -> list[DeviceAnnouncement]:
            rows = await conn.execute_fetchall(
                "SELECT device_id, fingerprint FROM federation_announced_devices WHERE user_id = ?",
                (user_id,),
            )
            announced = {r[0]: r[1] for r in rows}
            last = list(
                await conn.execute_fetchall(
                    "SELECT last_stream_id FROM federation_device_list_streams WHERE user_id = ?",
                    (user_id,),
                )
            )
            stream_id = int(last[0][0]) if last else 0
            changed = sorted(d for d, f in fingerprints.items() if announced.get(d) != f)
            deleted = sorted(set(announced) - set(fingerprints))
            out: list[DeviceAnnouncement] = []
            for device_id in changed + deleted:
                # spec: "Device Management" — prev_id names the previous update of the series.
                prev = [stream_id] if stream_id else []
                stream_id += 1
                out.append(DeviceAnnouncement(device_id, device_id in deleted, stream_id, prev))
            await conn.executemany(
                "INSERT OR REPLACE INTO federation_announced_devices (user_id, device_id, fingerprint)"
                " VALUES (?, ?, ?)",
                [(user_id, d, fingerprints[d]) for d in changed],
            )
            await conn.executemany(
                "DELETE FROM federation_announced_devices WHERE user_id = ? AND device_id = ?",
                [(user_id, d) for d in deleted],
            )
            if out:
                await conn.execute(
                    "INSERT OR REPLACE INTO federation_device_list_streams (user_id, last_stream_id)"
                    " VALUES (?, ?)",
                    (user_id, stream_id),
                )
            return out

        return await self.db.write("federation_announce_devices", run)
