"""The per-device key counts /sync reports on every response (spec: "Extensions to /sync"):
``device_one_time_keys_count`` and ``device_unused_fallback_key_types``.

Cached per device so that /sync asks storage only after the device's keys changed;
``E2EKeyService`` reports every change.
"""

from __future__ import annotations

from typing import Any

from homeserver.storage.e2e_keys import E2EKeyStore

# Cached /sync key summaries (one per syncing device) kept before the cache is dropped.
SYNC_SUMMARY_CACHE_LIMIT = 100_000


class SyncKeyCounts:
    def __init__(self, store: E2EKeyStore) -> None:
        self.store = store
        # (user_id, device_id) -> (one-time key counts, unused fallback key types), so that
        # /sync, which reports them on every response, asks storage only after a change.
        self._sync_summaries: dict[tuple[str, str], tuple[dict[str, int], list[str]]] = {}
        # Bumped on every change of a device's keys; a read that raced a change is not cached.
        self._key_generation: dict[tuple[str, str], int] = {}

    def changed(self, user_id: str, device_id: str) -> None:
        key = (user_id, device_id)
        self._sync_summaries.pop(key, None)
        self._key_generation[key] = self._key_generation.get(key, 0) + 1

    def forget_user(self, user_id: str) -> None:
        """Some of the user's devices (and so their keys) are gone."""
        for key in [k for k in self._sync_summaries if k[0] == user_id]:
            self.changed(*key)

    async def sync_summary(self, user_id: str, device_id: str) -> dict[str, Any]:
        """The /sync top-level fields ``device_one_time_keys_count`` and
        ``device_unused_fallback_key_types`` (spec: "Extensions to /sync")."""
        key = (user_id, device_id)
        cached = self._sync_summaries.get(key)
        if cached is None:
            generation = self._key_generation.get(key, 0)
            counts = await self.store.count_one_time_keys(user_id, device_id)
            counts.setdefault("signed_curve25519", 0)
            cached = (counts, await self.store.unused_fallback_key_types(user_id, device_id))
            if self._key_generation.get(key, 0) == generation:
                if len(self._sync_summaries) >= SYNC_SUMMARY_CACHE_LIMIT:
                    self._sync_summaries.clear()
                self._sync_summaries[key] = cached
        return {
            "device_one_time_keys_count": dict(cached[0]),
            "device_unused_fallback_key_types": list(cached[1]),
        }
