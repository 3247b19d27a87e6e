"""What each application service is owed: queued items and the transaction in flight.

spec: application-service-api.md, "Pushing events". Rows stay until the service
answered the transaction carrying them with 200, so nothing queued is lost when the
service is down or the homeserver restarts; the transaction in flight is recorded
before it is first sent, so every retry repeats the same txn_id with the same items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
import orjson

from homeserver.storage.database import Database


@dataclass(frozen=True, slots=True)
class QueuedItem:
    seq: int
    kind: str  # "event", "ephemeral" or "to_device"
    content: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PendingTransaction:
    txn_id: int
    items: list[QueuedItem]


class AppServiceQueueStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, rows: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Append (as_id, kind, content) rows, in this order, in one commit."""
        if not rows:
            return
        encoded = [(as_id, kind, orjson.dumps(content)) for as_id, kind, content in rows]
        await self.db.executemany(
            "enqueue_appservice_items",
            "INSERT INTO appservice_queue (as_id, kind, json) VALUES (?, ?, ?)",
            encoded,
        )

    async def next_transaction(self, as_id: str, limit: int) -> PendingTransaction | None:
        """The transaction in flight, or a new one of the oldest ``limit`` items (None: nothing owed)."""

        async def run(conn: aiosqlite.Connection) -> tuple[int, int] | None:
            cur = await conn.execute(
                "SELECT txn_id, last_seq FROM appservice_transactions WHERE as_id = ?", (as_id,)
            )
            row = await cur.fetchone()
            if row is not None:
                return int(row[0]), int(row[1])
            cur = await conn.execute(
                "SELECT seq FROM appservice_queue WHERE as_id = ? ORDER BY seq LIMIT 1 OFFSET ?",
                (as_id, limit - 1),
            )
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute("SELECT MAX(seq) FROM appservice_queue WHERE as_id = ?", (as_id,))
                row = await cur.fetchone()
                if row is None or row[0] is None:
                    return None
            last_seq = int(row[0])
            # The last item's seq names the transaction: unique per service and increasing.
            await conn.execute(
                "INSERT INTO appservice_transactions (as_id, txn_id, last_seq) VALUES (?, ?, ?)",
                (as_id, last_seq, last_seq),
            )
            return last_seq, last_seq

        found = await self.db.write("start_appservice_transaction", run)
        if found is None:
            return None
        txn_id, last_seq = found
        rows = await self.db.fetchall(
            "get_appservice_transaction",
            "SELECT seq, kind, json FROM appservice_queue WHERE as_id = ? AND seq <= ? ORDER BY seq",
            (as_id, last_seq),
        )
        return PendingTransaction(txn_id, [QueuedItem(r[0], r[1], orjson.loads(r[2])) for r in rows])

    async def complete_transaction(self, as_id: str, txn_id: int) -> None:
        """The service answered 200: its items are delivered."""

        async def run(conn: aiosqlite.Connection) -> None:
            cur = await conn.execute(
                "SELECT last_seq FROM appservice_transactions WHERE as_id = ? AND txn_id = ?", (as_id, txn_id)
            )
            row = await cur.fetchone()
            if row is None:
                return
            await conn.execute("DELETE FROM appservice_queue WHERE as_id = ? AND seq <= ?", (as_id, row[0]))
            await conn.execute("DELETE FROM appservice_transactions WHERE as_id = ?", (as_id,))

        await self.db.write("complete_appservice_transaction", run)

    async def services_with_items(self) -> list[str]:
        rows = await self.db.fetchall(
            "appservices_with_items", "SELECT DISTINCT as_id FROM appservice_queue", ()
        )
        return [str(r[0]) for r in rows]
