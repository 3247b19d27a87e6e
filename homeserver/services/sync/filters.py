"""Sync filters: uploaded and read per user, parsed once (spec: data/api/client-server/filter.yaml)."""

from __future__ import annotations

from typing import Any

import orjson

from homeserver.core.filtering import SyncFilter
from homeserver.errors import MatrixError, not_found
from homeserver.storage.filters import FilterStore

PARSED_FILTERS_MAX = 10_000


def filter_id_of(raw: str) -> int | None:
    """A filter ID as stored (a SQLite integer), or None for anything else."""
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 0 <= value < 2**63 else None


class SyncFilterService:
    def __init__(self, store: FilterStore) -> None:
        self.store = store
        # Filters are immutable and clients send the same one on every /sync, so the
        # parsed form is cached by (user, filter query parameter).
        self._parsed: dict[tuple[str, str], SyncFilter] = {}

    async def for_sync(self, user_id: str, raw: str | None) -> SyncFilter:
        """The filter a /sync's ``filter`` parameter names: an uploaded filter's ID or inline JSON."""
        if not raw:
            return SyncFilter()
        cached = self._parsed.get((user_id, raw))
        if cached is not None:
            return cached
        parsed = await self._parse(user_id, raw)
        if len(self._parsed) >= PARSED_FILTERS_MAX:
            self._parsed.clear()
        self._parsed[(user_id, raw)] = parsed
        return parsed

    async def _parse(self, user_id: str, raw: str) -> SyncFilter:
        if raw.startswith("{"):
            try:
                return SyncFilter.parse(orjson.loads(raw))
            except orjson.JSONDecodeError:
                raise MatrixError("M_NOT_JSON", 400, "filter is not valid JSON") from None
        filter_id = filter_id_of(raw)
        if filter_id is None:
            raise MatrixError("M_INVALID_PARAM", 400, "filter must be a filter ID or a JSON object")
        return SyncFilter.parse(await self.get(user_id, filter_id))

    async def upload(self, user_id: str, body: dict[str, Any]) -> int:
        SyncFilter.parse(body)  # validate before storing
        return await self.store.add_filter(user_id, body)

    async def get(self, user_id: str, filter_id: int) -> dict[str, Any]:
        stored = await self.store.get_filter(user_id, filter_id)
        if stored is None:
            raise not_found("No such filter")
        return stored
