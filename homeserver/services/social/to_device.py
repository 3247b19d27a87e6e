"""Send-to-device messaging (spec: client-server-api/modules/send_to_device.md).

Messages wait in storage per device until the device acknowledges them by
syncing with a token past them (at-least-once): a sync delivers every queued
message up to its ``next_batch``, and the next sync's ``since`` deletes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from homeserver.clock import Clock
from homeserver.core.sync_source import SyncContext, SyncContribution
from homeserver.errors import MatrixError
from homeserver.services.graph.notifier import Notifier
from homeserver.storage.accounts import AccountStore
from homeserver.storage.to_device import ToDeviceStore

logger = logging.getLogger(__name__)

MAX_PER_SYNC = 100


class Sender(Protocol):
    """The sending device (an ``accounts.auth.Requester``)."""

    @property
    def user_id(self) -> str: ...

    @property
    def device_id(self) -> str: ...


class ToDeviceService:
    stream = "to_device"

    def __init__(
        self,
        store: ToDeviceStore,
        account_store: AccountStore,
        notifier: Notifier,
        clock: Clock,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.account_store = account_store
        self.notifier = notifier
        self.clock = clock
        self.is_mine = is_mine
        # (user_id, device_id) -> highest position handed to the device and not yet deleted.
        self._delivered: dict[tuple[str, str], int] = {}
        # Devices seen syncing since start-up (their older deliveries are unknown here).
        self._seen: set[tuple[str, str]] = set()
        # (sender, event_type, {remote user: {device: content}}) for messages to other
        # servers' users: federation sends them as m.direct_to_device EDUs.
        self._remote_listeners: list[Callable[[str, str, dict[str, dict[str, Any]]], None]] = []

        # [(user_id, device_id, message)] stored for local devices, e.g. for application services.
        self._delivery_listeners: list[Callable[[list[tuple[str, str, dict[str, Any]]]], None]] = []

    def add_remote_listener(self, listener: Callable[[str, str, dict[str, dict[str, Any]]], None]) -> None:
        self._remote_listeners.append(listener)

    def add_delivery_listener(self, listener: Callable[[list[tuple[str, str, dict[str, Any]]]], None]) -> None:
        """Called with the messages stored for local devices, after they are stored."""
        self._delivery_listeners.append(listener)

    def _tell_delivery_listeners(self, deliveries: list[tuple[str, str, dict[str, Any]]]) -> None:
        for listener in self._delivery_listeners:
            try:
                listener(deliveries)
            except Exception:
                logger.exception("to-device delivery listener failed")

    async def load(self) -> None:
        await self.store.load()

    def current_position(self) -> int:
        return self.store.stream.current

    async def send(
        self, requester: Sender, event_type: str, txn_id: str, messages: dict[str, Any]
    ) -> None:
        deliveries: list[tuple[str, str, dict[str, Any]]] = []
        recipients: set[str] = set()
        remote: dict[str, dict[str, Any]] = {}
        for user_id, by_device in messages.items():
            if not isinstance(by_device, dict):
                raise MatrixError("M_BAD_JSON", 400, f"messages.{user_id} must be an object")
            if not self.is_mine(user_id):
                remote[user_id] = by_device  # sent over federation by the remote listeners
                continue
            known = {d.device_id for d in await self.account_store.list_devices(user_id)}
            for device_id, content in by_device.items():
                if not isinstance(content, dict):
                    raise MatrixError("M_BAD_JSON", 400, "each message must be an object")
                targets = sorted(known) if device_id == "*" else [device_id] if device_id in known else []
                message = {"sender": requester.user_id, "type": event_type, "content": content}
                for target in targets:
                    deliveries.append((user_id, target, message))
                    recipients.add(user_id)
        last = await self.store.add_messages(
            (requester.user_id, requester.device_id), txn_id, self.clock.time_ms(), deliveries
        )
        if last is not None and recipients:
            self.notifier.notify_users(recipients)
            self._tell_delivery_listeners(deliveries)
        if last is not None and remote:
            for listener in self._remote_listeners:
                listener(requester.user_id, event_type, remote)

    async def receive_remote(
        self, sender: str, event_type: str, message_id: str, messages: dict[str, Any]
    ) -> None:
        """Messages from an m.direct_to_device EDU (the caller checked the sender's origin).

        The sender's message_id plays the part of a transaction ID, so a resent EDU
        is stored once.
        """
        deliveries: list[tuple[str, str, dict[str, Any]]] = []
        for user_id, by_device in messages.items():
            if not self.is_mine(user_id) or not isinstance(by_device, dict):
                continue
            known = {d.device_id for d in await self.account_store.list_devices(user_id)}
            for device_id, content in by_device.items():
                if not isinstance(content, dict):
                    continue
                targets = sorted(known) if device_id == "*" else [device_id] if device_id in known else []
                message = {"sender": sender, "type": event_type, "content": content}
                deliveries.extend((user_id, target, message) for target in targets)
        last = await self.store.add_messages(
            (sender, ""), f"m.direct_to_device:{message_id}", self.clock.time_ms(), deliveries
        )
        if last is not None and deliveries:
            self.notifier.notify_users({d[0] for d in deliveries})
            self._tell_delivery_listeners(deliveries)

    async def device_deleted(self, user_id: str, device_id: str) -> None:
        """Drop a deleted device's inbox (for the accounts service to call)."""
        self._delivered.pop((user_id, device_id), None)
        await self.store.delete_for_device(user_id, device_id)

    async def contribute(self, ctx: SyncContext) -> SyncContribution:
        out = SyncContribution()
        user_id, device_id = ctx.requester.user_id, ctx.requester.device_id
        key = (user_id, device_id)
        after = 0
        if ctx.since is not None:
            after = ctx.since.to_device
            delivered = self._delivered.get(key)
            if (delivered is not None and delivered <= after) or (key not in self._seen and after > 0):
                # The client moved past what we gave it: those are acknowledged.
                await self.store.acknowledge(user_id, device_id, after)
                self._delivered.pop(key, None)
        self._seen.add(key)
        if ctx.since is not None:
            if after >= ctx.upto.to_device:
                return out
        pending = await self.store.pending(user_id, device_id, after, ctx.upto.to_device, MAX_PER_SYNC + 1)
        if len(pending) > MAX_PER_SYNC:
            # spec: limit each response (100 recommended); next_batch resumes after the last sent.
            pending = pending[:MAX_PER_SYNC]
            out.resume_from = pending[-1].stream_id
        if pending:
            # Acknowledgement comes from a later since token; until then keep them.
            self._delivered[key] = max(self._delivered.get(key, 0), pending[-1].stream_id)
            out.top_level["to_device"] = {"events": [m.message for m in pending]}
        return out
