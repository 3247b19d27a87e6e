"""Events received over federation: checks, gaps, state, and joining the room graph.

spec: server-server-api.md, "Checks performed on receipt of a PDU", in order:
1. valid format for the room version (``federated_pdus.event_from_pdu``),
2. signatures (``verify_signatures``, FA's key ring), else dropped,
3. content hash, else the redacted event is used,
4. auth against the event's own auth events, else rejected,
5. auth against the state before the event, else rejected,
6. auth against the room's current state, else soft-failed.

Rejected and soft-failed events are stored as outliers (never shown to clients,
never prev_events of ours). Accepted events get a stream position, their own
state groups, update the forward extremities, and the current state becomes the
resolution of the old current state and the state after the event.

Remote ingestion is serialised per room by a lock; local sends never take it.
The final commit step runs without an await, like a local send, and is retried
when a local state event changed the room while the remote state was computed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from federation.rooms.auth import (
    AuthError,
    auth_types_for_event,
    check_auth_rules,
    check_event_against_auth_events,
)
from federation.rooms.events import Event, StateKey
from federation.rooms.versions import RoomVersion, get_room_version
from homeserver.core.pdu_checks import InvalidPdu, event_from_pdu
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError
from homeserver.services.federation.backfill import backfill_room
from homeserver.services.federation.event_source import RemoteEventSource
from homeserver.services.federation.graph import (
    FederatedGraphWriter,
    PduNotProcessed,
    PduRejected,
    StateBefore,
)
from homeserver.services.federation.out_of_band import OutOfBandMembershipService
from homeserver.services.federation.state import MissingAuthEvents, StateIds, resolve_state_sets
from homeserver.services.graph.events import EventService
from homeserver.storage.events import EventStore, GraphFlags, PersistEvent
from homeserver.storage.state import StateStore

logger = logging.getLogger(__name__)

# spec: "Backfilling and retrieving missing events" — a small window first.
MISSING_EVENTS_LIMIT = 20
COMMIT_ATTEMPTS = 5
STATE_GROUPS_REMEMBERED = 10_000

SignatureVerifier = Callable[[Event], Awaitable[None]]

__all__ = ["FederatedEventHandler", "PduNotProcessed", "PduRejected"]


class FederatedEventHandler:
    """Ingests remote PDUs into rooms (``Container.federation_events``)."""

    def __init__(
        self,
        events: EventService,
        store: EventStore,
        state_store: StateStore,
        out_of_band: OutOfBandMembershipService,
        remote: RemoteEventSource,
        verify_signatures: SignatureVerifier,
        server_name: str,
    ) -> None:
        self.events = events
        self.store = store
        self.state_store = state_store
        self.out_of_band = out_of_band
        self.server_name = server_name
        # Replaceable in tests: where missing events come from, how signatures are checked.
        self.remote = remote
        self.verify_signatures = verify_signatures
        self.graph = FederatedGraphWriter(
            events, store, state_store, lambda: self.remote, self.check_signatures
        )
        self._room_locks: dict[str, asyncio.Lock] = {}
        # event ID -> state group after it, for events accepted here (see _apply_if_linear)
        self._state_group_after: OrderedDict[str, int] = OrderedDict()

    def room_lock(self, room_id: str) -> asyncio.Lock:
        lock = self._room_locks.get(room_id)
        if lock is None:
            lock = self._room_locks[room_id] = asyncio.Lock()
        return lock

    # --- entry points ------------------------------------------------------------
    async def on_receive_pdus(self, origin: str, pdus: Sequence[Any]) -> dict[str, str | None]:
        """PDUs of a /send transaction: event_id -> None when accepted, else the error."""
        results: dict[str, str | None] = {}
        run: list[Event] = []  # consecutive PDUs of one room, handled together
        run_room_id: str | None = None
        for raw in pdus:
            room_id = raw.get("room_id") if isinstance(raw, dict) else None
            room = await self.events.get_room(room_id) if isinstance(room_id, str) else None
            if room is None:
                # A room we do not hold may still end a local user's pending invite or knock.
                if not await self.out_of_band.on_pdu_for_unknown_room(origin, raw):
                    logger.info("dropping PDU from %s for unknown room %r", origin, room_id)
                continue
            try:
                event, _hash_ok = event_from_pdu(raw, room.version, room.room_id)
            except InvalidPdu as e:
                logger.info("dropping invalid PDU from %s in %s: %s", origin, room.room_id, e)
                continue
            if run and run_room_id != room.room_id:
                assert run_room_id is not None
                await self._receive_room_pdus(origin, run_room_id, run, results)
                run = []
            run_room_id = room.room_id
            run.append(event)
        if run:
            assert run_room_id is not None
            await self._receive_room_pdus(origin, run_room_id, run, results)
        return results

    async def _receive_room_pdus(
        self, origin: str, room_id: str, events: list[Event], results: dict[str, str | None]
    ) -> None:
        """One room's PDUs, in order, under the room lock.

        The common case is a linear stream: each PDU's only prev event is the room's
        single forward extremity, so the state before it is the room's current state
        (no state resolution, no soft-fail question) and every check runs against the
        in-memory ``RoomState``. Such PDUs are applied one after another without an
        await and written together in one persist write. Any PDU the in-memory checks
        cannot accept (a fork, a gap, unknown auth events, an auth failure) goes
        through the full pipeline (``_process_new_event``), which decides exactly as
        if no fast path existed; the already applied PDUs are written first.
        """
        async with self.room_lock(room_id):
            pending = list(events)
            verified: set[str] = set()
            while pending:
                graph = await self.store.get_graph_flags(
                    list(dict.fromkeys(i for e in pending for i in (e.event_id, *e.prev_event_ids)))
                )
                checked: list[Event] = []
                for event in pending:
                    known = graph.get(event.event_id)
                    if known is not None and _already_judged(known):
                        results[event.event_id] = None  # as _process_new_event: nothing to do
                        continue
                    if event.event_id not in verified:
                        try:
                            await self.check_signatures(event)  # spec: step 2, needs no room state
                        except MatrixError as e:
                            logger.info("PDU %s from %s not accepted: %s", event.event_id, origin, e.message)
                            results[event.event_id] = e.message
                            continue
                        verified.add(event.event_id)
                    checked.append(event)
                room = await self.events.get_room(room_id)
                if room is None:
                    for event in checked:
                        results[event.event_id] = "Unknown room"
                    return
                # From here to the write: no await, so local sends cannot interleave.
                items: list[PersistEvent] = []
                for event in checked:
                    item = self._apply_if_linear(room, event, graph)
                    if item is None:
                        break
                    items.append(item)
                    if event.type == "m.room.redaction":
                        break  # its target may be among the items: redact after the write
                await self.events.write_many(room, items)
                for item in items:
                    results[item.event.event_id] = None
                    if item.event.type == "m.room.redaction":
                        await self._maybe_redact(room, item.event)
                rest = checked[len(items):]
                if rest and not items:
                    await self._receive_one(origin, rest[0], results, signatures_checked=True)
                    rest = rest[1:]
                pending = rest

    async def _receive_one(
        self, origin: str, event: Event, results: dict[str, str | None], *, signatures_checked: bool
    ) -> None:
        """The full receive pipeline for one PDU (the caller holds the room lock)."""
        room = await self.events.get_room(event.room_id)
        if room is None:
            results[event.event_id] = "Unknown room"
            return
        try:
            await self._process_new_event(
                origin, room, event, fetch_gaps=True, signatures_checked=signatures_checked
            )
            results[event.event_id] = None
        except MatrixError as e:
            logger.info("PDU %s from %s not accepted: %s", event.event_id, origin, e.message)
            results[event.event_id] = e.message

    def _apply_if_linear(
        self, room: RoomState, event: Event, graph: dict[str, GraphFlags]
    ) -> PersistEvent | None:
        """Accept and apply an event that extends the room's single forward extremity
        when the in-memory checks pass; None sends it through the full pipeline.

        spec: server-server-api.md, "Checks performed on receipt of a PDU", steps 4-6:
        its auth events are the room's current state events (or recent events), the
        state before it is the current state (its prev event is the only extremity and
        the room's state group is the state after that event), so the soft-fail check
        against the current state is the check against the state before it.
        """
        if len(room.extremities) != 1 or event.prev_event_ids != room.extremities:
            return None
        tip = room.extremities[0]
        tip_group = self._state_group_after.get(tip)
        if tip_group is None:
            flags = graph.get(tip)
            tip_group = flags.state_group if flags is not None and not flags.outlier else None
        if tip_group is None or tip_group != room.state_group:
            return None
        auth_events = _auth_events_in_memory(room, event)
        if auth_events is None:
            return None
        try:
            check_event_against_auth_events(
                event, auth_events, room.create_event, is_signed_by=_carries_signature
            )
            check_auth_rules(event, room.state, room.create_event, is_signed_by=_carries_signature)
        except AuthError:
            return None  # the full pipeline rejects and stores it
        if event.is_state and (previous := room.state.get(event.state_tuple)) is not None:
            event.pdu["unsigned"] = {
                "replaces_state": previous.event_id,
                "prev_content": previous.content,
                "prev_sender": previous.sender,
            }
        item = self.events.apply_remote(room, event)
        known = graph.get(event.event_id)
        item.replaces_outlier = known is not None
        self._note_state_group(event.event_id, item.state_group_after)
        return item

    def _note_state_group(self, event_id: str, group_after: int | None) -> None:
        """Remember the state group after an accepted event: the next PDU built on it
        needs no database read to know that the room's current state follows it."""
        if group_after is None:
            return
        self._state_group_after[event_id] = group_after
        if len(self._state_group_after) > STATE_GROUPS_REMEMBERED:
            self._state_group_after.popitem(last=False)

    async def persist_remote_event(self, origin: str, pdu: Any) -> Event:
        """Check and add one remote event to its (known) room; raise if not accepted."""
        room_id = pdu.get("room_id") if isinstance(pdu, dict) else None
        if not isinstance(room_id, str):
            raise MatrixError("M_BAD_JSON", 400, "PDU has no room_id")
        room = await self.events.get_room(room_id)
        if room is None:
            raise MatrixError("M_NOT_FOUND", 404, "Unknown room")
        try:
            event, _hash_ok = event_from_pdu(pdu, room.version, room_id)
        except InvalidPdu as e:
            raise MatrixError("M_BAD_JSON", 400, f"Invalid PDU: {e}") from None
        async with self.room_lock(room_id):
            await self._process_new_event(origin, room, event, fetch_gaps=True)
        stored = await self.store.get_event(event.event_id)
        return stored or event

    async def process_send_join_response(
        self,
        room_version: RoomVersion | str,
        room_id: str,
        join_event: Any,
        state_pdus: Sequence[Any],
        auth_chain_pdus: Sequence[Any],
        origin: str,
    ) -> Event:
        """Persist a send_join answer: auth chain and state as outliers, then the join
        event with that state as the room's current state (spec: "Joining Rooms")."""
        version = room_version if isinstance(room_version, RoomVersion) else get_room_version(room_version)
        if version is None:
            raise MatrixError("M_UNSUPPORTED_ROOM_VERSION", 400, f"Unsupported room version {room_version}")
        raw_join = join_event.pdu if isinstance(join_event, Event) else join_event
        try:
            join, _ = event_from_pdu(raw_join, version, room_id)
        except InvalidPdu as e:
            raise MatrixError("M_BAD_JSON", 400, f"Invalid join event: {e}") from None
        async with self.room_lock(room_id):
            return await self.graph.apply_join(origin, version, room_id, join, state_pdus, auth_chain_pdus)

    # --- the receive pipeline ---------------------------------------------------------
    async def _process_new_event(
        self, origin: str, room: RoomState, event: Event, *, fetch_gaps: bool,
        signatures_checked: bool = False,
    ) -> None:
        known = (await self.store.get_graph_flags([event.event_id])).get(event.event_id)
        if known is not None and _already_judged(known):
            return
        if not signatures_checked:
            await self.check_signatures(event)
        await self.graph.ensure_auth_events(origin, room, event)
        auth_list = list((await self.store.get_events(event.auth_event_ids)).values())
        try:
            check_event_against_auth_events(
                event, auth_list, room.create_event, is_signed_by=_carries_signature
            )
        except AuthError as e:
            await self.graph.store_judged(room, event, rejected=str(e))
            raise PduRejected(event.event_id, f"not allowed by its auth events: {e}") from None
        if fetch_gaps:
            await self._fetch_missing_prev_events(origin, room, event)
        before = await self.graph.state_before(origin, room, event)
        state_before = await self._events_of(before.state)
        try:
            check_auth_rules(event, state_before, room.create_event, is_signed_by=_carries_signature)
        except AuthError as e:
            await self.graph.store_judged(room, event, rejected=str(e), before=before)
            raise PduRejected(event.event_id, f"not allowed by the state before it: {e}") from None
        if event.is_state and event.state_tuple in state_before:
            previous = state_before[event.state_tuple]
            # Our own unsigned data, as for local events (the sender's was dropped).
            event.pdu["unsigned"] = {
                "replaces_state": previous.event_id,
                "prev_content": previous.content,
                "prev_sender": previous.sender,
            }
        await self._commit(room, event, before, replaces_outlier=known is not None)

    async def check_signatures(self, event: Event) -> None:
        """spec: step 2 — an event failing signature checks is dropped."""
        try:
            await self.verify_signatures(event)
        except MatrixError:
            raise
        except Exception as e:  # SignatureError, unreachable key servers
            raise PduRejected(event.event_id, f"bad or unverifiable signature: {e}") from None

    async def _events_of(self, state: StateIds) -> dict[StateKey, Event]:
        loaded = await self.store.get_events(state.values())
        return {k: loaded[eid] for k, eid in state.items() if eid in loaded}

    async def _fetch_missing_prev_events(self, origin: str, room: RoomState, event: Event) -> None:
        """spec: "Backfilling and retrieving missing events" — ask the sender for the gap
        between our forward extremities and the event; larger gaps are bridged by
        fetching the state at the missing prev events (``state_before``)."""
        flags = await self.store.get_graph_flags(event.prev_event_ids)
        if all(p in flags and flags[p].state_group is not None for p in event.prev_event_ids):
            return
        try:
            pdus = await self.remote.get_missing_events(
                origin, room.room_id, list(room.extremities), [event.event_id], MISSING_EVENTS_LIMIT, 0
            )
        except Exception as e:  # the gap is then bridged with /state_ids
            logger.info("get_missing_events %s from %s failed: %s", room.room_id, origin, e)
            return
        parsed: list[Event] = []
        for raw in pdus:
            try:
                parsed.append(event_from_pdu(raw, room.version, room.room_id)[0])
            except InvalidPdu as e:
                logger.info("invalid missing event from %s: %s", origin, e)
        for missing in sorted(parsed, key=lambda e: (e.depth, e.origin_server_ts, e.event_id)):
            if missing.event_id == event.event_id:
                continue
            try:
                await self._process_new_event(origin, room, missing, fetch_gaps=False)
            except MatrixError as e:
                logger.info("missing event %s not accepted: %s", missing.event_id, e.message)

    async def _commit(
        self, room: RoomState, event: Event, before: StateBefore, *, replaces_outlier: bool
    ) -> None:
        """Soft-fail check, new current state, then the await-free apply and the write."""
        state_after: StateIds = dict(before.state)
        if event.is_state:
            state_after[event.state_tuple] = event.event_id
        for _attempt in range(COMMIT_ATTEMPTS):
            snapshot_group = room.state_group
            if before.group_id != snapshot_group:
                # spec: "Soft failure" — auth against the current state of the room.
                try:
                    check_auth_rules(event, room.state, room.create_event, is_signed_by=_carries_signature)
                except AuthError as e:
                    logger.info("soft-failing %s in %s: %s", event.event_id, room.room_id, e)
                    await self.graph.store_judged(room, event, soft_failed=True, before=before)
                    return
            covered = set(room.extremities) <= set(event.prev_event_ids)
            if covered:
                new_current = state_after
            else:
                current: StateIds = {k: ev.event_id for k, ev in room.state.items()}
                known = in_memory_events(room)
                known[event.event_id] = event
                try:
                    new_current = await resolve_state_sets(
                        self.store, room.version, room.create_event, [current, state_after], known
                    )
                except MissingAuthEvents as e:
                    raise PduNotProcessed(event.event_id, str(e)) from None
                if room.state_group != snapshot_group:
                    continue  # a local state event landed meanwhile: resolve again
            # Local events still being written are only in memory.
            loaded = in_memory_events(room)
            loaded.update(await self.store.get_events(
                [eid for eid in new_current.values() if eid not in loaded and eid != event.event_id]
            ))
            loaded[event.event_id] = event
            if room.state_group != snapshot_group:
                continue
            # From here to the write there is no await (like a local send).
            item = self.events.apply_remote(room, event, before.resolved(new_current, loaded))
            item.replaces_outlier = replaces_outlier
            self._note_state_group(event.event_id, item.state_group_after)
            await self.events.write(room, item)
            if event.type == "m.room.redaction":
                await self._maybe_redact(room, event)
            return
        raise PduNotProcessed(event.event_id, "room state kept changing; try again")

    async def _maybe_redact(self, room: RoomState, redaction: Event) -> None:
        await self.events.redact_if_allowed(room, redaction)

    # --- history ---------------------------------------------------------------------
    async def backfill(self, room_id: str, limit: int) -> list[Event]:
        """Fetch history older than the earliest local event from a server in the room."""
        return await backfill_room(self, room_id, limit)


def _already_judged(known: GraphFlags) -> bool:
    """Stored in the timeline, or rejected or soft-failed: a PDU received again is a no-op."""
    return not known.outlier or known.rejected is not None or known.soft_failed


def _auth_events_in_memory(room: RoomState, event: Event) -> list[Event] | None:
    """The event's auth events from the room's current state and recent events, or
    None when one of them is not there (or an ID is listed twice)."""
    wanted = event.auth_event_ids
    if len(set(wanted)) != len(wanted):
        return None
    found: dict[str, Event] = {}
    for key in auth_types_for_event(room.version, event.type, event.state_key, event.sender, event.content):
        candidate = room.state.get(key)
        if candidate is not None and candidate.event_id in wanted:
            found[candidate.event_id] = candidate
    if len(found) < len(wanted):
        for candidate in room.recent:
            if candidate.event_id in wanted:
                found[candidate.event_id] = candidate
    if len(found) != len(wanted):
        return None
    return list(found.values())


def _carries_signature(event: Event, server_name: str) -> bool:
    # Signatures were verified by the key ring (every signer the room version
    # requires, including a restricted join's authorising server) before this runs.
    signatures = event.pdu.get("signatures")
    return isinstance(signatures, dict) and server_name in signatures


def in_memory_events(room: RoomState) -> dict[str, Event]:
    """The room's current state and recent events by ID (some may not be committed yet)."""
    known = {ev.event_id: ev for ev in room.recent}
    known.update((ev.event_id, ev) for ev in room.state.values())
    return known
