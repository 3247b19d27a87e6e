"""EDUs in and out: typing, receipts, presence, send-to-device, device list updates.

spec: server-server-api.md, "EDUs", "Typing Notifications", "Presence",
"Receipts", "Send-to-device messaging", "Device Management". Outbound, local
changes reported by the social services become EDUs queued on the
``FederationSender`` for the servers that need them. Inbound, each EDU is
checked (the origin must own the user, the user must be in the room where one
is named) and fed to the same services, so local /sync shows it. Wire shapes
follow what Synapse sends (SYNAPSE.md §7 D and ``captures/send_txn_edu_*``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from federation.crypto.canonical_json import encode_canonical_json
from federation.rooms.events import Event
from federation.sender import FederationSender, NewEdu
from homeserver.clock import Clock
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError
from homeserver.services.graph.events import EventService
from homeserver.services.graph.server_acl import check_server_acl
from homeserver.storage.accounts import AccountStore
from homeserver.storage.federation_queue import FederationQueueStore

logger = logging.getLogger(__name__)

TYPING, RECEIPT, PRESENCE = "m.typing", "m.receipt", "m.presence"
DIRECT_TO_DEVICE, DEVICE_LIST_UPDATE = "m.direct_to_device", "m.device_list_update"
READ = "m.read"  # the only receipt type that crosses servers (m.read.private stays home)
PRESENCE_CHECK_INTERVAL_S = 60.0
PRESENCE_PING_INTERVAL_S = 25 * 60.0
REMOTE_PRESENCE_TIMEOUT_S = 30 * 60.0


def server_of(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


# --- wire models (unknown extra fields, e.g. org.matrix.opentracing_context, are allowed) ---
class _Edu(BaseModel):
    model_config = ConfigDict(extra="allow")


class TypingEdu(_Edu):
    room_id: str
    user_id: str
    typing: bool


class PresenceUpdate(_Edu):
    user_id: str
    presence: str
    last_active_ago: int = 0
    currently_active: bool = False
    status_msg: str | None = None


class PresenceEdu(_Edu):
    push: list[PresenceUpdate]


class UserReceipt(_Edu):
    event_ids: list[str]
    data: dict[str, Any] = {}


class DirectToDeviceEdu(_Edu):
    sender: str
    type: str
    message_id: str
    messages: dict[str, dict[str, dict[str, Any]]]


class DeviceListUpdateEdu(_Edu):
    user_id: str
    device_id: str
    stream_id: int
    prev_id: list[int] = []
    deleted: bool = False
    device_display_name: str | None = None
    keys: dict[str, Any] | None = None


def device_fingerprint(display_name: str | None, keys: dict[str, Any] | None) -> str:
    return hashlib.sha256(encode_canonical_json({"name": display_name, "keys": keys})).hexdigest()


# --- the services EDUs come from and go to: social and e2ee, layers above this one, so
# only what is used is declared here and the wiring passes the services themselves. ---
class Typing(Protocol):
    def add_update_listener(self, listener: Callable[[str, str, bool], None]) -> None: ...

    async def set_typing(self, user_id: str, room_id: str, typing: bool, timeout_ms: int | None) -> None: ...


class Receipts(Protocol):
    def add_public_receipt_listener(self, listener: Callable[[str, str, str, str, dict[str, Any]], None]) -> None: ...

    async def receive_remote(
        self, room_id: str, receipt_type: str, user_id: str, event_id: str, data: dict[str, Any]
    ) -> None: ...


class Presence(Protocol):
    def add_change_listener(self, listener: Callable[[str, dict[str, Any]], None]) -> None: ...

    def users_not_offline(self) -> Iterable[str]: ...

    def presence_of(self, user_id: str) -> dict[str, Any] | None: ...

    async def receive_remote(
        self, user_id: str, state: str, status_msg: str | None, last_active_ago: int, currently_active: bool
    ) -> None: ...


class ToDevice(Protocol):
    def add_remote_listener(self, listener: Callable[[str, str, dict[str, dict[str, Any]]], None]) -> None: ...

    async def receive_remote(self, sender: str, event_type: str, message_id: str, messages: dict[str, Any]) -> None: ...


class DeviceLists(Protocol):
    def add_change_listener(self, listener: Callable[[str], None]) -> None: ...

    async def record_device_change(self, user_id: str) -> None: ...


class DeviceKeys(Protocol):
    async def query_local_devices(self, user_id: str, device_ids: list[str]) -> dict[str, dict[str, Any]]: ...


class FederationEdus:
    """Turns local changes into EDUs and applies received ones."""

    def __init__(
        self,
        sender: FederationSender,
        queue_store: FederationQueueStore,
        *,
        events: EventService,
        account_store: AccountStore,
        typing: Typing,
        receipts: Receipts,
        presence: Presence,
        to_device: ToDevice,
        device_lists: DeviceLists,
        device_keys: DeviceKeys,
        clock: Clock,
        server_name: str,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.sender = sender
        self.queue_store = queue_store
        self.events = events
        self.account_store = account_store
        self.typing = typing
        self.receipts = receipts
        self.presence = presence
        self.to_device = to_device
        self.device_lists = device_lists
        self.device_keys = device_keys
        self.clock = clock
        self.server_name = server_name
        self.is_mine = is_mine
        self._device_announce_lock = asyncio.Lock()
        self._presence_task: asyncio.Task[None] | None = None
        self.presence_check_interval_s = PRESENCE_CHECK_INTERVAL_S
        self.presence_ping_interval_s = PRESENCE_PING_INTERVAL_S
        self.remote_presence_timeout_s = REMOTE_PRESENCE_TIMEOUT_S
        self._presence_sent_at: dict[str, float] = {}  # local user -> when last sent
        self._remote_presence_heard_at: dict[str, float] = {}  # remote user -> when last heard
        # Called with (origin, update content) for each accepted m.device_list_update,
        # e.g. for an end-to-end key cache of remote users.
        self.device_list_update_listeners: list[Callable[[str, dict[str, Any]], Awaitable[None]]] = []
        self._handlers: dict[str, Callable[[str, dict[str, Any]], Awaitable[None]]] = {
            TYPING: self._on_typing,
            RECEIPT: self._on_receipt,
            PRESENCE: self._on_presence,
            DIRECT_TO_DEVICE: self._on_direct_to_device,
            DEVICE_LIST_UPDATE: self._on_device_list_update,
        }

    # --- lifecycle: the presence keep-alive -------------------------------------------------
    def start(self) -> None:
        self._presence_task = asyncio.get_running_loop().create_task(
            self._presence_keepalive(), name="federation-presence-keepalive"
        )

    async def stop(self) -> None:
        if self._presence_task is not None:
            self._presence_task.cancel()
            await asyncio.gather(self._presence_task, return_exceptions=True)
            self._presence_task = None

    async def _presence_keepalive(self) -> None:
        """Re-send the presence of local users who stay online (their state does not
        change, so nothing else would), and time out remote users whose servers went
        quiet — Synapse does both (FEDERATION_PING_INTERVAL 25 min, FEDERATION_TIMEOUT 30 min)."""
        started = self.clock.monotonic()
        while True:
            await asyncio.sleep(self.presence_check_interval_s)
            try:
                await self._presence_tick(started)
            except Exception:
                logger.exception("federation: presence keep-alive failed")

    async def _presence_tick(self, started: float) -> None:
        now = self.clock.monotonic()
        for user_id in self.presence.users_not_offline():
            if self.is_mine(user_id):
                if now - self._presence_sent_at.get(user_id, started) >= self.presence_ping_interval_s:
                    content = self.presence.presence_of(user_id)
                    if content is not None:
                        await self._send_presence(user_id, content)
            elif now - self._remote_presence_heard_at.get(user_id, started) >= self.remote_presence_timeout_s:
                self._remote_presence_heard_at.pop(user_id, None)
                await self.presence.receive_remote(user_id, "offline", None, 0, False)

    def register(self) -> None:
        """Listen to the local services for changes other servers must hear of."""
        self.typing.add_update_listener(self._typing_changed)
        self.receipts.add_public_receipt_listener(self._receipt_sent)
        self.presence.add_change_listener(self._presence_changed)
        self.to_device.add_remote_listener(self._to_device_sent)
        self.device_lists.add_change_listener(self._devices_changed)
        self.events.add_persist_listener(self._member_joined)

    # --- who needs to hear ------------------------------------------------------------
    async def joined_servers(self, room_id: str) -> set[str]:
        """Other servers with joined members in a room."""
        room = self.events.cached_room(room_id) or await self.events.get_room(room_id)
        if room is None:
            return set()
        servers = {server_of(u) for u in room.members_with("join")}
        servers.discard(self.server_name)
        servers.discard("")
        return servers

    async def servers_sharing_rooms(self, user_id: str) -> set[str]:
        """Other servers with a member joined to any room the user is joined to."""
        servers: set[str] = set()
        for room_id, membership in (await self.events.rooms_for_user(user_id)).items():
            if membership == "join":
                servers |= await self.joined_servers(room_id)
        return servers

    # --- outbound ---------------------------------------------------------------------
    def _typing_changed(self, room_id: str, user_id: str, typing: bool) -> None:
        if self.is_mine(user_id):
            self.sender.spawn(self._send_typing(room_id, user_id, typing), f"federation-edu-typing:{room_id}")

    async def _send_typing(self, room_id: str, user_id: str, typing: bool) -> None:
        content = {"room_id": room_id, "user_id": user_id, "typing": typing}
        await self.sender.send_edus([
            NewEdu(d, TYPING, content, f"typing:{room_id}:{user_id}")
            for d in sorted(await self.joined_servers(room_id))
        ])

    def _receipt_sent(
        self, room_id: str, receipt_type: str, user_id: str, event_id: str, data: dict[str, Any]
    ) -> None:
        if receipt_type == READ and self.is_mine(user_id):
            self.sender.spawn(
                self._send_receipt(room_id, user_id, event_id, data), f"federation-edu-receipt:{room_id}"
            )

    async def _send_receipt(self, room_id: str, user_id: str, event_id: str, data: dict[str, Any]) -> None:
        content = {room_id: {READ: {user_id: {"event_ids": [event_id], "data": data}}}}
        thread = data.get("thread_id", "")
        await self.sender.send_edus([
            NewEdu(d, RECEIPT, content, f"receipt:{room_id}:{user_id}:{thread}")
            for d in sorted(await self.joined_servers(room_id))
        ])

    def _presence_changed(self, user_id: str, content: dict[str, Any]) -> None:
        if self.is_mine(user_id):
            self.sender.spawn(self._send_presence(user_id, content), f"federation-edu-presence:{user_id}")

    async def _send_presence(self, user_id: str, content: dict[str, Any]) -> None:
        # spec: "Presence" — only to servers likely to be interested: those sharing a room.
        self._presence_sent_at[user_id] = self.clock.monotonic()
        update = {"user_id": user_id, **content}
        await self.sender.send_edus([
            NewEdu(d, PRESENCE, {"push": [update]}, f"presence:{user_id}")
            for d in sorted(await self.servers_sharing_rooms(user_id))
        ])

    def _member_joined(self, room: RoomState, event: Event) -> None:
        """A server that newly shares a room hears the presence of its members from us.

        spec: "Presence" — servers send presence to the servers likely interested in
        it; a server that joins a room is, and would otherwise wait for the next change.
        """
        if event.type != "m.room.member" or event.membership != "join" or not event.state_key:
            return
        joiner = event.state_key
        if self.is_mine(joiner):
            servers = {server_of(u) for u in room.members_with("join")} - {self.server_name, ""}
            users = [joiner]
        else:
            servers = {server_of(joiner)}
            users = [u for u in room.members_with("join") if self.is_mine(u)]
        if servers and users:
            self.sender.spawn(self._send_presence_of(users, servers), f"federation-edu-presence-join:{room.room_id}")

    async def _send_presence_of(self, users: list[str], servers: set[str]) -> None:
        edus = []
        for user_id in users:
            content = self.presence.presence_of(user_id)
            if content is None or content.get("presence") == "offline":
                continue
            update = {"user_id": user_id, **content}
            edus += [NewEdu(d, PRESENCE, {"push": [update]}, f"presence:{user_id}") for d in sorted(servers)]
        await self.sender.send_edus(edus)

    def _to_device_sent(self, sender: str, event_type: str, messages: dict[str, dict[str, Any]]) -> None:
        by_server: dict[str, dict[str, dict[str, Any]]] = {}
        for user_id, by_device in messages.items():
            server = server_of(user_id)
            if server:
                by_server.setdefault(server, {})[user_id] = by_device
        edus = [
            NewEdu(server, DIRECT_TO_DEVICE, {
                "sender": sender,
                "type": event_type,
                # spec: message_id is for idempotence: a retried transaction carries the same one.
                "message_id": secrets.token_urlsafe(12),
                "messages": user_messages,
            })
            for server, user_messages in sorted(by_server.items())
        ]
        self.sender.spawn(self.sender.send_edus(edus), f"federation-edu-to-device:{sender}")

    def _devices_changed(self, user_id: str) -> None:
        if self.is_mine(user_id):
            self.sender.spawn(self._announce_devices(user_id), f"federation-edu-devices:{user_id}")

    async def _announce_devices(self, user_id: str) -> None:
        # One at a time: the diff against the last announced set must see changes in order.
        async with self._device_announce_lock:
            devices = {d.device_id: d.display_name for d in await self.account_store.list_devices(user_id)}
            keys: dict[str, dict[str, Any]] = {}
            if devices:
                keys = await self.device_keys.query_local_devices(user_id, list(devices))
            fingerprints = {d: device_fingerprint(name, keys.get(d)) for d, name in devices.items()}
            announcements = await self.queue_store.announce_devices(user_id, fingerprints)
            servers = sorted(await self.servers_sharing_rooms(user_id)) if announcements else []
            edus = []
            for a in announcements:
                content: dict[str, Any] = {
                    "user_id": user_id, "device_id": a.device_id,
                    "stream_id": a.stream_id, "prev_id": a.prev_ids,
                }
                if a.deleted:
                    content["deleted"] = True
                else:
                    if devices.get(a.device_id):
                        content["device_display_name"] = devices[a.device_id]
                    if a.device_id in keys:
                        content["keys"] = keys[a.device_id]
                edus += [NewEdu(d, DEVICE_LIST_UPDATE, content) for d in servers]
            await self.sender.send_edus(edus)

    # --- inbound ----------------------------------------------------------------------
    async def handle(self, origin: str, edu: Any) -> None:
        """Apply one received EDU; bad or unauthorised ones are logged and dropped
        (spec: unknown EDU types may be ignored; the transaction still succeeds)."""
        if not isinstance(edu, dict) or not isinstance(edu.get("edu_type"), str):
            logger.info("federation: ignoring malformed EDU from %s", origin)
            return
        edu_type = edu["edu_type"]
        content = edu.get("content")
        handler = self._handlers.get(edu_type)
        if handler is None or not isinstance(content, dict):
            logger.debug("federation: ignoring %s EDU from %s", edu_type, origin)
            return
        try:
            await handler(origin, content)
        except (ValidationError, MatrixError) as e:
            logger.info("federation: dropping %s EDU from %s: %s", edu_type, origin, e)

    async def _joined(self, user_id: str, room_id: str) -> bool:
        room = await self.events.get_room(room_id)
        return room is not None and room.membership(user_id) == "join"

    async def _allowed_in_room(self, origin: str, user_id: str, room_id: str) -> bool:
        """The origin owns the user, the user is joined, and the room's server ACL allows
        the origin (spec: "Server Access Control Lists" — typing and receipts included)."""
        if server_of(user_id) != origin or not await self._joined(user_id, room_id):
            logger.info("federation: %s may not send EDUs for %s in %s", origin, user_id, room_id)
            return False
        try:
            await check_server_acl(self.events, origin, room_id)
        except MatrixError:
            logger.info("federation: %s is denied by the server ACL of %s", origin, room_id)
            return False
        return True

    async def _on_typing(self, origin: str, content: dict[str, Any]) -> None:
        edu = TypingEdu.model_validate(content)
        # spec: "Typing Notifications" — the user must belong to the origin and be in the room.
        if not await self._allowed_in_room(origin, edu.user_id, edu.room_id):
            return
        await self.typing.set_typing(edu.user_id, edu.room_id, edu.typing, None)

    async def _on_receipt(self, origin: str, content: dict[str, Any]) -> None:
        for room_id, by_type in content.items():
            if not isinstance(by_type, dict):
                continue
            receipts = by_type.get(READ)
            if not isinstance(receipts, dict):
                continue
            for user_id, raw in receipts.items():
                receipt = UserReceipt.model_validate(raw)
                if not receipt.event_ids or not await self._allowed_in_room(origin, user_id, room_id):
                    continue
                await self.receipts.receive_remote(room_id, READ, user_id, receipt.event_ids[0], receipt.data)

    async def _on_presence(self, origin: str, content: dict[str, Any]) -> None:
        for update in PresenceEdu.model_validate(content).push:
            if server_of(update.user_id) != origin:
                logger.info("federation: %s may not send presence of %s", origin, update.user_id)
                continue
            self._remote_presence_heard_at[update.user_id] = self.clock.monotonic()
            await self.presence.receive_remote(
                update.user_id, update.presence, update.status_msg,
                update.last_active_ago, update.currently_active,
            )

    async def _on_direct_to_device(self, origin: str, content: dict[str, Any]) -> None:
        edu = DirectToDeviceEdu.model_validate(content)
        if server_of(edu.sender) != origin:
            logger.info("federation: %s may not send to-device messages as %s", origin, edu.sender)
            return
        await self.to_device.receive_remote(edu.sender, edu.type, edu.message_id, edu.messages)

    async def _on_device_list_update(self, origin: str, content: dict[str, Any]) -> None:
        edu = DeviceListUpdateEdu.model_validate(content)
        if server_of(edu.user_id) != origin:
            logger.info("federation: %s may not update devices of %s", origin, edu.user_id)
            return
        # Local users sharing a room with them see the user in device_lists.changed.
        await self.device_lists.record_device_change(edu.user_id)
        for listener in self.device_list_update_listeners:
            await listener(origin, content)
