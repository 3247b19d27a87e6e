"""Sliding sync extensions (MSC3885 to-device, MSC3884 e2ee, MSC3959 account data,
MSC3960 receipts, MSC3961 typing), answered by the same ``SyncSource``s as /sync.

Each source is asked with a ``SyncContext`` shaped for the extension: the rooms the
extension covers, the connection's token as ``since``, and (to-device) the
extension's own ``since``. Their /sync-shaped contributions are reshaped here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from homeserver.core.filtering import SyncFilter
from homeserver.core.requester import Requester
from homeserver.core.stream_token import StreamToken
from homeserver.core.sync_source import SyncContext, SyncContribution, SyncSource
from homeserver.errors import MatrixError
from schemas.client.sliding_sync import Extensions, ScopedExtension

_NO_FILTER = SyncFilter()


@dataclass(slots=True)
class ExtensionScope:
    """The rooms of one response, for extensions that are about rooms."""

    joined_room_ids: list[str]
    # Joined after the connection's pos: their members' device lists are new to us.
    newly_joined: set[str]
    # List name -> the room IDs inside its ranges.
    windows: Mapping[str, Collection[str]]
    # Room subscriptions of this request that the user may see.
    subscribed: Collection[str]
    # Rooms sent with "initial": extensions give their full picture, not changes.
    initial_rooms: set[str] = field(default_factory=set)

    def rooms_for(self, ext: ScopedExtension) -> list[str]:
        """The joined rooms an extension covers: those in its lists' windows and its
        subscribed rooms ("*": every list, every subscription)."""
        wanted: set[str] = set()
        lists = ext.lists if ext.lists is not None else ["*"]
        for name, room_ids in self.windows.items():
            if "*" in lists or name in lists:
                wanted.update(room_ids)
        rooms = ext.rooms if ext.rooms is not None else ["*"]
        wanted.update(r for r in self.subscribed if "*" in rooms or r in rooms)
        joined = set(self.joined_room_ids)
        return sorted(r for r in wanted if r in joined)


@dataclass(slots=True)
class ExtensionSources:
    to_device: SyncSource
    device_lists: SyncSource
    account_data: SyncSource
    push_rules: SyncSource
    receipts: SyncSource
    typing: SyncSource


class SlidingSyncExtensions:
    def __init__(self, sources: ExtensionSources) -> None:
        self.sources = sources

    async def compute(
        self,
        requester: Requester,
        request: Extensions | None,
        since: StreamToken | None,
        upto: StreamToken,
        scope: ExtensionScope,
    ) -> tuple[dict[str, Any], bool]:
        """The ``extensions`` section, and whether it carries anything new."""
        out: dict[str, Any] = {}
        if request is None:
            return out, False
        has_updates = False

        def ctx(rooms: list[str], since_token: StreamToken | None, newly: set[str]) -> SyncContext:
            return SyncContext(requester, _NO_FILTER, since_token, upto, rooms, newly)

        if request.to_device is not None and request.to_device.enabled:
            to_device_since = _to_device_since(request.to_device.since)
            token = StreamToken(to_device=to_device_since) if to_device_since is not None else None
            got = await self.sources.to_device.contribute(ctx([], token, set()))
            events = got.top_level.get("to_device", {}).get("events", [])
            next_batch = got.resume_from if got.resume_from is not None else max(
                upto.to_device, to_device_since or 0
            )
            out["to_device"] = {"next_batch": str(next_batch), "events": events}
            has_updates |= bool(events)

        if request.e2ee is not None and request.e2ee.enabled:
            got = await self.sources.device_lists.contribute(
                ctx(scope.joined_room_ids, since, scope.newly_joined)
            )
            e2ee: dict[str, Any] = {
                "device_one_time_keys_count": got.always.get("device_one_time_keys_count", {}),
                "device_unused_fallback_key_types": got.always.get("device_unused_fallback_key_types", []),
            }
            if since is not None:
                # Only an incremental answer can say what changed (as /sync's device_lists).
                lists = got.top_level.get("device_lists", {})
                e2ee["device_lists"] = {"changed": lists.get("changed", []), "left": lists.get("left", [])}
                has_updates |= bool(lists.get("changed") or lists.get("left"))
            out["e2ee"] = e2ee

        if request.account_data is not None and request.account_data.enabled:
            rooms = scope.rooms_for(request.account_data)
            newly = scope.initial_rooms.intersection(rooms)
            got = await self.sources.account_data.contribute(ctx(rooms, since, newly))
            global_events = list(got.top_level.get("account_data", {}).get("events", []))
            if since is None:
                defaults = await self.sources.push_rules.contribute(ctx([], None, set()))
                global_events.extend(defaults.top_level.get("account_data", {}).get("events", []))
            by_room = _room_sections(got, "account_data")
            out["account_data"] = {"global": global_events, "rooms": by_room}
            has_updates |= bool(global_events or by_room)

        # Receipts and typing: each room's latest ephemeral event of that source.
        for name, extension, source in (
            ("receipts", request.receipts, self.sources.receipts),
            ("typing", request.typing, self.sources.typing),
        ):
            if extension is None or not extension.enabled:
                continue
            rooms = scope.rooms_for(extension)
            got = await source.contribute(ctx(rooms, since, scope.initial_rooms.intersection(rooms)))
            latest = {room_id: events[-1] for room_id, events in _room_sections(got, "ephemeral").items()}
            out[name] = {"rooms": latest}
            has_updates |= bool(latest)
        return out, has_updates


def _room_sections(got: SyncContribution, section: str) -> dict[str, list[Any]]:
    return {room_id: items[section] for room_id, items in got.rooms.items() if items.get(section)}


def _to_device_since(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise MatrixError("M_INVALID_PARAM", 400, "extensions.to_device.since is not a token we issued")
    return int(raw)
