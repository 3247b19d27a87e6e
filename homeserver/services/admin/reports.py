"""Content reports from users to the server's admins.

spec: client-server-api/_index.md, "Reporting content" (data/api/client-server/report_content.yaml).
Reports are listed by the admin API (GET /_synapse/admin/v1/event_reports).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from homeserver.clock import Clock
from homeserver.errors import not_found
from homeserver.services.graph.events import EventService
from homeserver.storage.accounts import AccountStore
from homeserver.storage.admin import AdminStore
from homeserver.storage.events import EventStore

logger = logging.getLogger(__name__)


class ContentReportService:
    def __init__(
        self,
        store: AdminStore,
        *,
        events: EventService,
        event_store: EventStore,
        account_store: AccountStore,
        clock: Clock,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.events = events
        self.event_store = event_store
        self.account_store = account_store
        self.clock = clock
        self.is_mine = is_mine
        self.store = store

    async def report_event(
        self, reporter: str, room_id: str, event_id: str, reason: str | None, score: int | None
    ) -> int:
        # spec: 404 "if the event was not found or you are not joined to the room",
        # and MAY also for redacted events.
        missing = not_found("The event was not found or you are not joined to the room.")
        room = await self.events.get_room(room_id)
        if room is None or room.membership(reporter) != "join":
            raise missing
        event = await self.event_store.get_event(event_id)
        if event is None or event.room_id != room_id or event.rejected_reason is not None:
            raise missing
        if await self.event_store.get_redacted_by(event_id) is not None:
            raise missing
        return await self._add(reporter, room_id, event_id, None, reason, score)

    async def report_room(self, reporter: str, room_id: str, reason: str) -> int:
        if await self.events.get_room(room_id) is None:
            raise not_found("The room was not found.")
        return await self._add(reporter, room_id, None, None, reason, None)

    async def report_user(self, reporter: str, user_id: str, reason: str) -> int:
        if self.is_mine(user_id) and await self.account_store.get_user(user_id) is None:
            raise not_found("The user was not found.")
        return await self._add(reporter, None, None, user_id, reason, None)

    async def _add(self, reporter: str, room_id: str | None, event_id: str | None, user_id: str | None,
                   reason: str | None, score: int | None) -> int:
        report_id = await self.store.add_report(
            reporter=reporter, received_ts=self.clock.time_ms(), room_id=room_id, event_id=event_id,
            reported_user_id=user_id, reason=reason, score=score,
        )
        logger.info("report %d by %s (room %s, event %s, user %s)", report_id, reporter, room_id, event_id, user_id)
        return report_id

    # --- for the HTTP handlers (api/admin/server.py) --------------------------------------
    async def delete_report(self, report_id: int) -> bool:
        """Whether there was such a report to delete."""
        return await self.store.delete_report(report_id)
