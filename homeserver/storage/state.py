"""Room state as snapshots plus deltas (state groups)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from federation.rooms.events import StateKey
from homeserver.storage.database import Database

STATE_CACHE_SIZE = 2_000
# A new full snapshot is written after this many deltas, bounding read cost.
MAX_DELTA_DEPTH = 64

StateIds = dict[StateKey, str]


class StateStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: OrderedDict[int, StateIds] = OrderedDict()

    def remember(self, group_id: int, state: StateIds) -> None:
        self._cache[group_id] = state
        if len(self._cache) > STATE_CACHE_SIZE:
            self._cache.popitem(last=False)

    def forget(self, group_ids: Iterable[int]) -> None:
        """Drop deleted groups from the cache (a purged room's)."""
        for group_id in group_ids:
            self._cache.pop(group_id, None)

    async def get_state_ids(self, group_id: int) -> StateIds:
        """The full state (type, state_key) -> event_id of a group. Do not mutate."""
        cached = self._cache.get(group_id)
        if cached is not None:
            self._cache.move_to_end(group_id)
            return cached
        # Walk the delta chain back to a snapshot or a cached group.
        chain: list[int] = []
        base: StateIds | None = None
        gid: int | None = group_id
        while gid is not None:
            cached = self._cache.get(gid)
            if cached is not None:
                base = cached
                break
            chain.append(gid)
            gid = await self.db.fetchval(
                "get_state_group_prev", "SELECT prev_group FROM state_groups WHERE id = ?", (gid,)
            )
        state: StateIds = dict(base) if base is not None else {}
        if chain:
            rows = await self.db.fetchall(
                "get_state_group_entries",
                f"SELECT group_id, type, state_key, event_id FROM state_group_entries"
                f" WHERE group_id IN ({','.join('?' * len(chain))})",
                chain,
            )
            by_group: dict[int, list[tuple[str, str, str]]] = {}
            for r in rows:
                by_group.setdefault(r[0], []).append((r[1], r[2], r[3]))
            for gid in reversed(chain):  # oldest first
                for t, k, eid in by_group.get(gid, ()):
                    state[(t, k)] = eid
        self.remember(group_id, state)
        return state

    async def get_delta_depth(self, group_id: int) -> int:
        return int(
            await self.db.fetchval(
                "get_state_group_depth", "SELECT delta_depth FROM state_groups WHERE id = ?", (group_id,)
            )
            or 0
        )
