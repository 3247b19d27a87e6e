"""Inbound transactions: dedupe by (origin, txnId), PDUs per room, EDUs beside them.

spec: server-server-api.md, "Transactions" and PUT /send/{txnId}. A sender
retries a transaction with the same txnId until it gets a 200, so the answer
to each (origin, txnId) is kept and a retry gets it again without being
processed twice (a retry arriving while the first is still processed waits for
its answer). PDUs of different rooms are handled concurrently, each room's in
the order sent; EDUs are applied concurrently with the PDUs, so a slow room
never holds back typing, receipts or to-device messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from federation.rooms.hashes import compute_event_id
from federation.rooms.versions import KNOWN_ROOM_VERSIONS, RoomVersion
from federation.sender import FederationSender
from homeserver.clock import Clock
from homeserver.errors import MatrixError
from homeserver.services.federation.edus import FederationEdus
from homeserver.services.graph.events import EventService
from homeserver.services.graph.server_acl import check_server_acl
from homeserver.storage.federation_queue import FederationQueueStore
from homeserver.storage.rooms import RoomStore

logger = logging.getLogger(__name__)

TXN_ANSWERS_KEPT_MS = 24 * 3600 * 1000

TxnKey = tuple[str, str]


class PduHandler(Protocol):
    """Checks and persists received PDUs (``FederatedEventHandler``)."""

    async def on_receive_pdus(self, origin: str, pdus: Sequence[Any]) -> dict[str, str | None]:
        """event_id -> None when accepted, else the error."""
        ...


class TransactionReceiver:
    """Processes PUT /send/{txnId} bodies."""

    def __init__(
        self,
        store: FederationQueueStore,
        edus: FederationEdus,
        pdu_handler: PduHandler,
        *,
        sender: FederationSender,
        events: EventService,
        room_store: RoomStore,
        clock: Clock,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.edus = edus
        self.pdu_handler = pdu_handler
        self.sender = sender
        self.events = events
        self.room_store = room_store
        self.clock = clock
        self.is_mine = is_mine
        self._in_progress: dict[TxnKey, asyncio.Task[dict[str, Any]]] = {}
        # Answers given but not yet committed to the database, and the writes doing it.
        self._answers_being_saved: dict[TxnKey, dict[str, Any]] = {}
        self._saving: set[asyncio.Task[None]] = set()

    async def receive(
        self, origin: str, txn_id: str, pdus: list[dict[str, Any]], edus: list[Any]
    ) -> dict[str, Any]:
        """The response body for a transaction; the same one for every retry of it."""
        key = (origin, txn_id)
        saved = self._answers_being_saved.get(key)
        if saved is not None:
            return saved
        task = self._in_progress.get(key)
        if task is None:
            # Its own task: a sender that gives up waiting (and retries) does not cancel
            # the processing; the retry waits for the same answer.
            task = asyncio.get_running_loop().create_task(
                self._receive_once(origin, txn_id, pdus, edus), name=f"federation-txn:{origin}:{txn_id}"
            )
            self._in_progress[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    def _forget(self, key: TxnKey, done: asyncio.Task[dict[str, Any]]) -> None:
        if self._in_progress.get(key) is done:
            del self._in_progress[key]
        if not done.cancelled() and done.exception() is not None:
            logger.error("federation: transaction %s from %s failed", key[1], key[0], exc_info=done.exception())

    async def _receive_once(
        self, origin: str, txn_id: str, pdus: list[dict[str, Any]], edus: list[Any]
    ) -> dict[str, Any]:
        answer = await self.store.get_txn_response(origin, txn_id)
        if answer is None:
            answer = await self._process(origin, pdus, edus)
            self._save_answer((origin, txn_id), answer)
        return answer

    def _save_answer(self, key: TxnKey, answer: dict[str, Any]) -> None:
        """Keep the answer for retries: in memory at once, in the database by a write the
        sender does not wait for (the events themselves are already committed, so a
        transaction processed again after a crash only finds events it knows)."""
        self._answers_being_saved[key] = answer
        task = asyncio.get_running_loop().create_task(
            self._save(key, answer), name=f"federation-txn-save:{key[0]}:{key[1]}"
        )
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    async def _save(self, key: TxnKey, answer: dict[str, Any]) -> None:
        try:
            await self.store.save_txn_response(
                key[0], key[1], answer, self.clock.time_ms(), TXN_ANSWERS_KEPT_MS
            )
        except Exception:
            logger.exception("federation: saving the answer to transaction %s from %s failed", key[1], key[0])
        finally:
            self._answers_being_saved.pop(key, None)

    async def stop(self) -> None:
        """Cancel transactions still being processed (shutdown); their senders retry them.
        Answers already given are written before the database closes."""
        tasks = list(self._in_progress.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*list(self._saving), return_exceptions=True)

    async def _process(self, origin: str, pdus: list[dict[str, Any]], edus: list[Any]) -> dict[str, Any]:
        edu_task = asyncio.create_task(self._apply_edus(origin, edus), name=f"federation-edus:{origin}")
        try:
            by_room: dict[str, list[dict[str, Any]]] = {}
            for pdu in pdus:
                room_id = pdu.get("room_id")
                by_room.setdefault(room_id if isinstance(room_id, str) else "", []).append(pdu)
            results: dict[str, dict[str, Any]] = {}
            for room_results in await asyncio.gather(
                *(self._room_pdus(origin, room_id, room_pdus) for room_id, room_pdus in by_room.items())
            ):
                results.update(room_results)
        finally:
            await edu_task
        return {"pdus": results}

    async def _apply_edus(self, origin: str, edus: list[Any]) -> None:
        for edu in edus:
            try:
                await self.edus.handle(origin, edu)
            except Exception:
                logger.exception("federation: applying an EDU from %s failed", origin)

    async def _room_pdus(
        self, origin: str, room_id: str, pdus: list[dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """One room's PDUs, in order; every PDU whose ID we can tell gets an answer.

        Event IDs (reference hashes) are computed here only where the handler does not
        compute them anyway: our own echoed events, and the answers when it cannot run.
        """
        own = [p for p in pdus if isinstance(sender := p.get("sender"), str) and self.is_mine(sender)]
        for event_id in await self._event_ids(room_id, own) if own else []:
            if event_id is not None:
                self.sender.note_received(event_id)  # our own event, echoed back
        try:
            await check_server_acl(self.events, origin, room_id)
        except MatrixError as e:
            return self._errors(await self._event_ids(room_id, pdus), e.message)
        try:
            outcome = await self.pdu_handler.on_receive_pdus(origin, pdus)
        except Exception:
            logger.exception("federation: processing PDUs from %s in %s failed", origin, room_id)
            return self._errors(await self._event_ids(room_id, pdus), "Internal error while processing the event")
        return {eid: ({} if error is None else {"error": error}) for eid, error in outcome.items()}

    async def _event_ids(self, room_id: str, pdus: list[dict[str, Any]]) -> list[str | None]:
        cached = self.events.cached_room(room_id) if room_id else None
        if cached is not None:
            version: RoomVersion | None = cached.version  # no database read for a live room
        else:
            version_id = await self.room_store.get_room_version(room_id) if room_id else None
            version = KNOWN_ROOM_VERSIONS.get(version_id) if version_id else None
        if version is None:
            return [None] * len(pdus)
        ids: list[str | None] = []
        for pdu in pdus:
            try:
                ids.append(compute_event_id(pdu, version))
            except Exception:
                ids.append(None)  # malformed: the event handler reports it, if it can
        return ids

    @staticmethod
    def _errors(ids: list[str | None], message: str) -> dict[str, dict[str, Any]]:
        return {eid: {"error": message} for eid in ids if eid is not None}
