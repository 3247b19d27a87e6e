"""SQLite access: one batching writer connection and a few read connections.

Every statement runs under a transaction *name* so slow ones show up in logs.
Writes go through ``Database.write``: a single writer task takes every queued
write, runs them in one transaction and commits once (group commit), so many
concurrent senders cost one fsync-free WAL commit between them. If a batch
fails, its writes are retried one by one so one bad write fails alone.

This module (and the repositories beside it) is the only code that speaks SQL;
a PostgreSQL backend can take the same interface.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

logger = logging.getLogger(__name__)

T = TypeVar("T")
WriteFn = Callable[[aiosqlite.Connection], Awaitable[T]]

SLOW_TXN_SECONDS = 0.2
MAX_BATCH = 200


async def run_in_writer_thread(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn`` on the connection's own thread with the plain sqlite3 connection.

    For write functions with many statements: one thread hand-off in all, instead of
    one per ``await conn.execute``. (aiosqlite runs every call on that thread; this
    uses its internal hook for doing so.)
    """
    return await conn._execute(fn, conn._conn)  # type: ignore[no-any-return]


class Database:
    def __init__(self, path: str | Path, readers: int = 2) -> None:
        self.path = str(path)
        self._reader_count = readers
        self._writer: aiosqlite.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._reader_cycle: itertools.cycle[aiosqlite.Connection] | None = None
        self._queue: asyncio.Queue[tuple[str, WriteFn[Any], asyncio.Future[Any]] | None] = (
            asyncio.Queue()
        )
        self._writer_task: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------
    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._migrate(self._writer)
        for _ in range(self._reader_count):
            self._readers.append(await self._connect(readonly=True))
        self._reader_cycle = itertools.cycle(self._readers)
        self._writer_task = asyncio.create_task(self._write_loop(), name="db-writer")

    async def _connect(self, readonly: bool = False) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit is durable against application crashes; only an
        # OS crash can lose the last commits (never corrupt the database).
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=OFF")
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute("PRAGMA cache_size=-32000")
        if readonly:
            await conn.execute("PRAGMA query_only=ON")
        return conn

    async def close(self) -> None:
        """Finish queued writes, then close every connection."""
        if self._writer_task is not None:
            await self._queue.put(None)
            await self._writer_task
            self._writer_task = None
        for conn in self._readers:
            await conn.close()
        self._readers.clear()
        if self._writer is not None:
            await self._writer.close()
            self._writer = None

    # --- migrations ------------------------------------------------------------
    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
        )
        # Apply every migration not yet recorded (not just those above the maximum),
        # so migrations numbered on parallel branches all land.
        rows = list(await conn.execute_fetchall("SELECT version FROM schema_version"))
        applied = {row[0] for row in rows}
        migrations = sorted(
            (int(f.name.split("_", 1)[0]), f)
            for f in resources.files("homeserver.storage.migrations").iterdir()
            if f.name.endswith(".sql")
        )
        for version, f in migrations:
            if version in applied:
                continue
            logger.info("applying migration %s", f.name)
            script = f.read_text(encoding="utf-8")
            await conn.executescript(
                f"BEGIN;\n{script}\nINSERT INTO schema_version VALUES ({version});\nCOMMIT;"
            )

    # --- reads -----------------------------------------------------------------
    async def fetchall(self, name: str, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        assert self._reader_cycle is not None, "database is not open"
        start = time.perf_counter()
        rows = await next(self._reader_cycle).execute_fetchall(sql, params)
        self._log_slow(name, start)
        return list(rows)

    async def fetchone(self, name: str, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(name, sql, params)
        return rows[0] if rows else None

    async def fetchval(self, name: str, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(name, sql, params)
        return None if row is None else row[0]

    # --- writes ----------------------------------------------------------------
    async def write(self, name: str, fn: WriteFn[T]) -> T:
        """Run ``fn(conn)`` inside the next write transaction; return once committed."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((name, fn, fut))
        return await fut

    async def execute(self, name: str, sql: str, params: Sequence[Any] = ()) -> None:
        async def run(conn: aiosqlite.Connection) -> None:
            await conn.execute(sql, params)

        await self.write(name, run)

    async def executemany(self, name: str, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.executemany(sql, rows)

        await self.write(name, run)

    async def _write_loop(self) -> None:
        conn = self._writer
        assert conn is not None
        stopping = False
        while not stopping:
            item = await self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            await self._run_batch(conn, batch)

    async def _run_batch(
        self,
        conn: aiosqlite.Connection,
        batch: list[tuple[str, WriteFn[Any], asyncio.Future[Any]]],
    ) -> None:
        start = time.perf_counter()
        results: list[Any] = []
        try:
            await conn.execute("BEGIN IMMEDIATE")
            for _name, fn, _fut in batch:
                results.append(await fn(conn))
            await conn.execute("COMMIT")
        except Exception as exc:
            await self._rollback(conn)
            if len(batch) == 1:
                name, _fn, fut = batch[0]
                logger.exception("write transaction %s failed", name)
                if not fut.done():
                    fut.set_exception(exc)
                return
            # Retry one by one so only the failing write fails.
            for single in batch:
                await self._run_batch(conn, [single])
            return
        for (_name, _fn, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(result)
        self._log_slow("+".join(sorted({n for n, _, _ in batch})), start)

    @staticmethod
    async def _rollback(conn: aiosqlite.Connection) -> None:
        try:
            await conn.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass  # no transaction was open

    @staticmethod
    def _log_slow(name: str, start: float) -> None:
        took = time.perf_counter() - start
        if took > SLOW_TXN_SECONDS:
            logger.warning("slow transaction %s took %.0f ms", name, took * 1000)
