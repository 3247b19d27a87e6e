"""Outbound federation: durable per-destination queues drained as transactions.

spec: server-server-api.md, "Transactions". Every PDU and EDU for another
server is first written to ``federation_outbound_queue``; one named task per
destination then drains that queue in order, at most 50 PDUs and 100 EDUs per
``PUT /_matrix/federation/v1/send/{txnId}``, one transaction in flight. A
failed transaction is retried with the same txnId and body (the receiver
dedupes on it) after an exponential, jittered backoff; rows are deleted only
after a 200, so an outage or a restart of either side loses nothing and the
destination catches up in order once it answers.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import orjson

from federation.clock import Clock
from federation.rooms.events import Event, StateKey

logger = logging.getLogger(__name__)

MAX_PDUS_PER_TXN = 50  # spec: "Transactions" — at most 50 PDUs and 100 EDUs
MAX_EDUS_PER_TXN = 100
# Stay under the receiver's body limit (Parley's default limits.max_request_body_bytes is 1 MiB).
MAX_TXN_BYTES = 900_000
SEND_TIMEOUT_S = 60.0
# unsigned keys that mean something to other servers; the rest (redacted_because,
# transaction_id, aggregations) is local bookkeeping.
FEDERATED_UNSIGNED_KEYS = frozenset(
    {"age_ts", "replaces_state", "prev_content", "prev_sender", "invite_room_state", "knock_room_state"}
)
RECEIVED_IDS_KEPT = 10_000
CATCH_UP_BATCH = 500


# --- what the sender queues, and what it runs on (supplied by the homeserver) ---------------
@dataclass(frozen=True, slots=True)
class NewEdu:
    destination: str
    edu_type: str
    content: dict[str, Any]
    # A newer EDU with the same key replaces a queued one (presence, typing).
    replace_key: str | None = None


@dataclass(frozen=True, slots=True)
class QueuedPdu:
    queue_id: int
    event_id: str


@dataclass(frozen=True, slots=True)
class QueuedEdu:
    queue_id: int
    edu: dict[str, Any]  # {"edu_type": ..., "content": ...}


class OutboundQueue(Protocol):
    """The durable per-destination queue rows, and the watermark of local events queued."""

    async def enqueue(
        self, pdus: Sequence[tuple[str, str]], edus: Sequence[NewEdu], now_ms: int,
        *, watermark: int | None = None,
    ) -> None: ...

    async def next_batch(
        self, destination: str, max_pdus: int, max_edus: int
    ) -> tuple[list[QueuedPdu], list[QueuedEdu]]: ...

    async def remove(self, queue_ids: Iterable[int]) -> None: ...

    async def destinations_with_pending(self) -> list[str]: ...

    async def watermark(self) -> int: ...

    async def raise_watermark(self, stream_ordering: int) -> None: ...

    async def local_events_in_shared_rooms(
        self, after: int, server_name: str, limit: int
    ) -> list[tuple[int, str, str]]: ...


class StoredEvents(Protocol):
    """Persisted events, by ID, and the highest stream position."""

    async def get_events(self, event_ids: Iterable[str]) -> Mapping[str, Event]: ...

    async def max_stream_ordering(self) -> int: ...


class RoomView(Protocol):
    @property
    def state(self) -> Mapping[StateKey, Event]: ...


class RoomGraph(Protocol):
    """The homeserver's rooms: current state, and a hook after every committed event."""

    async def get_room(self, room_id: str) -> RoomView | None: ...

    def add_persist_listener(self, listener: Callable[[RoomView, Event], None]) -> None: ...


