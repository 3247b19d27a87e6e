"""Paces incremental /sync responses per device so bursts ride together.

A device that keeps up with a busy room would otherwise get one response per
event: each costs a full request/response cycle on both ends, and under load the
server spends its time on cycles rather than on events. So an incremental sync
answers a device at most once per ``min_interval_s``: a response due sooner waits
for the rest of the interval, and whatever arrives meanwhile goes out with it.

A device that hears less often than that (the usual case, e.g. a room at a few
messages a second) never waits, so ordinary delivery latency is unchanged; in a
burst an event waits at most ``min_interval_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# At most this many responses a second per device while it is receiving a burst.
MIN_RESPONSE_INTERVAL_S = 0.05
# Devices remembered before stale entries (older than the interval) are dropped.
_PRUNE_AT = 50_000


class SyncPacer:
    def __init__(
        self,
        min_interval_s: float = MIN_RESPONSE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_interval_s = min_interval_s
        self._clock = clock
        # (user_id, device_id) -> monotonic time of the last response with updates.
        self._last_response: dict[tuple[str, str], float] = {}

    def delay_for(self, device: tuple[str, str]) -> float:
        """Seconds to wait before answering this device (0 when it may answer now)."""
        last = self._last_response.get(device)
        if last is None:
            return 0.0
        return max(0.0, last + self.min_interval_s - self._clock())

    async def wait_turn(self, device: tuple[str, str], deadline: float) -> None:
        """Sleep until the device may be answered, but never past the request's deadline."""
        delay = min(self.delay_for(device), deadline - self._clock())
        if delay > 0:
            await asyncio.sleep(delay)

    def answered(self, device: tuple[str, str]) -> None:
        now = self._clock()
        if len(self._last_response) >= _PRUNE_AT:
            horizon = now - self.min_interval_s
            self._last_response = {k: t for k, t in self._last_response.items() if t > horizon}
        self._last_response[device] = now
