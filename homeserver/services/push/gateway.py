"""Delivery of notifications to users' HTTP pushers (push gateways).

spec: push-gateway-api.md and data/api/push-gateway/push_notifier.yaml. One owned
background task drains a queue filled by the persist listener: for each notification
it POSTs ``{"notification": ...}`` to each of the user's http pushers, with a timeout,
and deletes pushers whose pushkey the gateway reports as ``rejected``. A failed
request is logged and not retried (the counts catch up with the next notification).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from federation.rooms.events import Event
from homeserver.services.graph.events import EventService
from homeserver.services.push.settings import PushSettingsService
from homeserver.services.push.unread import IgnoredUsers, NotificationCounter
from homeserver.storage.events import EventStore
from homeserver.storage.push import PushAction, Pusher

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 10.0
MAX_QUEUED = 10_000


def tweaks_of(actions: Sequence[Any]) -> dict[str, Any]:
    """The set_tweak actions as a dict; a tweak without value is true (spec: "Actions")."""
    tweaks: dict[str, Any] = {}
    for action in actions:
        if isinstance(action, Mapping) and isinstance(action.get("set_tweak"), str):
            tweaks[action["set_tweak"]] = action.get("value", True)
    return tweaks


def gateway_notification(
    pusher: Pusher,
    event: Event,
    *,
    user_id: str,
    unread: int,
    actions: Sequence[Any],
    sender_display_name: str | None,
    room_name: str | None,
    room_alias: str | None,
) -> dict[str, Any]:
    """The body of POST /_matrix/push/v1/notify for one pusher (spec: push_notifier.yaml)."""
    tweaks = tweaks_of(actions)
    device: dict[str, Any] = {
        "app_id": pusher.app_id,
        "pushkey": pusher.pushkey,
        "pushkey_ts": pusher.updated_ts // 1000,
        # spec: pusher.yaml — forward all of data except url.
        "data": {k: v for k, v in pusher.data.items() if k != "url"},
        "tweaks": tweaks,
    }
    notification: dict[str, Any] = {"event_id": event.event_id, "room_id": event.room_id, "devices": [device]}
    if unread:
        notification["counts"] = {"unread": unread}  # spec: zero counts should be omitted
    high = event.type == "m.room.encrypted" or bool(tweaks.get("highlight")) or bool(tweaks.get("sound"))
    notification["prio"] = "high" if high else "low"
    if pusher.data.get("format") == "event_id_only":
        return {"notification": notification}
    notification.update({"type": event.type, "sender": event.sender})
    if event.content:
        notification["content"] = event.content
    if sender_display_name:
        notification["sender_display_name"] = sender_display_name
    if room_name:
        notification["room_name"] = room_name
    if room_alias:
        notification["room_alias"] = room_alias
    if event.type == "m.room.member":
        notification["user_is_target"] = event.state_key == user_id
    return {"notification": notification}


class PushGatewayDelivery:
    def __init__(
        self,
        events: EventService,
        event_store: EventStore,
        push_settings: PushSettingsService,
        counter: NotificationCounter,
        ignored_users: IgnoredUsers,
    ) -> None:
        self.events = events
        self.event_store = event_store
        self.push_settings = push_settings
        self.counter = counter
        self.ignored_users = ignored_users
        self._queue: deque[PushAction] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing is queued or being delivered
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def enqueue(self, action: PushAction) -> None:
        """Called synchronously from the persist listener."""
        if len(self._queue) >= MAX_QUEUED:
            logger.warning("push gateway queue full; dropping notification of %s for %s",
                           action.event_id, action.user_id)
            return
        self._queue.append(action)
        self._idle.clear()
        self._wakeup.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="push-gateway-delivery")

    async def wait_idle(self) -> None:
        """Wait until every queued notification has been delivered (or given up on)."""
        await self._idle.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            action = self._queue.popleft()
            try:
                await self._deliver(action)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("push to gateways failed for %s (event %s)", action.user_id, action.event_id)

    async def _unread_total(self, user_id: str) -> int:
        """spec: counts.unread — unread notifications across all the user's rooms."""
        upto = self.events.persisted_stream
        rooms = await self.events.rooms_for_user(user_id)
        total = 0
        for room_id, membership in rooms.items():
            if membership == "join":
                total += (await self.counter.counts(user_id, room_id, upto))["notification_count"]
        return total

    async def _deliver(self, action: PushAction) -> None:
        if action.sender in await self.ignored_users(action.user_id):
            return
        pushers = [p for p in await self.push_settings.live_pushers(action.user_id) if p.kind == "http"]
        if not pushers:
            return
        event = await self.event_store.get_event(action.event_id)
        if event is None:
            return
        room = self.events.cached_room(action.room_id) or await self.events.get_room(action.room_id)
        sender_name = room_name = room_alias = None
        if room is not None:
            sender_member = room.state_content("m.room.member", event.sender)
            sender_name = sender_member.get("displayname") if isinstance(sender_member.get("displayname"), str) else None
            name = room.state_content("m.room.name").get("name")
            room_name = name if isinstance(name, str) else None
            alias = room.state_content("m.room.canonical_alias").get("alias")
            room_alias = alias if isinstance(alias, str) else None
        unread = await self._unread_total(action.user_id)
        for pusher in pushers:
            body = gateway_notification(
                pusher, event, user_id=action.user_id, unread=unread, actions=action.actions,
                sender_display_name=sender_name, room_name=room_name, room_alias=room_alias,
            )
            await self._post(pusher, body)

    async def _post(self, pusher: Pusher, body: dict[str, Any]) -> None:
        url = pusher.data.get("url")
        if not isinstance(url, str):
            return
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS))
        try:
            async with self._session.post(url, json=body) as resp:
                if resp.status != 200:
                    logger.warning("push gateway %s answered %d for %s", url, resp.status, pusher.user_id)
                    return
                answer = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            logger.warning("push gateway %s failed for %s: %r", url, pusher.user_id, exc)
            return
        rejected = answer.get("rejected") if isinstance(answer, dict) else None
        if isinstance(rejected, list) and pusher.pushkey in rejected:
            # spec: push_notifier.yaml — stop sending to rejected pushkeys and remove their pushers.
            logger.info("push gateway rejected pushkey of %s (%s); removing the pusher", pusher.user_id, pusher.app_id)
            await self.push_settings.remove_pusher(pusher.user_id, pusher.app_id, pusher.pushkey)
