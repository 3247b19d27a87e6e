"""Account data (global and per room), room tags and the ignored-users list.

spec: client-server-api/modules/account_data.md, tags.md, ignore_users.md.
Every change takes the next position of the ``account_data`` stream; /sync
sends what changed since the client's token (everything on an initial sync,
and a newly joined room's items in full).
"""

from __future__ import annotations

import logging
from typing import Any

from homeserver.core.sync_source import SyncContext, SyncContribution
from homeserver.errors import MatrixError, bad_json, not_found
from homeserver.services.graph.notifier import Notifier
from homeserver.storage.account_data import GLOBAL, AccountDataItem, AccountDataStore

logger = logging.getLogger(__name__)

IGNORED_USER_LIST = "m.ignored_user_list"
TAG = "m.tag"
FULLY_READ = "m.fully_read"
# Account data the server owns: clients change it through other APIs.
SERVER_CONTROLLED = frozenset({FULLY_READ, "m.push_rules"})


def _ignored_from(content: dict[str, Any]) -> list[str]:
    ignored = content.get("ignored_users", {})
    if not isinstance(ignored, dict):
        raise bad_json("ignored_users must be an object mapping user IDs to objects")
    return [u for u in ignored if isinstance(u, str)]


class AccountDataService:
    stream = "account_data"

    def __init__(self, store: AccountDataStore, notifier: Notifier) -> None:
        self.store = store
        self.notifier = notifier
        # user_id -> latest stream position of their account data (filled lazily)
        self._user_latest: dict[str, int] = {}
        self._ignored: dict[str, frozenset[str]] = {}

    async def load(self) -> None:
        await self.store.load()

    def current_position(self) -> int:
        return self.store.stream.current

    # --- reads and writes --------------------------------------------------------
    async def get(self, user_id: str, room_id: str | None, data_type: str) -> dict[str, Any]:
        content = await self.store.get(user_id, room_id or GLOBAL, data_type)
        if content is None:
            raise not_found("Account data not found")
        return content

    async def put_from_client(
        self, user_id: str, room_id: str | None, data_type: str, content: dict[str, Any]
    ) -> None:
        if data_type in SERVER_CONTROLLED:
            # spec: account-data.yaml, 405 M_BAD_JSON for server-controlled types.
            raise MatrixError("M_BAD_JSON", 405, f"Cannot set {data_type} through this API")
        await self.put(user_id, room_id, data_type, content)

    async def put(self, user_id: str, room_id: str | None, data_type: str, content: dict[str, Any]) -> None:
        ignored: list[str] | None = None
        if room_id is None and data_type == IGNORED_USER_LIST:
            ignored = _ignored_from(content)
            if user_id in ignored:
                raise MatrixError("M_INVALID_PARAM", 400, "You cannot ignore yourself")
        position = await self.store.put(user_id, room_id or GLOBAL, data_type, content, ignored_users=ignored)
        self._user_latest[user_id] = max(self._user_latest.get(user_id, 0), position)
        if ignored is not None:
            self._ignored[user_id] = frozenset(ignored)
        self.notifier.notify_users([user_id])

    async def ignored_users(self, user_id: str) -> frozenset[str]:
        cached = self._ignored.get(user_id)
        if cached is None:
            cached = self._ignored[user_id] = await self.store.get_ignored_users(user_id)
        return cached

    # --- tags (room account data m.tag) -----------------------------------------------
    async def get_tags(self, user_id: str, room_id: str) -> dict[str, Any]:
        content = await self.store.get(user_id, room_id, TAG)
        tags = (content or {}).get("tags")
        return tags if isinstance(tags, dict) else {}

    async def set_tag(self, user_id: str, room_id: str, tag: str, body: dict[str, Any]) -> None:
        tags = dict(await self.get_tags(user_id, room_id))
        tags[tag] = body
        await self.put(user_id, room_id, TAG, {"tags": tags})

    async def remove_tag(self, user_id: str, room_id: str, tag: str) -> None:
        tags = dict(await self.get_tags(user_id, room_id))
        if tags.pop(tag, None) is None:
            return  # nothing to change; DELETE is idempotent
        await self.put(user_id, room_id, TAG, {"tags": tags})

    # --- sync ---------------------------------------------------------------------------
    async def _latest_for(self, user_id: str) -> int:
        latest = self._user_latest.get(user_id)
        if latest is None:
            latest = self._user_latest[user_id] = await self.store.max_stream_for_user(user_id)
        return latest

    async def contribute(self, ctx: SyncContext) -> SyncContribution:
        out = SyncContribution()
        user_id = ctx.requester.user_id
        upto = ctx.upto.account_data
        items: list[AccountDataItem] = []
        if ctx.since is None:
            items = await self.store.for_rooms(user_id, ctx.joined_room_ids, upto)
        else:
            since = ctx.since.account_data
            if await self._latest_for(user_id) > since:
                items = await self.store.changed(user_id, since, upto)
            if ctx.newly_joined_room_ids:
                seen = {(i.room_id, i.type) for i in items}
                for item in await self.store.for_rooms(user_id, sorted(ctx.newly_joined_room_ids), upto):
                    if item.room_id != GLOBAL and (item.room_id, item.type) not in seen:
                        items.append(item)
        if not items:
            return out
        global_filter = ctx.filter.account_data
        room_filter = ctx.filter.room.account_data
        joined = set(ctx.joined_room_ids)
        global_events: list[dict[str, Any]] = []
        for item in items:
            event = {"type": item.type, "content": item.content}
            if item.room_id == GLOBAL:
                if global_filter.allows_type_and_sender(item.type, user_id):
                    global_events.append(event)
            elif item.room_id in joined and room_filter.allows_type_and_sender(item.type, user_id):
                if room_filter.allows_room(item.room_id) and ctx.filter.room.allows_room(item.room_id):
                    out.rooms.setdefault(item.room_id, {}).setdefault("account_data", []).append(event)
        if global_events:
            out.top_level["account_data"] = {"events": global_events}
        return out
