"""Simplified Sliding Sync (MSC4186): the room lists and room entries of one response,
long-polled through the same Notifier as /sync.

A request names lists (ranges over the user's rooms, most recent activity first) and
room subscriptions; each room inside a range or subscribed is sent once in full
("initial") and then only when it changes, as remembered per connection
(``core/sliding_sync_connections.py``). Timelines, invite state and unread counts come
from the same code as /sync; the extensions from its sync sources
(``sliding_extensions.py``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from federation.rooms.events import Event, StateKey
from homeserver.clock import Clock
from homeserver.core.event_format import client_event
from homeserver.core.filtering import SyncFilter
from homeserver.core.requester import Requester
from homeserver.core.room_state import RoomState
from homeserver.core.sliding_sync import (
    MEMBER,
    ListFilter,
    RequiredState,
    RoomFacts,
    RoomParams,
    range_slices,
    sort_by_recency,
    window,
)
from homeserver.core.sliding_sync_connections import (
    ListSent,
    RoomSent,
    SlidingSyncConnections,
    Snapshot,
)
from homeserver.core.stream_token import StreamToken
from homeserver.errors import MatrixError
from homeserver.services.federation.out_of_band import OutOfBandMembershipService
from homeserver.services.graph.events import EventService
from homeserver.services.graph.notifier import Notifier
from homeserver.services.social.account_data import AccountDataService
from homeserver.services.sync.bump_stamps import BumpStamps
from homeserver.services.sync.sliding_extensions import ExtensionScope, SlidingSyncExtensions
from homeserver.services.sync.sync import SyncRequest, SyncService
from schemas.client.sliding_sync import ListFilters, SlidingSyncRequest

# (user_id, room_id, upto_events) -> {"notification_count": .., "highlight_count": ..}
UnreadCounts = Callable[[str, str, int], Awaitable[Mapping[str, int]]]

_NO_FILTER = SyncFilter()
_SUMMARY_KEYS: tuple[StateKey, ...] = (("m.room.name", ""), ("m.room.avatar", ""))
MAX_HEROES = 5


@dataclass(slots=True)
class SlidingSyncCall:
    requester: Requester
    body: SlidingSyncRequest
    pos: str | None
    timeout_ms: int = 0


@dataclass(slots=True)
class _Candidate:
    """One of the user's rooms that lists may show."""

    room_id: str
    membership: str
    member_stream: int
    room: RoomState | None  # None: an invite or knock to a room this server is not in
    stripped: list[dict[str, Any]] | None  # invite_state for invites and knocks
    bump: int
    is_direct_invite: bool = False


@dataclass(slots=True)
class _Result:
    lists: dict[str, Any]
    rooms: dict[str, Any]
    extensions: dict[str, Any]
    snapshot: Snapshot
    has_updates: bool


@dataclass(slots=True)
class _Pass:
    """What one computation needs besides the request."""

    call: SlidingSyncCall
    base: Snapshot | None
    upto: StreamToken
    hidden: frozenset[str]
    now: int
    dm_rooms: set[str]
    sync_req: SyncRequest
    initial_rooms: set[str] = field(default_factory=set)


