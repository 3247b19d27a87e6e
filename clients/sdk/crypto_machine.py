"""``OlmMachine``: end-to-end encryption for the SDK, on ``clients.crypto``.

spec: client-server-api/modules/end_to_end_encryption.md. It implements the
``EventCrypto`` seam of ``clients.sdk.encryption``:

* keys: uploads the signed device keys, keeps the server's stock of one-time keys
  near ``otk_target`` (replenishing when /sync's ``device_one_time_keys_count``
  drops) and a fallback key published;
* sending: one outbound Megolm session per room, shared over Olm (claimed one-time
  keys, ``m.room.encrypted`` to-device events carrying ``m.room_key``) with every
  device of every joined or invited member, rotated after ``rotation_period_msgs``
  messages, after ``rotation_period_ms`` or when a device it was shared with is
  gone (a member left or deleted a device) — "Megolm session rotation";
* receiving: decrypts Olm to-device messages and Megolm room events; an event
  whose session key has not arrived yet is marked undecryptable and decrypted
  again when the ``m.room_key`` arrives;
* persistence: the account and sessions live in a ``PickleStore`` sealed with a
  passphrase (Argon2id + SecretBox).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clients.crypto import (
    MEGOLM_ALGORITHM,
    OLM_ALGORITHM,
    CryptoError,
    CryptoState,
    InboundGroupSession,
    OlmAccount,
    OutboundGroupSession,
    PickleStore,
    verify_signature,
)
from clients.sdk import e2ee_api
from clients.sdk.device_tracker import DeviceIdentity, DeviceTracker
from clients.sdk.encryption import UnsupportedAlgorithmError

if TYPE_CHECKING:
    from clients.sdk.core import ClientCore

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]
# spec: m.room.encryption defaults — rotate after a week or 100 messages.
DEFAULT_ROTATION_PERIOD_MS = 7 * 24 * 3600 * 1000
DEFAULT_ROTATION_PERIOD_MSGS = 100
SIGNED_CURVE25519 = "signed_curve25519"
UNDECRYPTABLE = "parley_undecryptable"
DECRYPTED = "parley_decrypted"
LateDecryptionHandler = Callable[[str, JsonObject], Awaitable[None] | None]


@dataclass(slots=True)
class OutboundState:
    """What the persisted session does not record: when it started and who has it."""

    created_ms: int
    shared_with: set[tuple[str, str]] = field(default_factory=set)


def _canonical(obj: JsonObject) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class OlmMachine:
    def __init__(
        self,
        client: ClientCore,
        store: PickleStore | None = None,
        *,
        otk_target: int = 50,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.client = client
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.store = store
        self.otk_target = otk_target
        self.state = CryptoState(account=OlmAccount.create())
        self.devices = DeviceTracker(client.request)
        self._outbound: dict[str, OutboundState] = {}
        self._room_settings: dict[str, JsonObject] = {}
        # (room_id, session_id) -> events waiting for that session's key.
        self.pending: dict[tuple[str, str], list[JsonObject]] = {}
        self.late_decryption_handlers: list[LateDecryptionHandler] = []
        self._lock = asyncio.Lock()

    # --- set-up -----------------------------------------------------------------------
    @classmethod
    async def attach(cls, client: ClientCore, store: PickleStore | None = None, *, otk_target: int = 50) -> OlmMachine:
        """Load (or create) the device's account, publish its keys and plug into ``client``."""
        machine = cls(client, store, otk_target=otk_target)
        loaded = await store.aload() if store is not None else None
        if loaded is not None:
            machine.state = loaded
        else:
            # A new account: its first fallback key. Later ones replace a used one (receive_sync).
            machine.state.account.generate_fallback_key()
        await machine.publish_keys()
        client.crypto = machine
        return machine

    @property
    def user_id(self) -> str:
        return self.client.require_user_id()

    @property
    def device_id(self) -> str:
        assert self.client.device_id is not None, "log in first"
        return self.client.device_id

    @property
    def ed25519_fingerprint(self) -> str:
        """The device's Ed25519 key, the fingerprint users compare when verifying."""
        return self.state.account.ed25519_key

    @property
    def curve25519_key(self) -> str:
        return self.state.account.curve25519_key

    async def save(self) -> None:
        if self.store is not None:
            await self.store.asave(self.state)

    async def publish_keys(self, server_count: int | None = None) -> int:
        """Upload device keys, one-time keys up to ``otk_target`` and any unpublished fallback key."""
        account = self.state.account
        count = server_count
        if count is None:
            data = await self.client.request(e2ee_api.keys_upload())
            count = int((data.get("one_time_key_counts") or {}).get(SIGNED_CURVE25519, 0))
        if count < self.otk_target:
            account.generate_one_time_keys(min(self.otk_target - count, account.max_number_of_one_time_keys))
        data = await self.client.request(
            e2ee_api.keys_upload(
                account.device_keys(self.user_id, self.device_id),
                account.signed_one_time_keys(self.user_id, self.device_id),
                account.signed_fallback_keys(self.user_id, self.device_id),
            )
        )
        account.mark_keys_as_published()
        await self.save()
        return int((data.get("one_time_key_counts") or {}).get(SIGNED_CURVE25519, 0))

    # --- /sync ---------------------------------------------------------------------------
    async def receive_sync(self, response: JsonObject) -> None:
        """Device list changes, key counts and encryption settings from a sync response."""
        lists = response.get("device_lists") or {}
        self.devices.mark_changed(list(lists.get("changed") or []))
        self.devices.forget(list(lists.get("left") or []))
        counts = response.get("device_one_time_keys_count")
        count: int | None = None
        if isinstance(counts, dict):
            count = int(counts.get(SIGNED_CURVE25519, 0))
            if count < self.otk_target // 2:
                count = await self.publish_keys(count)
        unused = response.get("device_unused_fallback_key_types")
        if isinstance(unused, list) and SIGNED_CURVE25519 not in unused:
            # spec: replace a used fallback key with a new one.
            self.state.account.generate_fallback_key()
            await self.publish_keys(self.otk_target if count is None else count)
        for room_id, section in ((response.get("rooms") or {}).get("join") or {}).items():
            for part in ("state", "timeline"):
                for event in (section.get(part) or {}).get("events") or []:
                    if isinstance(event, dict) and event.get("type") == "m.room.encryption":
                        content = event.get("content")
                        if isinstance(content, dict):
                            self._room_settings[room_id] = content

    # --- sending ----------------------------------------------------------------------------
    async def encrypt(
        self, room_id: str, event_type: str, content: JsonObject, *, room_encrypted: bool
    ) -> tuple[str, JsonObject]:
        if not room_encrypted and not self._room_settings.get(room_id):
            return event_type, content
        async with self._lock:
            session = await self._outbound_session(room_id)
            payload = {"type": event_type, "content": content, "room_id": room_id}
            ciphertext = session.encrypt(_canonical(payload))
            await self.save()
        return "m.room.encrypted", {
            "algorithm": MEGOLM_ALGORITHM,
            "sender_key": self.curve25519_key,
            "ciphertext": ciphertext,
            "session_id": session.session_id,
            "device_id": self.device_id,
        }

    async def _settings(self, room_id: str) -> JsonObject:
        settings = self._room_settings.get(room_id)
        if settings is None:
            try:
                settings = await self.client.get_state_event(room_id, "m.room.encryption")
            except Exception as e:  # noqa: BLE001 - any failure means "not known to be encrypted"
                log.debug("no m.room.encryption for %s: %s", room_id, e)
                return {}
            self._room_settings[room_id] = settings
        return settings

    async def _outbound_session(self, room_id: str) -> OutboundGroupSession:
        settings = await self._settings(room_id)
        algorithm = settings.get("algorithm")
        if algorithm is not None and algorithm != MEGOLM_ALGORITHM:
            # Refused rather than sent with another algorithm than the room asks for.
            raise UnsupportedAlgorithmError(
                f"{room_id} is encrypted with {algorithm}, which this client does not support "
                f"(it encrypts with {MEGOLM_ALGORITHM})"
            )
        period_ms = settings.get("rotation_period_ms", DEFAULT_ROTATION_PERIOD_MS)
        period_msgs = settings.get("rotation_period_msgs", DEFAULT_ROTATION_PERIOD_MSGS)
        recipients = await self._recipients(room_id)
        session = self.state.outbound_group_sessions.get(room_id)
        meta = self._outbound.get(room_id)
        now = self.clock_ms()
        if (
            session is None
            or meta is None  # loaded from the store: who has it is unknown, so start afresh
            or session.message_index >= int(period_msgs)
            or now - meta.created_ms >= int(period_ms)
            or not meta.shared_with <= set(recipients)  # a member left or removed a device
        ):
            session = OutboundGroupSession()
            meta = OutboundState(now)
            self.state.outbound_group_sessions[room_id] = session
            self._outbound[room_id] = meta
            # Our own copy, so our messages read back from the server decrypt too.
            self.state.inbound_group_sessions[(room_id, self.curve25519_key, session.session_id)] = (
                InboundGroupSession(session.session_key)
            )
            log.info("new Megolm session %s for %s", session.session_id, room_id)
        missing = [d for key, d in recipients.items() if key not in meta.shared_with]
        if missing:
            meta.shared_with |= await self._share_room_key(room_id, session, missing)
        return session

    async def _recipients(self, room_id: str) -> dict[tuple[str, str], DeviceIdentity]:
        """Every device of every joined or invited member, except this one."""
        members = set(await self.client.joined_members(room_id))
        room = self.client.state.rooms.get(room_id) if self.client.state else None
        if room is not None:
            members.update(m.user_id for m in room.members_with("invite"))
        devices = await self.devices.devices_of(sorted(members))
        return {
            (user_id, device_id): device
            for user_id, by_id in devices.items()
            for device_id, device in by_id.items()
            if (user_id, device_id) != (self.user_id, self.device_id)
        }

    async def _share_room_key(
        self, room_id: str, session: OutboundGroupSession, devices: list[DeviceIdentity]
    ) -> set[tuple[str, str]]:
        """Send m.room_key over Olm to ``devices``; returns those it reached."""
        await self._ensure_olm_sessions(devices)
        room_key = {
            "algorithm": MEGOLM_ALGORITHM, "room_id": room_id,
            "session_id": session.session_id, "session_key": session.session_key,
        }
        messages: dict[str, dict[str, JsonObject]] = {}
        reached: set[tuple[str, str]] = set()
        for device in devices:
            content = self._olm_encrypt(device, "m.room_key", room_key)
            if content is None:
                continue
            messages.setdefault(device.user_id, {})[device.device_id] = content
            reached.add((device.user_id, device.device_id))
        if messages:
            await self.client.request_with_retry(
                e2ee_api.send_to_device("m.room.encrypted", self.client.new_txn_id(), messages)
            )
        return reached

    async def _ensure_olm_sessions(self, devices: list[DeviceIdentity]) -> None:
        wanted: dict[str, dict[str, str]] = {}
        for device in devices:
            if not self.state.olm_sessions.get(device.curve25519):
                wanted.setdefault(device.user_id, {})[device.device_id] = SIGNED_CURVE25519
        if not wanted:
            return
        data = await self.client.request(e2ee_api.keys_claim(wanted))
        claimed = data.get("one_time_keys") if isinstance(data, dict) else None
        by_id = {(d.user_id, d.device_id): d for d in devices}
        for user_id, by_device in (claimed or {}).items():
            for device_id, keys in (by_device or {}).items():
                target = by_id.get((user_id, device_id))
                if target is None or not isinstance(keys, dict):
                    continue
                device = target
                for key in keys.values():
                    try:
                        # spec: a claimed signed_curve25519 key is signed by the device's Ed25519 key.
                        verify_signature(key, user_id, f"ed25519:{device_id}", device.ed25519)
                        olm = self.state.account.create_outbound_session(device.curve25519, key["key"])
                    except (CryptoError, KeyError, TypeError) as e:
                        log.warning("bad one-time key from %s %s: %s", user_id, device_id, e)
                        continue
                    self.state.olm_sessions.setdefault(device.curve25519, []).append(olm)
                    break

    def _olm_encrypt(self, device: DeviceIdentity, event_type: str, content: JsonObject) -> JsonObject | None:
        sessions = self.state.olm_sessions.get(device.curve25519)
        if not sessions:
            log.warning("no Olm session with %s %s (no one-time key); skipped", device.user_id, device.device_id)
            return None
        # spec: "m.olm.v1.curve25519-aes-sha2" — the payload names sender, recipient and their keys.
        payload = {
            "type": event_type, "content": content,
            "sender": self.user_id, "sender_device": self.device_id,
            "recipient": device.user_id, "recipient_keys": {"ed25519": device.ed25519},
            "keys": {"ed25519": self.ed25519_fingerprint},
        }
        message_type, body = sessions[-1].encrypt(_canonical(payload))
        return {
            "algorithm": OLM_ALGORITHM, "sender_key": self.curve25519_key,
            "ciphertext": {device.curve25519: {"type": message_type, "body": body}},
        }

    # --- receiving ---------------------------------------------------------------------------
    async def receive_to_device(self, events: list[JsonObject]) -> None:
        changed = False
        for event in events:
            content = event.get("content")
            if event.get("type") != "m.room.encrypted" or not isinstance(content, dict):
                continue
            if content.get("algorithm") != OLM_ALGORITHM:
                continue
            try:
                payload = self._olm_decrypt(str(event.get("sender")), content)
            except (CryptoError, ValueError, KeyError, TypeError) as e:
                log.warning("undecryptable Olm message from %s: %s", event.get("sender"), e)
                continue
            changed = True
            if payload.get("type") == "m.room_key":
                await self._receive_room_key(str(content.get("sender_key")), payload)
        if changed:
            await self.save()

    def _olm_decrypt(self, sender: str, content: JsonObject) -> JsonObject:
        sender_key = content["sender_key"]
        mine = content["ciphertext"][self.curve25519_key]
        message_type, body = int(mine["type"]), mine["body"]
        sessions = self.state.olm_sessions.setdefault(sender_key, [])
        plaintext: bytes | None = None
        matched = False
        for session in reversed(sessions):
            if message_type == 0 and not session.matches(body, sender_key):
                continue
            matched = True
            try:
                plaintext = session.decrypt(message_type, body)
                break
            except CryptoError:
                continue
        if plaintext is None:
            if message_type != 0 or matched:
                # A pre-key message of a session we have (a replay, e.g. a to-device message
                # delivered again) must not start a second copy of that session.
                raise ValueError("no Olm session decrypts this message")
            session, plaintext = self.state.account.create_inbound_session(sender_key, body)
            sessions.append(session)
        payload = json.loads(plaintext)
        # spec: check that the message was meant for us and comes from its claimed sender.
        if payload.get("recipient") != self.user_id or payload.get("sender") != sender:
            raise ValueError("Olm payload names another sender or recipient")
        if (payload.get("recipient_keys") or {}).get("ed25519") != self.ed25519_fingerprint:
            raise ValueError("Olm payload is for another device")
        known = self.devices.by_curve_key(sender, sender_key)
        if known is not None and (payload.get("keys") or {}).get("ed25519") != known.ed25519:
            raise ValueError("Olm payload's Ed25519 key does not match the sender's device")
        return dict(payload)

    async def _receive_room_key(self, sender_key: str, payload: JsonObject) -> None:
        content = payload.get("content") or {}
        if content.get("algorithm") != MEGOLM_ALGORITHM:
            return
        room_id, session_id = content.get("room_id"), content.get("session_id")
        if not isinstance(room_id, str) or not isinstance(session_id, str):
            return
        inbound = InboundGroupSession(content["session_key"])
        if inbound.session_id != session_id:
            log.warning("m.room_key for %s names session %s but carries another", room_id, session_id)
            return
        key = (room_id, sender_key, session_id)
        current = self.state.inbound_group_sessions.get(key)
        if current is None or inbound.first_known_index < current.first_known_index:
            self.state.inbound_group_sessions[key] = inbound
        await self._retry_pending(room_id, session_id)

    async def decrypt(self, room_id: str, event: JsonObject) -> JsonObject:
        content = event.get("content") or {}
        if content.get("algorithm") != MEGOLM_ALGORITHM:
            return {**event, UNDECRYPTABLE: f"unsupported algorithm {content.get('algorithm')}"}
        session_id = str(content.get("session_id"))
        found = self._inbound_session(room_id, content.get("sender_key"), session_id)
        if found is None:
            waiting = self.pending.setdefault((room_id, session_id), [])
            if all(e.get("event_id") != event.get("event_id") for e in waiting):
                waiting.append(event)
            return {**event, UNDECRYPTABLE: "the room key for this message has not arrived (yet)"}
        session_sender_key, session = found
        owner = self._owner_of(session_sender_key)
        if owner is not None and owner != event.get("sender"):
            # The session came over Olm from another user's device: not this sender's message.
            return {**event, UNDECRYPTABLE: f"the session belongs to {owner}, not the sender"}
        try:
            plaintext, index = session.decrypt(content["ciphertext"])
            payload = json.loads(plaintext)
        except (CryptoError, ValueError, KeyError, TypeError) as e:
            return {**event, UNDECRYPTABLE: f"decryption failed: {e}"}
        if payload.get("room_id") != room_id:
            return {**event, UNDECRYPTABLE: "encrypted for another room"}
        return {
            **event, "type": payload.get("type"), "content": payload.get("content"),
            DECRYPTED: {
                "session_id": session_id, "message_index": index, "sender_key": session_sender_key,
                # None when the sender's device list is not known here (not yet queried, or deleted).
                "sender_device": self._device_id_of(str(event.get("sender")), session_sender_key),
            },
        }

    def _inbound_session(
        self, room_id: str, sender_key: Any, session_id: str
    ) -> tuple[str, InboundGroupSession] | None:
        """(the Curve25519 key of the device that shared it, the session)."""
        if isinstance(sender_key, str):
            found = self.state.inbound_group_sessions.get((room_id, sender_key, session_id))
            if found is not None:
                return sender_key, found
        # sender_key is deprecated (spec v1.3): find the session by room and ID.
        for (r, sharer_key, s), session in self.state.inbound_group_sessions.items():
            if r == room_id and s == session_id:
                return sharer_key, session
        return None

    def _device_id_of(self, user_id: str, curve25519: str) -> str | None:
        if user_id == self.user_id and curve25519 == self.curve25519_key:
            return self.device_id
        device = self.devices.by_curve_key(user_id, curve25519)
        return device.device_id if device is not None else None

    def _owner_of(self, curve25519: str) -> str | None:
        if curve25519 == self.curve25519_key:
            return self.user_id
        for user_id, devices in self.devices.devices.items():
            if any(d.curve25519 == curve25519 for d in devices.values()):
                return user_id
        return None

    async def _retry_pending(self, room_id: str, session_id: str) -> None:
        waiting = self.pending.pop((room_id, session_id), [])
        for event in waiting:
            decrypted = await self.decrypt(room_id, event)
            if UNDECRYPTABLE in decrypted:
                continue
            self._update_timeline(room_id, decrypted)
            for handler in self.late_decryption_handlers:
                result = handler(room_id, decrypted)
                if result is not None:
                    await result

    def _update_timeline(self, room_id: str, decrypted: JsonObject) -> None:
        room = self.client.state.rooms.get(room_id) if self.client.state else None
        item = room.timeline.get(str(decrypted.get("event_id"))) if room is not None else None
        if item is not None and isinstance(decrypted.get("content"), dict):
            item.type = str(decrypted.get("type"))
            item.content = dict(decrypted["content"])
            item.original_content = dict(decrypted["content"])
