"""Tracking other users' devices for end-to-end encryption.

spec: client-server-api/modules/end_to_end_encryption.md, "Tracking the device
list for a user". A user's list is fetched with /keys/query the first time it is
needed and again after /sync names the user in ``device_lists.changed``. Device
keys must be signed by the device's own Ed25519 key and name the right user and
device; a known device whose Ed25519 key changes is ignored (spec: "clients
must ignore" such a change).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from clients.crypto import CryptoError, verify_signature
from clients.sdk import e2ee_api
from clients.sdk.api import Request

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    user_id: str
    device_id: str
    curve25519: str
    ed25519: str
    display_name: str | None = None


def parse_device_keys(user_id: str, device_id: str, keys: Any) -> DeviceIdentity | None:
    """A queried device's identity, or None unless it is well formed and self-signed."""
    if not isinstance(keys, dict) or keys.get("user_id") != user_id or keys.get("device_id") != device_id:
        return None
    key_map = keys.get("keys")
    if not isinstance(key_map, dict):
        return None
    curve, ed = key_map.get(f"curve25519:{device_id}"), key_map.get(f"ed25519:{device_id}")
    if not isinstance(curve, str) or not isinstance(ed, str):
        return None
    try:
        verify_signature(keys, user_id, f"ed25519:{device_id}", ed)
    except CryptoError:
        return None
    unsigned = keys.get("unsigned")
    name = unsigned.get("device_display_name") if isinstance(unsigned, dict) else None
    return DeviceIdentity(user_id, device_id, curve, ed, name if isinstance(name, str) else None)


class DeviceTracker:
    """Known devices per user, refreshed through ``send`` (a request function)."""

    def __init__(self, send: Callable[[Request], Awaitable[Any]]) -> None:
        self._send = send
        self.devices: dict[str, dict[str, DeviceIdentity]] = {}
        self.outdated: set[str] = set()

    def mark_changed(self, user_ids: list[str]) -> None:
        self.outdated.update(u for u in user_ids if isinstance(u, str))

    def forget(self, user_ids: list[str]) -> None:
        for user_id in user_ids:
            self.devices.pop(user_id, None)
            self.outdated.discard(user_id)

    def by_curve_key(self, user_id: str, curve25519: str) -> DeviceIdentity | None:
        for device in self.devices.get(user_id, {}).values():
            if device.curve25519 == curve25519:
                return device
        return None

    async def devices_of(self, user_ids: list[str]) -> dict[str, dict[str, DeviceIdentity]]:
        """Current devices of each user, querying those unknown or outdated."""
        stale = sorted({u for u in user_ids if u not in self.devices or u in self.outdated})
        if stale:
            await self.refresh(stale)
        return {u: dict(self.devices.get(u, {})) for u in user_ids}

    async def refresh(self, user_ids: list[str]) -> None:
        data = await self._send(e2ee_api.keys_query(user_ids))
        device_keys = data.get("device_keys") if isinstance(data, dict) else None
        if not isinstance(device_keys, dict):
            return
        failures = data.get("failures") or {}
        for user_id in user_ids:
            queried = device_keys.get(user_id)
            if not isinstance(queried, dict):
                if user_id.split(":", 1)[-1] in failures:
                    log.warning("device list of %s unavailable: its server is unreachable", user_id)
                continue
            known = self.devices.get(user_id, {})
            fresh: dict[str, DeviceIdentity] = {}
            for device_id, keys in queried.items():
                device = parse_device_keys(user_id, device_id, keys)
                if device is None:
                    log.warning("ignoring malformed or unsigned device keys of %s %s", user_id, device_id)
                    continue
                old = known.get(device_id)
                if old is not None and old.ed25519 != device.ed25519:
                    log.warning("ignoring changed Ed25519 key of %s %s", user_id, device_id)
                    fresh[device_id] = old
                    continue
                fresh[device_id] = device
            self.devices[user_id] = fresh
            self.outdated.discard(user_id)