class SlidingSyncService:
    def __init__(
        self,
        *,
        sync: SyncService,
        events: EventService,
        notifier: Notifier,
        clock: Clock,
        out_of_band: OutOfBandMembershipService,
        account_data: AccountDataService,
        unread_counts: UnreadCounts,
        bump_stamps: BumpStamps,
        extensions: SlidingSyncExtensions,
    ) -> None:
        self.sync = sync
        self.events = events
        self.notifier = notifier
        self.clock = clock
        self.out_of_band = out_of_band
        self.account_data = account_data
        self.unread_counts = unread_counts
        self.bump_stamps = bump_stamps
        self.extensions = extensions
        # Positions are held in memory: a new instance name per run makes old ones unknown.
        self.connections = SlidingSyncConnections(secrets.token_hex(4))

    async def sliding_sync(self, call: SlidingSyncCall) -> dict[str, Any]:
        requester = call.requester
        user_id = requester.user_id
        key = (user_id, requester.device_id or "", call.body.conn_id or "")
        base = self.connections.snapshot(key, call.pos)
        hidden = await self.account_data.ignored_users(user_id)
        deadline = time.monotonic() + call.timeout_ms / 1000
        while True:
            version = self.notifier.version(user_id)
            result = await self._compute(call, base, self.sync.current_token(), hidden)
            if result.has_updates or base is None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if not await self.notifier.wait(user_id, version, remaining):
                # A final look: something may have landed in the same instant.
                result = await self._compute(call, base, self.sync.current_token(), hidden)
                break
        if result.has_updates or base is None:
            pos = self.connections.commit(key, call.pos, result.snapshot)
        else:
            # Nothing new: the client carries on from the same position.
            assert call.pos is not None
            pos = call.pos
        response: dict[str, Any] = {"pos": pos, "lists": result.lists, "rooms": result.rooms,
                                    "extensions": result.extensions}
        return response

    # --- one pass ----------------------------------------------------------------------
    async def _compute(
        self, call: SlidingSyncCall, base: Snapshot | None, upto: StreamToken, hidden: frozenset[str]
    ) -> _Result:
        user_id = call.requester.user_id
        body = call.body
        p = _Pass(
            call=call, base=base, upto=upto, hidden=hidden, now=self.clock.time_ms(),
            dm_rooms=await self._dm_rooms(user_id),
            sync_req=SyncRequest(requester=call.requester, filter=_NO_FILTER, since=None, hidden_senders=hidden),
        )
        candidates = await self._candidates(p)
        relevant: dict[str, RoomParams] = {}
        lists_out: dict[str, Any] = {}
        lists_sent: dict[str, ListSent] = {}
        windows: dict[str, list[str]] = {}
        for name, spec in (body.lists or {}).items():
            list_filter = self._list_filter(spec.filters)
            ids = [
                room_id for room_id, c in candidates.items()
                if list_filter is None or list_filter.allows(self._facts(c, p, list_filter))
            ]
            ordered = sort_by_recency({room_id: candidates[room_id].bump for room_id in ids})
            slices = range_slices(ordered, spec.ranges)
            params = RoomParams(spec.timeline_limit, RequiredState.of(spec.required_state))
            for _, room_ids in slices:
                for room_id in room_ids:
                    relevant[room_id] = relevant[room_id].merged(params) if room_id in relevant else params
            lists_out[name] = {
                "count": len(ordered),
                "ops": [{"op": "SYNC", "range": list(r), "room_ids": room_ids} for r, room_ids in slices],
            }
            lists_sent[name] = ListSent(len(ordered), tuple(tuple(room_ids) for _, room_ids in slices))
            windows[name] = window(ordered, spec.ranges)
        subscribed: list[str] = []
        for room_id, sub in (body.room_subscriptions or {}).items():
            if room_id not in candidates:
                continue  # not a room of the user's: nothing to show (as Synapse)
            subscribed.append(room_id)
            params = RoomParams(sub.timeline_limit, RequiredState.of(sub.required_state))
            relevant[room_id] = relevant[room_id].merged(params) if room_id in relevant else params

        has_updates = base is None or any(base.lists.get(n) != sent for n, sent in lists_sent.items())
        rooms_out: dict[str, Any] = {}
        rooms_sent: dict[str, RoomSent] = dict(base.rooms) if base is not None else {}
        for room_id, params in relevant.items():
            prev = base.rooms.get(room_id) if base is not None else None
            entry, sent = await self._room_entry(p, candidates[room_id], params, prev)
            rooms_sent[room_id] = sent
            if entry is not None:
                rooms_out[room_id] = entry
        has_updates = has_updates or bool(rooms_out)

        since = base.token if base is not None else None
        joined = [r for r, c in candidates.items() if c.membership == "join"]
        newly_joined = {
            r for r in joined if since is not None and candidates[r].member_stream > since.events
        }
        scope = ExtensionScope(joined, newly_joined, windows, subscribed, p.initial_rooms)
        extensions, ext_updates = await self.extensions.compute(
            call.requester, body.extensions, since, upto, scope
        )
        return _Result(
            lists=lists_out, rooms=rooms_out, extensions=extensions,
            snapshot=Snapshot(upto, rooms_sent, lists_sent),
            has_updates=has_updates or ext_updates,
        )

    async def _candidates(self, p: _Pass) -> dict[str, _Candidate]:
        """The rooms lists choose from: joined, invited, knocked, banned, kicked, and
        rooms the user left since the connection's position (so the client sees it)."""
        user_id = p.call.requester.user_id
        events = self.events
        upto = p.upto.events
        since_events = p.base.token.events if p.base is not None else None
        out: dict[str, _Candidate] = {}
        for room_id, membership in (await events.rooms_for_user(user_id)).items():
            room = events.cached_room(room_id) or await events.get_room(room_id)
            if room is None:
                oob = await self._out_of_band_candidate(user_id, room_id, membership, upto, p.hidden)
                if oob is not None:
                    out[room_id] = oob
                continue
            member = room.state.get((MEMBER, user_id))
            if member is None:
                continue
            member_stream = member.stream_ordering or 0
            if member_stream > upto:
                continue  # changed after this response's upper bound; next time
            if membership == "leave" and member.sender == user_id and not (
                since_events is not None and member_stream > since_events
            ):
                continue
            if membership == "invite" and member.sender in p.hidden:
                continue  # spec: modules/ignore_users.md — no invites from ignored users
            stripped = self.sync.stripped_state(room, member) if membership in ("invite", "knock") else None
            bump = await self.bump_stamps.get(room) if membership == "join" else member_stream
            out[room_id] = _Candidate(
                room_id, membership, member_stream, room, stripped, bump,
                is_direct_invite=membership == "invite" and member.content.get("is_direct") is True,
            )
        return out

    async def _out_of_band_candidate(
        self, user_id: str, room_id: str, membership: str, upto: int, hidden: frozenset[str]
    ) -> _Candidate | None:
        if membership not in ("invite", "knock"):
            return None
        section = await self.out_of_band.sync_section(user_id, room_id, None, upto, hidden)
        record = await self.out_of_band.get(room_id, user_id)
        if section is None or record is None:
            return None
        name, content = section
        stripped = content.get(f"{name}_state", {}).get("events", [])
        return _Candidate(
            room_id, membership, record.stream_ordering, None, stripped, record.stream_ordering,
            is_direct_invite=record.pdu.get("content", {}).get("is_direct") is True,
        )

    # --- list filters ------------------------------------------------------------------
    @staticmethod
    def _list_filter(filters: ListFilters | None) -> ListFilter | None:
        if filters is None:
            return None
        return ListFilter(
            is_dm=filters.is_dm,
            is_encrypted=filters.is_encrypted,
            is_invite=filters.is_invite,
            room_types=tuple(filters.room_types) if filters.room_types is not None else None,
            not_room_types=tuple(filters.not_room_types or ()),
            spaces=tuple(filters.spaces) if filters.spaces is not None else None,
        )

    def _facts(self, c: _Candidate, p: _Pass, list_filter: ListFilter) -> RoomFacts:
        if c.room is not None and c.stripped is None:
            create = c.room.create_event.content
            is_encrypted = ("m.room.encryption", "") in c.room.state
        else:
            create = next((s.get("content", {}) for s in c.stripped or () if s.get("type") == "m.room.create"), {})
            is_encrypted = any(s.get("type") == "m.room.encryption" for s in c.stripped or ())
        room_type = create.get("type")
        parents: frozenset[str] = frozenset()
        if list_filter.spaces:
            parents = frozenset(s for s in list_filter.spaces if c.room_id in self._space_children(s, p))
        return RoomFacts(
            is_dm=self._is_dm(c, p),
            is_encrypted=is_encrypted,
            is_invite=c.membership == "invite",
            room_type=room_type if isinstance(room_type, str) else None,
            parent_spaces=parents,
        )

    def _space_children(self, space_id: str, p: _Pass) -> set[str]:
        """The rooms a space the user is joined to lists as m.space.child (with a via)."""
        space = self.events.cached_room(space_id)
        if space is None or space.membership(p.call.requester.user_id) != "join":
            return set()
        return {
            key for (t, key), ev in space.state.items()
            if t == "m.space.child" and isinstance(ev.content.get("via"), list) and ev.content["via"]
        }

    @staticmethod
    def _is_dm(c: _Candidate, p: _Pass) -> bool:
        return c.room_id in p.dm_rooms or c.is_direct_invite

    async def _dm_rooms(self, user_id: str) -> set[str]:
        try:
            direct = await self.account_data.get(user_id, None, "m.direct")
        except MatrixError as e:
            if e.errcode == "M_NOT_FOUND":
                return set()  # no DMs yet
            raise
        return {r for rooms in direct.values() if isinstance(rooms, list) for r in rooms if isinstance(r, str)}

    # --- one room ----------------------------------------------------------------------
    async def _room_entry(
        self, p: _Pass, c: _Candidate, params: RoomParams, prev: RoomSent | None
    ) -> tuple[dict[str, Any] | None, RoomSent]:
        """The room's entry for this response (None if the client is up to date) and
        what the client will then hold."""
        initial = prev is None or prev.membership != c.membership
        if c.room is None or c.membership in ("invite", "knock"):
            return self._stripped_entry(p, c, initial), RoomSent(c.member_stream, c.membership, params)
        assert prev is not None or initial
        room = c.room
        user_id = p.call.requester.user_id
        upto = p.upto.events if c.membership == "join" else min(p.upto.events, c.member_stream)
        after = None if initial or prev is None else prev.events_upto
        limit = params.timeline_limit
        new_events = after is not None and min(room.latest_stream, upto) > after
        if limit > 0 and (initial or new_events):
            timeline, limited = await self.sync.room_events(room, after, upto, limit, p.sync_req)
        else:
            # timeline_limit 0: the client only learns that there is more.
            timeline, limited = [], limit == 0 and (new_events or (initial and room.latest_stream > 0))
        required = params.required_state
        lazy_users = {e.sender for e in timeline} if required.lazy_members else set()
        state_keys = self._state_to_send(room, user_id, required, prev, initial, after, upto, lazy_users)
        counts = await self.unread_counts(user_id, room.room_id, p.upto.events) if c.membership == "join" else {}
        unread = (counts.get("notification_count", 0), counts.get("highlight_count", 0))
        sent_lazy = (prev.lazy_members if prev is not None and not initial else frozenset()) | frozenset(
            u for u in lazy_users if (MEMBER, u) in room.state
        )
        sent = RoomSent(upto, c.membership, params, sent_lazy, unread)
        changed_summary = initial or any(
            (room.state.get(k) is not None and (room.state[k].stream_ordering or 0) > (after or 0))
            for k in _SUMMARY_KEYS
        )
        members_changed = initial or any(e.type == MEMBER for e in timeline) or any(k[0] == MEMBER for k in state_keys)
        if not (initial or new_events or timeline or state_keys or changed_summary or members_changed
                or (prev is not None and prev.unread != unread)):
            return None, sent
        if initial:
            p.initial_rooms.add(room.room_id)
        entry: dict[str, Any] = {
            "notification_count": unread[0],
            "highlight_count": unread[1],
            "bump_stamp": c.bump,
        }
        if initial:
            entry["initial"] = True
        if changed_summary:
            entry.update(self._name_and_avatar(room.state_content("m.room.name"), room.state_content("m.room.avatar")))
        if members_changed:
            entry["joined_count"] = len(room.members_with("join"))
            entry["invited_count"] = len(room.members_with("invite"))
            if "name" not in entry and ("m.room.name", "") not in room.state:
                heroes = self._heroes(room, user_id)
                if heroes:
                    entry["heroes"] = heroes
        if state_keys:
            entry["required_state"] = [
                client_event(room.state[k], include_room_id=False, now_ms=p.now) for k in state_keys
            ]
        if timeline:
            entry["timeline"] = await self.sync.format_timeline(room, timeline, p.now, p.sync_req)
        if initial or timeline or new_events:
            first = (timeline[0].stream_ordering or 1) - 1 if timeline else upto
            entry["prev_batch"] = StreamToken(events=first).serialize()
            entry["limited"] = limited
            since_events = p.base.token.events if p.base is not None else None
            entry["num_live"] = (
                sum(1 for e in timeline if (e.stream_ordering or 0) > since_events) if since_events is not None else 0
            )
        if self._is_dm(c, p):
            entry["is_dm"] = True
        return entry, sent

    def _state_to_send(
        self,
        room: RoomState,
        user_id: str,
        required: RequiredState,
        prev: RoomSent | None,
        initial: bool,
        after: int | None,
        upto: int,
        lazy_users: set[str],
    ) -> list[StateKey]:
        """The required_state to send: all of it the first time (or when the request
        asks for other state), else what changed and members newly needed by $LAZY."""
        state = room.state

        def settled(k: StateKey) -> bool:
            return (state[k].stream_ordering or 0) <= upto

        if initial or prev is None or prev.params.required_state != required or after is None:
            return [k for k in required.select(state.keys(), user_id, lazy_users) if settled(k)]
        known_lazy = prev.lazy_members
        out = []
        for k in required.select(state.keys(), user_id, lazy_users | known_lazy):
            if not settled(k):
                continue
            changed = (state[k].stream_ordering or 0) > after
            newly_needed = k[0] == MEMBER and k[1] in lazy_users and k[1] not in known_lazy
            if changed or newly_needed:
                out.append(k)
        return out

    def _stripped_entry(self, p: _Pass, c: _Candidate, initial: bool) -> dict[str, Any] | None:
        if not initial:
            return None
        p.initial_rooms.add(c.room_id)
        stripped = c.stripped or []

        def content(event_type: str) -> dict[str, Any]:
            found = next((s for s in stripped if s.get("type") == event_type and s.get("state_key") == ""), None)
            value = found.get("content") if found is not None else None
            return value if isinstance(value, dict) else {}

        entry: dict[str, Any] = {
            "initial": True,
            "notification_count": 0,
            "highlight_count": 0,
            "bump_stamp": c.bump,
            **self._name_and_avatar(content("m.room.name"), content("m.room.avatar")),
        }
        if stripped:
            entry["invite_state"] = stripped
        if self._is_dm(c, p):
            entry["is_dm"] = True
        return entry

    @staticmethod
    def _name_and_avatar(name_content: Mapping[str, Any], avatar_content: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        name = name_content.get("name")
        if isinstance(name, str) and name:
            out["name"] = name
        avatar = avatar_content.get("url")
        if isinstance(avatar, str) and avatar:
            out["avatar"] = avatar
        return out

    @staticmethod
    def _heroes(room: RoomState, user_id: str) -> list[dict[str, Any]]:
        """Up to five other members to name an unnamed room by: joined and invited first,
        in the order they arrived; else those who left (spec: RoomSummary m.heroes)."""
        members: list[Event] = [
            ev for (t, k), ev in room.state.items() if t == MEMBER and k != user_id
        ]
        members.sort(key=lambda ev: ev.stream_ordering or 0)
        present = [ev for ev in members if ev.membership in ("join", "invite")]
        chosen = (present or [ev for ev in members if ev.membership in ("leave", "ban")])[:MAX_HEROES]
        heroes = []
        for ev in chosen:
            hero: dict[str, Any] = {"user_id": ev.state_key}
            if isinstance(ev.content.get("displayname"), str):
                hero["displayname"] = ev.content["displayname"]
            if isinstance(ev.content.get("avatar_url"), str):
                hero["avatar_url"] = ev.content["avatar_url"]
            heroes.append(hero)
        return heroes