class TransactionTransport(Protocol):
    """Sends a transaction (``FederationClient`` in production)."""

    async def put_json(self, destination: str, path: str, body: Any, *, timeout: float) -> Any: ...  # noqa: ASYNC109 (FederationClient's interface)


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Delay before retrying a destination after ``failures`` failed attempts in a row."""

    initial_s: float = 2.0
    maximum_s: float = 3600.0
    multiplier: float = 2.0
    jitter: float = 0.2  # +-20 %, so destinations that failed together do not retry together

    def delay(self, failures: int, random_unit: float) -> float:
        """``random_unit`` is uniform in [0, 1)."""
        if failures <= 0:
            return 0.0
        base = min(self.maximum_s, self.initial_s * self.multiplier ** (failures - 1))
        return min(self.maximum_s, base * (1.0 + self.jitter * (2.0 * random_unit - 1.0)))


def destinations_for_event(state: Mapping[StateKey, Event], event: Event, own_server: str) -> set[str]:
    """Servers that must receive a local event: every server with a joined member,
    plus the server of a member event's target (an invitee, a kicked or banned user
    must hear of it even though they are not joined)."""
    servers = {
        key.split(":", 1)[1]
        for (event_type, key), ev in state.items()
        if event_type == "m.room.member" and ev.membership == "join" and ":" in key
    }
    if event.type == "m.room.member" and event.state_key and ":" in event.state_key:
        servers.add(event.state_key.split(":", 1)[1])
    servers.discard(own_server)
    return servers


def federation_pdu(event: Event) -> dict[str, Any]:
    """The PDU as sent to other servers (spec: PDUs carry no local unsigned data)."""
    pdu = dict(event.pdu)
    unsigned = pdu.pop("unsigned", None)
    if isinstance(unsigned, dict):
        kept = {k: v for k, v in unsigned.items() if k in FEDERATED_UNSIGNED_KEYS}
        if kept:
            pdu["unsigned"] = kept
    return pdu


def build_transaction(
    origin: str, origin_server_ts: int, pdus: list[dict[str, Any]], edus: list[dict[str, Any]]
) -> dict[str, Any]:
    body: dict[str, Any] = {"origin": origin, "origin_server_ts": origin_server_ts, "pdus": pdus}
    if edus:  # Synapse omits an empty edus list (SYNAPSE.md §7 D)
        body["edus"] = edus
    return body


@dataclass(slots=True)
class _InFlight:
    txn_id: str
    body: dict[str, Any]
    queue_ids: list[int]


@dataclass(slots=True)
class _Destination:
    name: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    failures: int = 0
    task: asyncio.Task[None] | None = None
    in_flight: _InFlight | None = None


class FederationSender:
    """Queue PDUs and EDUs for other servers."""

    def __init__(
        self,
        store: OutboundQueue,
        client: TransactionTransport,
        *,
        event_store: StoredEvents,
        rooms: RoomGraph,
        clock: Clock,
        server_name: str,
        is_mine: Callable[[str], bool],
        enabled: bool = True,
        backoff: BackoffPolicy | None = None,
        random_unit: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.client = client
        self.event_store = event_store
        self.rooms = rooms
        self.clock = clock
        self.server_name = server_name
        self.is_mine = is_mine
        # Off: nothing is queued (federation disabled in the config).
        self.enabled = enabled
        self.backoff = backoff or BackoffPolicy()
        self._random_unit = random_unit
        self._destinations: dict[str, _Destination] = {}
        self._enqueues: set[asyncio.Task[None]] = set()
        # Local-sender events that reached us from another server (our own events
        # echoed back, a join persisted from send_join): never forwarded again.
        self._received: OrderedDict[str, None] = OrderedDict()
        self._txn_ids = itertools.count(1)
        self._txn_prefix = ""
        self._running = False
        # Test hook: called with (destination, body) after every 200.
        self.on_delivered: list[Callable[[str, dict[str, Any]], None]] = []

    # --- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        self._running = True
        # Unique across restarts, so a new transaction never reuses an old txnId.
        self._txn_prefix = str(self.clock.time_ms())
        self.rooms.add_persist_listener(self._on_event_persisted)
        if self.enabled:
            await self.catch_up()
        for destination in await self.store.destinations_with_pending():
            self._wake(destination)

    async def catch_up(self) -> None:
        """Queue local events committed after the watermark whose queue rows never were.

        A local event is committed first and queued in a later write; a crash in
        between would lose it for other servers (they would only learn of it when
        a later event refers to it). Queueing it again is harmless: receivers
        dedupe PDUs by event ID.
        """
        after = await self.store.watermark()
        highest = after
        while True:
            batch = await self.store.local_events_in_shared_rooms(after, self.server_name, CATCH_UP_BATCH)
            if not batch:
                break
            events = await self.event_store.get_events([event_id for _, event_id, _ in batch])
            for _stream, event_id, room_id in batch:
                event = events.get(event_id)
                room = await self.rooms.get_room(room_id)
                if event is None or room is None:
                    continue
                destinations = destinations_for_event(room.state, event, self.server_name)
                if destinations:
                    logger.info("federation: queueing %s again after a restart", event_id)
                    await self.send_pdu(event, destinations)
            after = batch[-1][0]
            highest = max(highest, after)
        # Later starts need not look at what was just checked.
        top = await self.event_store.max_stream_ordering()
        if top > highest:
            await self.store.raise_watermark(top)

    async def stop(self) -> None:
        """Finish queueing what was handed to us, then cancel the senders."""
        self._running = False
        if self._enqueues:
            await asyncio.gather(*list(self._enqueues), return_exceptions=True)
        tasks = [d.task for d in self._destinations.values() if d.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._destinations.clear()

    # --- queueing -------------------------------------------------------------------
    async def send_pdu(self, event: Event, destinations: Iterable[str]) -> None:
        """Queue a PDU for each destination; returns once the queue rows are committed."""
        if not self.enabled:
            return
        targets = sorted({d for d in destinations if d != self.server_name})
        if not targets:
            return
        watermark = event.stream_ordering if self.is_mine(event.sender) else None
        await self.store.enqueue(
            [(d, event.event_id) for d in targets], [], self.clock.time_ms(), watermark=watermark
        )
        for d in targets:
            self._wake(d)

    async def send_edu(
        self, destination: str, edu_type: str, content: dict[str, Any], *, replace_key: str | None = None
    ) -> None:
        """Queue one EDU; a queued EDU with the same ``replace_key`` is superseded."""
        await self.send_edus([NewEdu(destination, edu_type, content, replace_key)])

    async def send_edus(self, edus: list[NewEdu]) -> None:
        edus = [e for e in edus if e.destination != self.server_name]
        if not edus or not self.enabled:
            return
        await self.store.enqueue([], edus, self.clock.time_ms())
        for d in {e.destination for e in edus}:
            self._wake(d)

    def spawn(self, coro: Any, name: str) -> None:
        """Run a queueing coroutine from synchronous code (listeners), owned by the sender.

        Tasks start in creation order, so queue rows keep the order of the calls.
        """
        if not self._running:
            coro.close()  # shutting down: ephemeral EDUs are dropped; PDU listeners stop earlier
            return
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._enqueues.add(task)
        task.add_done_callback(self._enqueue_done)

    def _enqueue_done(self, task: asyncio.Task[None]) -> None:
        self._enqueues.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("federation: %s failed", task.get_name(), exc_info=task.exception())

    def note_received(self, event_id: str) -> None:
        """An event from this server's users arrived from another server: don't forward it."""
        self._received[event_id] = None
        if len(self._received) > RECEIVED_IDS_KEPT:
            self._received.popitem(last=False)

    def _on_event_persisted(self, room: RoomView, event: Event) -> None:
        if not self._running or not self.enabled or not self.is_mine(event.sender):
            return
        if event.event_id in self._received:
            return
        destinations = destinations_for_event(room.state, event, self.server_name)
        if destinations:
            self.spawn(self.send_pdu(event, destinations), f"federation-queue-pdu:{event.event_id}")

    def wake_destination(self, destination: str) -> None:
        """The destination just talked to us: it is up, so retry now (SYNAPSE.md §5)."""
        dest = self._destinations.get(destination)
        if dest is not None and dest.failures:
            dest.failures = 0
            dest.wake.set()

    # --- draining ---------------------------------------------------------------------
    def _wake(self, destination: str) -> None:
        if not self._running:
            return
        dest = self._destinations.get(destination)
        if dest is None:
            dest = self._destinations[destination] = _Destination(destination)
        dest.wake.set()
        if dest.task is None or dest.task.done():
            dest.task = asyncio.get_running_loop().create_task(
                self._drain(dest), name=f"federation-send:{destination}"
            )

    async def _drain(self, dest: _Destination) -> None:
        while True:
            dest.wake.clear()
            try:
                if dest.in_flight is None:
                    dest.in_flight = await self._next_transaction(dest.name)
                    if dest.in_flight is None:
                        if dest.wake.is_set():
                            continue  # rows were queued while we looked
                        return  # queue empty; a later _wake starts a new task
                txn = dest.in_flight
                if await self._send(dest.name, txn):
                    await self.store.remove(txn.queue_ids)
                    dest.in_flight = None
                    dest.failures = 0
                    for hook in self.on_delivered:
                        hook(dest.name, txn.body)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("federation: draining the queue of %s failed", dest.name)
            dest.failures += 1
            delay = self.backoff.delay(dest.failures, self._random_unit())
            logger.info(
                "federation: %s failed %d times in a row; retrying in %.1fs", dest.name, dest.failures, delay
            )
            await self._sleep_unless_reset(dest, delay)

    async def _sleep_unless_reset(self, dest: _Destination, delay: float) -> None:
        # New queue rows set `wake` but must not cut the backoff short; only
        # wake_destination (the destination is back) resets `failures`.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while dest.failures:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            dest.wake.clear()
            try:
                await asyncio.wait_for(dest.wake.wait(), remaining)
            except TimeoutError:
                return

    async def _next_transaction(self, destination: str) -> _InFlight | None:
        while True:
            queued_pdus, queued_edus = await self.store.next_batch(
                destination, MAX_PDUS_PER_TXN, MAX_EDUS_PER_TXN
            )
            if not queued_pdus and not queued_edus:
                return None
            loaded = await self._load_pdus(queued_pdus)
            unknown = [queue_id for queue_id, pdu in loaded if pdu is None]
            if unknown:
                logger.warning("federation: dropping %d queued events unknown to storage for %s",
                               len(unknown), destination)
                await self.store.remove(unknown)
            # The receiver limits request bodies too (ours: limits.max_request_body_bytes):
            # fill up to a byte budget, always taking at least one item, in queue order.
            budget = MAX_TXN_BYTES
            pdus: list[dict[str, Any]] = []
            edus: list[dict[str, Any]] = []
            queue_ids: list[int] = []
            for queue_id, pdu in loaded:
                if pdu is None:
                    continue
                size = len(orjson.dumps(pdu))
                if pdus and size > budget:
                    break
                budget -= size
                pdus.append(pdu)
                queue_ids.append(queue_id)
            for queued in queued_edus:
                size = len(orjson.dumps(queued.edu))
                if (pdus or edus) and size > budget:
                    break
                budget -= size
                edus.append(queued.edu)
                queue_ids.append(queued.queue_id)
            if not queue_ids:
                continue  # everything was unknown and is gone now: look again
            body = build_transaction(self.server_name, self.clock.time_ms(), pdus, edus)
            return _InFlight(f"{self._txn_prefix}.{next(self._txn_ids)}", body, queue_ids)

    async def _load_pdus(self, queued: list[QueuedPdu]) -> list[tuple[int, dict[str, Any] | None]]:
        """(queue_id, federation PDU or None when storage no longer has the event)."""
        if not queued:
            return []
        events = await self.event_store.get_events([q.event_id for q in queued])
        out: list[tuple[int, dict[str, Any] | None]] = []
        for q in queued:
            event = events.get(q.event_id)
            out.append((q.queue_id, None if event is None else federation_pdu(event)))
        return out

    async def _send(self, destination: str, txn: _InFlight) -> bool:
        path = f"/_matrix/federation/v1/send/{quote(txn.txn_id, safe='')}"
        try:
            response = await self.client.put_json(destination, path, txn.body, timeout=SEND_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # any failure: back off and retry the same transaction
            logger.info("federation: txn %s to %s failed: %s", txn.txn_id, destination, e)
            return False
        self._log_pdu_errors(destination, response)
        return True

    @staticmethod
    def _log_pdu_errors(destination: str, response: Any) -> None:
        results = response.get("pdus") if isinstance(response, dict) else None
        if not isinstance(results, dict):
            return
        for event_id, result in results.items():
            if isinstance(result, dict) and result.get("error"):
                logger.warning("federation: %s rejected %s: %s", destination, event_id, result["error"])

    # --- introspection (tests, admin) -------------------------------------------------------
    def failures(self, destination: str) -> int:
        dest = self._destinations.get(destination)
        return dest.failures if dest is not None else 0
