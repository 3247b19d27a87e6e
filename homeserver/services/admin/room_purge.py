"""Admin room deletion: shut a room down, optionally move its users, then purge it.

Synapse's Delete Room API (docs/admin_api/rooms.md, "Delete Room API"):
``DELETE /_synapse/admin/v1/rooms/{roomId}`` runs it and answers with the outcome;
``DELETE /_synapse/admin/v2/rooms/{roomId}`` runs it in the background and reports
through ``delete_status``. Steps, as Synapse takes them:

1. ``block``: local users may no longer join (the block outlives the purge).
2. ``new_room_user_id``: a new room owned by that local user gets the ``message``.
3. Every local member leaves (invites and knocks are withdrawn). Joined users are joined
   to the new room, invited users are invited to it. Aliases move to the new room, or go.
4. ``purge``: the leaves are handed to the other servers in the room first (they keep
   their copy of the room), then every row about the room goes in one transaction
   (``homeserver/storage/room_purge.py``) and every in-memory cache lets go of it.
   Local users still in the room stop the purge unless ``force_purge``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from federation.rooms.events import Event
from federation.sender import FederationSender, destinations_for_event
from homeserver.core.event_format import client_event
from homeserver.core.room_state import RoomState
from homeserver.core.stream_token import StreamToken
from homeserver.errors import MatrixError, invalid_param, not_found
from homeserver.services.admin.moderation import ModerationService
from homeserver.services.admin.server_notices import ServerNoticeService
from homeserver.services.federation.events import FederatedEventHandler
from homeserver.services.graph.events import EventService
from homeserver.services.graph.history_visibility import HistoryVisibilityService
from homeserver.services.graph.notifier import Notifier
from homeserver.services.push.notifications import NotificationService
from homeserver.services.reading.relations import RelationsService
from homeserver.services.reading.search import SearchService
from homeserver.services.reading.spaces import SpaceHierarchyService
from homeserver.services.reading.threads import ThreadService
from homeserver.services.rooms.rooms import RoomService
from homeserver.services.social.typing import TypingService
from homeserver.storage.accounts import AccountStore
from homeserver.storage.events import EventStore
from homeserver.storage.room_purge import PurgeResult, RoomPurgeStore
from homeserver.storage.rooms import RoomStore
from homeserver.storage.state import StateStore

logger = logging.getLogger(__name__)

# Synapse's defaults for the room that replaces a deleted one.
DEFAULT_NEW_ROOM_NAME = "Content Violation Notification"
DEFAULT_NEW_ROOM_MESSAGE = (
    "Sharing illegal content on this server is not permitted and rooms in violation will be blocked."
)
# How long a purge waits for other servers to accept our users' leaves before going on
# without them (their queue rows go with the room; those servers learn of the leaves
# only if they ask).
LEAVE_DELIVERY_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class RoomDeletion:
    """The options of a delete request (Synapse's body fields)."""

    block: bool = False
    purge: bool = True
    force_purge: bool = False
    message: str | None = None
    new_room_user_id: str | None = None
    room_name: str | None = None


class RoomPurgeService:
    """Delete rooms for the admin API and remember how it went."""

    def __init__(
        self,
        store: RoomPurgeStore,
        *,
        events: EventService,
        event_store: EventStore,
        state_store: StateStore,
        room_store: RoomStore,
        account_store: AccountStore,
        rooms: RoomService,
        moderation: ModerationService,
        server_notices: ServerNoticeService,
        federation_sender: FederationSender,
        federation_events: FederatedEventHandler,
        notifier: Notifier,
        history_visibility: HistoryVisibilityService,
        typing: TypingService,
        notifications: NotificationService,
        relations: RelationsService,
        threads: ThreadService,
        search: SearchService,
        spaces: SpaceHierarchyService,
        server_name: str,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.events = events
        self.event_store = event_store
        self.state_store = state_store
        self.room_store = room_store
        self.account_store = account_store
        self.rooms = rooms
        self.moderation = moderation
        self.server_notices = server_notices
        self.federation_sender = federation_sender
        self.federation_events = federation_events
        self.notifier = notifier
        self.history_visibility = history_visibility
        self.typing = typing
        self.notifications = notifications
        self.relations = relations
        self.threads = threads
        self.search = search
        self.spaces = spaces
        self.server_name = server_name
        self.is_mine = is_mine
        # delete_id -> status body of GET /_synapse/admin/v2/rooms/delete_status (until restart).
        self.deletions: dict[str, dict[str, Any]] = {}
        self._active_rooms: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.leave_delivery_timeout = LEAVE_DELIVERY_TIMEOUT_SECONDS
        # user_id -> room_id -> that user's leave from a purged room. The purge takes the
        # leave with it, so /sync shows it from here to clients that had not seen it yet
        # (kept until restart).
        self._purged_leaves: dict[str, dict[str, Event]] = {}

    # --- entry points -----------------------------------------------------------------
    async def delete_room(self, room_id: str, admin: str, options: RoomDeletion) -> dict[str, Any]:
        """v1: delete now and return ``{kicked_users, failed_to_kick_users, local_aliases, new_room_id}``."""
        await self._validate(room_id, options)
        status = self._new_status(room_id)
        self._active_rooms.add(room_id)
        try:
            await self._run(room_id, admin, options, status)
        finally:
            self._active_rooms.discard(room_id)
        if status["status"] == "failed":
            raise MatrixError("M_UNKNOWN", 400, status.get("error") or "Room deletion failed")
        return dict(status["shutdown_room"])

    async def start_deletion(self, room_id: str, admin: str, options: RoomDeletion) -> str:
        """v2: check the request, run the deletion in the background, return its delete_id."""
        await self._validate(room_id, options)
        status = self._new_status(room_id)
        self._active_rooms.add(room_id)
        task = asyncio.get_running_loop().create_task(
            self._run_in_background(room_id, admin, options, status),
            name=f"room-delete:{room_id}",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return str(status["delete_id"])

    def status(self, delete_id: str) -> dict[str, Any] | None:
        return self.deletions.get(delete_id)

    def statuses_for_room(self, room_id: str) -> list[dict[str, Any]]:
        return [s for s in self.deletions.values() if s["room_id"] == room_id]

    def leave_sections(
        self, user_id: str, since_events: int | None, upto_events: int, now_ms: int
    ) -> dict[str, dict[str, Any]]:
        """/sync ``rooms.leave`` sections for rooms purged after the client's ``since``.

        spec: client-server-api "Syncing" — a room the user left since ``since`` is
        listed under ``leave``. Its history is gone, so the timeline is the leave alone
        (not ``limited``: there is nothing left to paginate to).
        """
        purged = self._purged_leaves.get(user_id)
        if not purged or since_events is None:
            return {}
        sections: dict[str, dict[str, Any]] = {}
        for room_id, leave in purged.items():
            stream = leave.stream_ordering or 0
            if since_events < stream <= upto_events:
                event = client_event(leave, include_room_id=False, now_ms=now_ms)
                event.setdefault("unsigned", {})["membership"] = "leave"
                sections[room_id] = {
                    "timeline": {"events": [event], "limited": False,
                                 "prev_batch": StreamToken(events=stream - 1).serialize()},
                    "state": {"events": []},
                    "account_data": {"events": []},
                }
        return sections

    async def wait_idle(self) -> None:
        """Wait for every background deletion to finish (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- the deletion -----------------------------------------------------------------
    async def _validate(self, room_id: str, options: RoomDeletion) -> None:
        if not room_id.startswith("!"):
            raise invalid_param(f"{room_id} is not a room ID")
        if room_id in self._active_rooms:
            raise MatrixError("M_UNKNOWN", 400, f"A deletion of {room_id} is already in progress")
        owner = options.new_room_user_id
        if owner is not None:
            if not self.is_mine(owner) or await self.account_store.get_user(owner) is None:
                raise invalid_param("new_room_user_id must be an existing local user")
        known = await self.events.get_room(room_id) is not None or await self.store.room_exists(room_id)
        if not known and not options.block:
            raise not_found("Unknown room")

    def _new_status(self, room_id: str) -> dict[str, Any]:
        delete_id = secrets.token_urlsafe(12)
        status: dict[str, Any] = {
            "delete_id": delete_id, "room_id": room_id, "status": "shutting_down",
            "shutdown_room": {"kicked_users": [], "failed_to_kick_users": [], "local_aliases": [],
                              "new_room_id": None},
        }
        self.deletions[delete_id] = status
        return status

    async def _run_in_background(self, room_id: str, admin: str, options: RoomDeletion,
                                 status: dict[str, Any]) -> None:
        try:
            await self._run(room_id, admin, options, status)
        finally:
            self._active_rooms.discard(room_id)

    async def _run(self, room_id: str, admin: str, options: RoomDeletion, status: dict[str, Any]) -> None:
        try:
            leaves = await self._shut_down(room_id, admin, options, status["shutdown_room"])
            if options.purge:
                room = await self.events.get_room(room_id)
                still_here = sorted(u for u in room.members_with("join") if self.is_mine(u)) if room else []
                if still_here and not options.force_purge:
                    raise MatrixError("M_UNKNOWN", 400, f"Local users are still in the room: {', '.join(still_here)}")
                status["status"] = "purging"
                await self._wait_for_leave_delivery(room_id, leaves)
                await self.purge(room_id)
                for leave, _ in leaves:
                    if leave.state_key is not None:
                        self._purged_leaves.setdefault(leave.state_key, {})[room_id] = leave
            status["status"] = "complete"
        except asyncio.CancelledError:
            status["status"] = "failed"
            status["error"] = "The server shut down during the deletion"
            raise
        except Exception as e:
            logger.exception("deleting room %s failed", room_id)
            status["status"] = "failed"
            status["error"] = e.message if isinstance(e, MatrixError) else str(e)

    async def _shut_down(
        self, room_id: str, admin: str, options: RoomDeletion, result: dict[str, Any]
    ) -> list[tuple[Event, set[str]]]:
        """Block, move and remove local users; returns each leave with the servers it goes to."""
        if options.block:
            await self.moderation.set_blocked(room_id, True, admin)
        room = await self.events.get_room(room_id)
        owner = options.new_room_user_id
        new_room_id: str | None = None
        if owner is not None:
            new_room_id = await self._create_replacement_room(owner, options)
            result["new_room_id"] = new_room_id
        leaves: list[tuple[Event, set[str]]] = []
        if room is not None:
            for user_id in sorted(room.members_with("join", "invite", "knock")):
                if not self.is_mine(user_id):
                    continue  # remote members stay; their servers keep the room
                before = room.membership(user_id)
                try:
                    leave = await self._leave(room, user_id, options.message)
                except MatrixError as e:
                    logger.warning("could not remove %s from %s: %s", user_id, room_id, e)
                    result["failed_to_kick_users"].append(user_id)
                    continue
                leaves.append((leave, destinations_for_event(room.state, leave, self.server_name)))
                result["kicked_users"].append(user_id)
                if new_room_id is not None and owner is not None and user_id != owner:
                    try:
                        await self._move_user(new_room_id, owner, user_id, before)
                    except MatrixError as e:
                        logger.warning("could not move %s from %s to %s: %s", user_id, room_id, new_room_id, e)
        aliases = await self.room_store.get_aliases_for_room(room_id)
        for alias in aliases:
            await self.room_store.delete_alias(alias)
            if new_room_id is not None and owner is not None:
                # Synapse moves the old room's aliases to the new room.
                await self.room_store.create_alias(alias, new_room_id, owner)
        result["local_aliases"] = aliases
        if room is not None:
            await self.room_store.set_public(room_id, False)
        logger.info("admin %s shut down room %s (block=%s, new room %s)", admin, room_id, options.block, new_room_id)
        return leaves

    async def _leave(self, room: RoomState, user_id: str, message: str | None) -> Event:
        content: dict[str, Any] = {"membership": "leave"}
        if message:
            content["reason"] = message
        # A local user's own leave (or withdrawn invite/knock) is allowed by the auth rules.
        return await self.events.send(room.room_id, user_id, "m.room.member", content, user_id)

    async def _create_replacement_room(self, owner: str, options: RoomDeletion) -> str:
        new_room_id = await self.rooms.create_room(owner, {
            "preset": "public_chat",
            "name": options.room_name or DEFAULT_NEW_ROOM_NAME,
            # Synapse: only the owner speaks in the replacement room.
            "power_level_content_override": {"users_default": -10},
        })
        await self.events.send(
            new_room_id, owner, "m.room.message",
            {"msgtype": "m.text", "body": options.message or DEFAULT_NEW_ROOM_MESSAGE},
        )
        return new_room_id

    async def _move_user(self, new_room_id: str, owner: str, user_id: str, membership: str | None) -> None:
        if membership == "join":
            await self.rooms.join(user_id, new_room_id)
        elif membership == "invite":
            await self.rooms.invite(owner, new_room_id, user_id)

    # --- the purge --------------------------------------------------------------------
    async def _wait_for_leave_delivery(self, room_id: str, leaves: list[tuple[Event, set[str]]]) -> None:
        """Let the federation sender hand our users' leaves to the other servers first.

        The sender queues a local event in a task after its commit (raising the queue
        watermark in the same write) and deletes the queue rows once a destination
        answered 200, so the leaves are out when the watermark has passed the last
        leave and none of them is queued any more. Woken by each delivery, not polled.
        """
        sender = self.federation_sender
        # Only leaves with destinations are queued (and raise the watermark).
        outgoing = [leave for leave, destinations in leaves if destinations]
        if not sender.enabled or not outgoing:
            return
        last_stream = max(leave.stream_ordering or 0 for leave in outgoing)
        event_ids = [leave.event_id for leave in outgoing]
        delivered = asyncio.Event()

        def on_delivered(_destination: str, _body: dict[str, Any]) -> None:
            delivered.set()

        sender.on_delivered.append(on_delivered)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.leave_delivery_timeout
        try:
            while True:
                delivered.clear()
                queued = await sender.store.watermark() >= last_stream
                pending = await self.store.undelivered_events(event_ids)
                if queued and not pending:
                    return
                remaining = deadline - loop.time()
                if remaining <= 0:
                    logger.warning(
                        "purging %s before these servers accepted our leaves: %s", room_id,
                        ", ".join(sorted({d for d, _ in pending})) or "(not queued yet)",
                    )
                    return
                try:
                    await asyncio.wait_for(delivered.wait(), remaining)
                except TimeoutError:
                    pass
        finally:
            sender.on_delivered.remove(on_delivered)

    async def purge(self, room_id: str) -> PurgeResult:
        """Remove the room from the database in one transaction, then from every cache."""
        # Writers that batch rows after an event's commit go first, so none of their
        # rows lands after the purge.
        # Inbound PDUs of the room wait on its lock; once they run, the room is unknown.
        async with self.federation_events.room_lock(room_id):
            await self.search.flush()
            await self.notifications.flush()
            result = await self.store.purge_room(room_id)
            self._forget_in_memory(room_id, result)
        return result

    def _forget_in_memory(self, room_id: str, result: PurgeResult) -> None:
        """Drop the room from every in-memory cache that holds it (after the commit)."""
        event_ids = set(result.event_ids)
        self.events.forget_room(room_id, event_ids)
        for event_id in event_ids:
            self.event_store.invalidate(event_id)
        self.state_store.forget(result.state_groups)
        self.relations.forget_events(event_ids)
        self.threads.forget_events(event_ids)
        self.history_visibility.forget_room(room_id)
        self.notifications.counter.forget_room(room_id)
        self.typing.forget_room(room_id)
        self.notifier.forget_room(room_id)
        self.spaces.forget_room(room_id)
        self.moderation.forget_room(room_id)
        self.server_notices.forget_room(room_id)
