"""Device keys, one-time keys and fallback keys (spec: client-server-api/modules/
end_to_end_encryption.md, "Uploading keys", "Downloading keys", "Claiming one-time keys").

Uploaded device keys must name the uploading user and device and be signed by the
device's own Ed25519 key; signed one-time and fallback keys must be signed by it too.
A change of device keys is a device list change (``DeviceListService``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from federation.transport.client import FederationClient
from federation.transport.errors import FederationError, FederationHttpError
from homeserver.config import FederationConfig
from homeserver.core.filtering import SyncFilter
from homeserver.core.key_signatures import (
    check_signed,
    device_ed25519_key,
    signatures_of,
)
from homeserver.core.requester import Requester
from homeserver.core.stream_token import StreamToken
from homeserver.core.sync_source import SyncContext
from homeserver.errors import bad_json, invalid_param
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_counts import SyncKeyCounts
from homeserver.services.graph.events import EventService
from homeserver.storage.accounts import AccountStore
from homeserver.storage.e2e_keys import E2EKeyStore, NewKey, StoredDeviceKeys

if TYPE_CHECKING:
    # cross_signing imports this module's signature helpers.
    from homeserver.services.e2ee.cross_signing import CrossSigningService

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]
MAX_KEYS_PER_UPLOAD = 500
MAX_ONE_TIME_KEYS_PER_DEVICE = 1000
# spec: keys.yaml "timeout" — the time to wait for remote servers (default 10 s).
DEFAULT_REMOTE_TIMEOUT_MS = 10_000


def _split_key_name(name: str) -> tuple[str, str]:
    algorithm, sep, key_id = name.partition(":")
    if not sep or not algorithm or not key_id:
        raise invalid_param(f"Key name {name!r} is not <algorithm>:<key_id>")
    return algorithm, key_id


class E2EKeyService:
    def __init__(
        self,
        store: E2EKeyStore,
        key_counts: SyncKeyCounts,
        device_lists: DeviceListService,
        cross_signing: CrossSigningService,
        account_store: AccountStore,
        events: EventService,
        federation_client: FederationClient,
        federation_config: FederationConfig,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.key_counts = key_counts
        self.device_lists = device_lists
        self.cross_signing = cross_signing
        self.account_store = account_store
        self.events = events
        self.federation_client = federation_client
        self.federation_config = federation_config
        self.is_mine = is_mine
        self._current_token: Callable[[], StreamToken] = _no_current_token

    def use_current_token(self, source: Callable[[], StreamToken]) -> None:
        """Where /keys/changes learns the current sync position (wired by the sync area)."""
        self._current_token = source

    # --- upload ------------------------------------------------------------------------
    async def upload(self, requester: Requester, body: JsonObject) -> dict[str, int]:
        user_id, device_id = requester.user_id, requester.device_id
        device_keys = body.get("device_keys")
        signing_key: str | None = None
        if device_keys is not None:
            signing_key = self._check_device_keys(device_keys, user_id, device_id)
        else:
            stored = await self.store.get_device_keys(user_id, [device_id])
            if stored:
                signing_key = device_ed25519_key(stored[0].keys, device_id)
        one_time = self._parse_keys(body.get("one_time_keys"), "one_time_keys", user_id, device_id, signing_key)
        fallback = self._parse_keys(body.get("fallback_keys"), "fallback_keys", user_id, device_id, signing_key)
        if len({k.algorithm for k in fallback}) != len(fallback):
            raise invalid_param("fallback_keys: at most one key per algorithm")

        # spec: uploading a one-time key ID again with different contents is an error.
        existing = await self.store.get_one_time_keys(
            user_id, device_id, [(k.algorithm, k.key_id) for k in one_time]
        )
        for k in one_time:
            held = existing.get((k.algorithm, k.key_id))
            if held is not None and held != _canonical(k.key):
                raise invalid_param(f"One-time key {k.algorithm}:{k.key_id} already exists with other contents")

        new_count = sum(1 for k in one_time if (k.algorithm, k.key_id) not in existing)
        if new_count:
            held_count = sum((await self.store.count_one_time_keys(user_id, device_id)).values())
            if held_count + new_count > MAX_ONE_TIME_KEYS_PER_DEVICE:
                # Clients keep about half their maximum (100) on the server; this bounds storage.
                raise invalid_param(f"A device holds at most {MAX_ONE_TIME_KEYS_PER_DEVICE} one-time keys")

        if device_keys is not None:
            stored_keys = {k: v for k, v in device_keys.items() if k != "unsigned"}
            if await self.store.set_device_keys(user_id, device_id, stored_keys):
                await self.device_lists.record_device_change(user_id)
        if one_time:
            await self.store.add_one_time_keys(user_id, device_id, one_time)
        if fallback:
            await self.store.set_fallback_keys(user_id, device_id, fallback)
        if one_time or fallback:
            self.key_counts.changed(user_id, device_id)
        return await self.store.count_one_time_keys(user_id, device_id)

    @staticmethod
    def _check_device_keys(device_keys: Any, user_id: str, device_id: str) -> str:
        if not isinstance(device_keys, dict):
            raise bad_json("device_keys must be an object")
        if device_keys.get("user_id") != user_id:
            raise invalid_param("device_keys.user_id does not match the access token's user")
        if device_keys.get("device_id") != device_id:
            raise invalid_param("device_keys.device_id does not match the access token's device")
        algorithms = device_keys.get("algorithms")
        if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
            raise bad_json("device_keys.algorithms must be a list of strings")
        keys = device_keys.get("keys")
        if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
            raise bad_json("device_keys.keys must map key IDs to strings")
        ed25519 = device_ed25519_key(device_keys, device_id)
        if ed25519 is None:
            raise bad_json(f"device_keys.keys must hold ed25519:{device_id}")
        # spec: "Uploading keys" — device keys are signed by the device's own Ed25519 key.
        check_signed(device_keys, user_id, f"ed25519:{device_id}", ed25519)
        return ed25519

    @staticmethod
    def _parse_keys(
        raw: Any, field: str, user_id: str, device_id: str, signing_key: str | None
    ) -> list[NewKey]:
        if raw is None:
            return []
        if not isinstance(raw, dict):
            raise bad_json(f"{field} must be an object")
        if len(raw) > MAX_KEYS_PER_UPLOAD:
            raise invalid_param(f"{field}: at most {MAX_KEYS_PER_UPLOAD} keys per upload")
        out: list[NewKey] = []
        for name, key in raw.items():
            algorithm, key_id = _split_key_name(name)
            if isinstance(key, dict):
                if not isinstance(key.get("key"), str):
                    raise bad_json(f"{field}.{name}.key must be a string")
                if signing_key is not None and algorithm.startswith("signed_"):
                    check_signed(key, user_id, f"ed25519:{device_id}", signing_key)
            elif not isinstance(key, str):
                raise bad_json(f"{field}.{name} must be a string or a signed key object")
            out.append(NewKey(algorithm, key_id, key))
        return out

    async def one_time_key_counts(self, user_id: str, device_id: str) -> dict[str, int]:
        return await self.store.count_one_time_keys(user_id, device_id)

    # --- query ---------------------------------------------------------------------------
    async def query_local_devices(self, user_id: str, device_ids: list[str]) -> dict[str, JsonObject]:
        """device_id -> device keys with cross-signing signatures and unsigned.device_display_name."""
        stored = await self.store.get_device_keys(user_id, device_ids or None)
        signatures = [
            s for s in await self.store.get_signatures(user_id) if s.signer_user_id == user_id
        ]
        return {d.device_id: self._device_keys_for_query(d, signatures) for d in stored}

    @staticmethod
    def _device_keys_for_query(device: StoredDeviceKeys, signatures: list[Any]) -> JsonObject:
        keys = dict(device.keys)
        merged = signatures_of(keys)
        for s in signatures:
            if s.target_key_id == device.device_id:
                merged.setdefault(s.signer_user_id, {})[s.signer_key_id] = s.signature
        keys["signatures"] = merged
        keys["unsigned"] = {"device_display_name": device.display_name} if device.display_name else {}
        return keys

    # --- claim -----------------------------------------------------------------------------
    async def claim_local(self, wanted: dict[str, dict[str, str]]) -> dict[str, dict[str, JsonObject]]:
        """{user: {device: algorithm}} -> {user: {device: {"<alg>:<id>": key}}} for local users."""
        requests = [
            (user_id, device_id, algorithm)
            for user_id, devices in wanted.items()
            for device_id, algorithm in devices.items()
        ]
        claimed = await self.store.claim_keys(requests)
        for user_id, device_id, _ in requests:
            self.key_counts.changed(user_id, device_id)
        out: dict[str, dict[str, JsonObject]] = {}
        for (user_id, device_id), (name, key) in claimed.items():
            out.setdefault(user_id, {})[device_id] = {name: key}
        return out

    # --- the client endpoints: local users here, remote servers over federation ------------------
    async def query(
        self, requester: Requester, wanted: dict[str, list[str]], timeout_ms: int = DEFAULT_REMOTE_TIMEOUT_MS
    ) -> JsonObject:
        """POST /keys/query: device keys and cross-signing keys of the wanted users."""
        result: JsonObject = {
            "device_keys": {}, "failures": {},
            "master_keys": {}, "self_signing_keys": {}, "user_signing_keys": {},
        }
        local = {u: d for u, d in wanted.items() if self.is_mine(u)}
        local_answer = await self.query_local(local, requester.user_id)
        for field, by_user in local_answer.items():
            result[field].update(by_user)
        remote = _by_server({u: d for u, d in wanted.items() if not self.is_mine(u)})
        answers = await asyncio.gather(*(
            self._remote("user/keys/query", server, {"device_keys": users}, timeout_ms)
            for server, users in remote.items()
        ))
        for (server, users), (answer, failure) in zip(remote.items(), answers, strict=True):
            if failure is not None:
                result["failures"][server] = failure
                continue
            for field in ("device_keys", "master_keys", "self_signing_keys"):
                by_user = answer.get(field)
                if isinstance(by_user, dict):
                    # Only what the server may speak for: its own users that we asked about.
                    result[field].update({u: v for u, v in by_user.items() if u in users and isinstance(v, dict)})
        return result

    async def query_local(self, wanted: dict[str, list[str]], requester_id: str | None) -> JsonObject:
        """Local users' keys; ``requester_id`` None for a remote server (no user-signing keys,
        only the owner's own signatures)."""
        out: JsonObject = {"device_keys": {}, "master_keys": {}, "self_signing_keys": {}, "user_signing_keys": {}}
        for user_id, device_ids in wanted.items():
            out["device_keys"][user_id] = await self.query_local_devices(user_id, device_ids)
            viewer = requester_id if requester_id is not None else ""
            for key_type, key in (await self.cross_signing.keys_for_query(viewer, user_id)).items():
                out[f"{key_type}_keys"][user_id] = key
        if requester_id is None:
            del out["user_signing_keys"]
        return out

    async def claim(self, wanted: dict[str, dict[str, str]], timeout_ms: int = DEFAULT_REMOTE_TIMEOUT_MS) -> JsonObject:
        """POST /keys/claim: one key per requested device."""
        local = {u: d for u, d in wanted.items() if self.is_mine(u)}
        result: JsonObject = {"one_time_keys": await self.claim_local(local), "failures": {}}
        remote = _by_server({u: d for u, d in wanted.items() if not self.is_mine(u)})
        answers = await asyncio.gather(*(
            self._remote("user/keys/claim", server, {"one_time_keys": users}, timeout_ms)
            for server, users in remote.items()
        ))
        for (server, users), (answer, failure) in zip(remote.items(), answers, strict=True):
            if failure is not None:
                result["failures"][server] = failure
                continue
            claimed = answer.get("one_time_keys")
            if isinstance(claimed, dict):
                result["one_time_keys"].update(
                    {u: v for u, v in claimed.items() if u in users and isinstance(v, dict)}
                )
        return result

    async def _remote(
        self, endpoint: str, server: str, body: JsonObject, timeout_ms: int
    ) -> tuple[JsonObject, JsonObject | None]:
        """(answer, None), or ({}, failure) when the server could not give one in time.

        spec: keys.yaml "failures" — unreachable servers are listed, not fatal.
        """
        client = self.federation_client
        if not self.federation_config.enabled:
            return {}, {"status": 503, "message": "Federation is disabled on this server"}
        try:
            answer = await client.post_json(
                server, f"/_matrix/federation/v1/{endpoint}", body, timeout=max(timeout_ms, 1) / 1000
            )
        except FederationHttpError as e:
            logger.info("%s at %s failed: %s", endpoint, server, e)
            return {}, {"status": e.status, "errcode": e.errcode, "message": e.message}
        except FederationError as e:
            logger.info("%s at %s failed: %s", endpoint, server, e)
            return {}, {"status": 503, "message": str(e)}
        if not isinstance(answer, dict):
            return {}, {"status": 502, "message": "The server's answer was not a JSON object"}
        return answer, None

    async def changes(self, requester: Requester, since: StreamToken, upto: StreamToken) -> JsonObject:
        """GET /keys/changes: users whose device lists changed between two sync tokens,
        computed exactly as /sync's device_lists section."""
        upto = upto.clamp(self._current_token())
        events = self.events
        joined: list[str] = []
        newly_joined: set[str] = set()
        for room_id, membership in (await events.rooms_for_user(requester.user_id)).items():
            if membership != "join":
                continue
            joined.append(room_id)
            room = events.cached_room(room_id) or await events.get_room(room_id)
            own = room.state.get(("m.room.member", requester.user_id)) if room is not None else None
            if own is not None and since.events < (own.stream_ordering or 0) <= upto.events:
                newly_joined.add(room_id)
        ctx = SyncContext(requester, SyncFilter(), since, upto, joined, newly_joined)
        section = (await self.device_lists.contribute(ctx)).top_level.get("device_lists", {})
        return {"changed": section.get("changed", []), "left": section.get("left", [])}

    async def user_devices(self, user_id: str) -> JsonObject:
        """GET /_matrix/federation/v1/user/devices/{userId} for a local user.

        stream_id is the position of the user's m.device_list_update EDUs, so the
        asking server can apply the later updates on top of this list.
        """
        devices = await self.account_store.list_devices(user_id)
        keys = await self.query_local_devices(user_id, [d.device_id for d in devices]) if devices else {}
        listed: list[JsonObject] = []
        for device in devices:
            device_keys = keys.get(device.device_id)
            if device_keys is None:
                continue  # no keys uploaded: nothing another server can encrypt to
            entry: JsonObject = {
                "device_id": device.device_id,
                "keys": {k: v for k, v in device_keys.items() if k != "unsigned"},
            }
            if device.display_name:
                entry["device_display_name"] = device.display_name
            listed.append(entry)
        out: JsonObject = {
            "user_id": user_id,
            "stream_id": await self.store.device_list_stream_id(user_id),
            "devices": listed,
        }
        cross = await self.cross_signing.keys_for_query("", user_id)
        for key_type in ("master", "self_signing"):
            if key_type in cross:
                out[f"{key_type}_key"] = cross[key_type]
        return out

    # --- device lifecycle ------------------------------------------------------------------------
    async def forget_deleted_devices(self, user_id: str) -> None:
        """Called by the accounts service after devices are deleted: their keys go too."""
        await self.store.delete_keys_of_missing_devices(user_id)
        self.key_counts.forget_user(user_id)


def _no_current_token() -> StreamToken:
    raise RuntimeError("E2EKeyService.use_current_token was not called")


def _canonical(key: JsonObject | str) -> str:
    return orjson.dumps(key, option=orjson.OPT_SORT_KEYS).decode()


def _by_server(wanted: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for user_id, value in wanted.items():
        out.setdefault(user_id.split(":", 1)[-1], {})[user_id] = value
    return out
