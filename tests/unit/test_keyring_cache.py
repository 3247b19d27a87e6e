"""The key ring's cache: a storage read that finishes after a concurrent fetch loses nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from federation.crypto.signing import generate_signing_key
from federation.keys import KeyRing, StoredVerifyKey, VerifyKey

FAR_FUTURE = 2**62


class SlowStore:
    """get_verify_keys returns what storage held when called, once `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def get_verify_keys(self, server_name: str) -> dict[str, StoredVerifyKey]:
        await self.release.wait()
        return {}  # the read began before the fetched keys were stored


class Clock:
    def time_ms(self) -> int:
        return 1_000

    def monotonic(self) -> float:
        return 1.0


async def test_a_slow_storage_read_does_not_wipe_keys_fetched_meanwhile() -> None:
    store = SlowStore()
    ring = KeyRing(store, client=None, clock=Clock(), server_name="me.test",  # type: ignore[arg-type]
                   signing_key=generate_signing_key())
    reading = asyncio.create_task(ring._cached("peer.test"))
    await asyncio.sleep(0)
    # Meanwhile a fetch of the peer's keys completes (as _fetch_and_store fills the cache).
    fetched = VerifyKey("peer.test", "ed25519:k", b"\x01" * 32, FAR_FUTURE, None, 1_000)
    ring._keys.setdefault("peer.test", {})["ed25519:k"] = fetched
    store.release.set()
    keys: Any = await reading
    assert keys["ed25519:k"] is fetched
    assert (await ring._cached("peer.test"))["ed25519:k"] is fetched
