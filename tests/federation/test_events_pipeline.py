"""The receive pipeline for remote PDUs, against a hand-built remote room.

spec: server-server-api.md, "Checks performed on receipt of a PDU", "Soft failure",
"Backfilling and retrieving missing events". The remote server is simulated:
``RemoteRoom`` builds and signs events with a fake server key, and serves its
graph to the handler through the ``RemoteEventSource`` interface.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from federation.crypto.signing import SigningKey, generate_signing_key
from federation.rooms.auth import auth_types_for_event
from federation.rooms.builder import build_event, verify_event_signature
from federation.rooms.events import Event, StateKey
from federation.rooms.versions import ROOM_VERSION_10, ROOM_VERSION_11, ROOM_VERSION_12, RoomVersion
from homeserver.app.homeserver import Homeserver
from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp

REMOTE = "remote.test"
BOB = f"@bob:{REMOTE}"
CAROL = f"@carol:{REMOTE}"
MALLORY = f"@mallory:{REMOTE}"


class RemoteRoom:
    """A room held by REMOTE: builds signed events, tracks the state after each one."""

    def __init__(self, key: SigningKey, version: RoomVersion = ROOM_VERSION_12) -> None:
        self.key = key
        self.version = version
        self.events: dict[str, Event] = {}
        self.state_after: dict[str, dict[StateKey, str]] = {}
        self.ts = 1_700_000_000_000
        if not version.hash_room_ids:
            self.room_id = f"!fork:{REMOTE}"
        create_content: dict[str, Any] = {"room_version": version.identifier}
        if not version.creator_is_sender:
            create_content["creator"] = BOB
        create = self._build(BOB, "m.room.create", create_content, "", [], None)
        self.create = create
        self.room_id = create.room_id
        self.head = create.event_id
        self.member(BOB, "join")
        # v10/v11: the creator's power comes from power levels (v12: creators are privileged).
        users = {CAROL: 50} if version.privileged_creators else {BOB: 100, CAROL: 50}
        self.state(BOB, "m.room.power_levels", {"users": users, "events_default": 0,
                                                 "state_default": 50, "ban": 50, "redact": 50})
        self.state(BOB, "m.room.join_rules", {"join_rule": "public"})
        self.state(BOB, "m.room.history_visibility", {"history_visibility": "shared"})

    def _build(self, sender: str, event_type: str, content: dict[str, Any], state_key: str | None,
               prevs: list[str], key: SigningKey | None, server: str = REMOTE) -> Event:
        self.ts += 1
        state = self._state_before(prevs)
        auth = [state[k] for k in auth_types_for_event(self.version, event_type, state_key, sender, content)
                if k in state]
        depth = max((self.events[p].depth for p in prevs), default=0) + 1
        event = build_event(
            room_version=self.version, room_id=None if not prevs and self.version.hash_room_ids else
            getattr(self, "room_id", None), sender=sender, event_type=event_type, content=content,
            state_key=state_key, prev_event_ids=prevs, auth_event_ids=auth, depth=depth,
            origin_server_ts=self.ts, server_name=server, signing_key=key or self.key,
        )
        self.events[event.event_id] = event
        after = dict(state)
        if event.is_state:
            after[event.state_tuple] = event.event_id
        self.state_after[event.event_id] = after
        return event

    def _state_before(self, prevs: list[str]) -> dict[StateKey, str]:
        state: dict[StateKey, str] = {}
        for p in prevs:  # forks in these tests never conflict on the keys they use
            state.update(self.state_after[p])
        return state

    def add(self, sender: str, event_type: str, content: dict[str, Any], state_key: str | None = None,
            prevs: list[str] | None = None, *, key: SigningKey | None = None,
            server: str = REMOTE) -> Event:
        event = self._build(sender, event_type, content, state_key,
                            prevs if prevs is not None else [self.head], key, server)
        if prevs is None:
            self.head = event.event_id
        return event

    def member(self, user_id: str, membership: str, sender: str | None = None, **kw: Any) -> Event:
        return self.add(sender or user_id, "m.room.member", {"membership": membership}, user_id, **kw)

    def state(self, sender: str, event_type: str, content: dict[str, Any], state_key: str = "",
              **kw: Any) -> Event:
        return self.add(sender, event_type, content, state_key, **kw)

    def message(self, sender: str, body: str, **kw: Any) -> Event:
        return self.add(sender, "m.room.message", {"msgtype": "m.text", "body": body}, **kw)

    def state_at(self, event_id: str) -> dict[StateKey, str]:
        event = self.events[event_id]
        return self._state_before(event.prev_event_ids)

    def auth_chain(self, event_ids: list[str]) -> list[str]:
        chain: set[str] = set()
        stack = [a for e in event_ids for a in self.events[e].auth_event_ids]
        while stack:
            e = stack.pop()
            if e not in chain:
                chain.add(e)
                stack.extend(self.events[e].auth_event_ids)
        if self.version.hash_room_ids:
            chain.add(self.create.event_id)
        return sorted(chain)


def wire(event: Event) -> dict[str, Any]:
    return copy.deepcopy({k: v for k, v in event.pdu.items() if k != "unsigned"})


class FakeRemoteSource:
    """``RemoteEventSource`` answering from a RemoteRoom (what REMOTE would serve)."""

    def __init__(self, room: RemoteRoom, *, serve_missing_events: bool = True) -> None:
        self.room = room
        self.serve_missing_events = serve_missing_events
        self.calls: list[str] = []

    async def get_event(self, destination: str, event_id: str) -> dict[str, Any]:
        self.calls.append("event")
        return wire(self.room.events[event_id])

    async def get_event_auth(self, destination: str, room_id: str, event_id: str) -> list[Any]:
        self.calls.append("event_auth")
        return [wire(self.room.events[e]) for e in self.room.auth_chain([event_id])]

    async def get_state_ids(self, destination: str, room_id: str, event_id: str) -> tuple[list[str], list[str]]:
        self.calls.append("state_ids")
        state = list(self.room.state_at(event_id).values())
        return state, self.room.auth_chain(state)

    async def get_missing_events(self, destination: str, room_id: str, earliest: list[str],
                                 latest: list[str], limit: int, min_depth: int) -> list[Any]:
        self.calls.append("get_missing_events")
        if not self.serve_missing_events:
            return []
        seen, out, stack = set(earliest), [], [p for e in latest for p in self.room.events[e].prev_event_ids]
        while stack and len(out) < limit:
            e = stack.pop()
            if e in seen:
                continue
            seen.add(e)
            out.append(self.room.events[e])
            stack.extend(self.room.events[e].prev_event_ids)
        return [wire(e) for e in sorted(out, key=lambda e: e.depth)]

    async def backfill(self, destination: str, room_id: str, event_ids: list[str], limit: int) -> list[Any]:
        self.calls.append("backfill")
        seen: set[str] = set()
        frontier = list(event_ids)
        out: list[Event] = []
        while frontier and len(out) < limit:
            frontier.sort(key=lambda e: self.room.events[e].depth)
            e = frontier.pop()
            if e in seen:
                continue
            seen.add(e)
            out.append(self.room.events[e])
            frontier.extend(self.room.events[e].prev_event_ids)
        return [wire(e) for e in out]


def install_fake_remote(hs: Homeserver, room: RemoteRoom, **kw: Any) -> FakeRemoteSource:
    """Point the handler at the fake remote and at its key (and ours) for signatures."""
    source = FakeRemoteSource(room, **kw)
    handler = hs.federation_events
    handler.remote = source
    keys = {REMOTE: room.key, hs.server_name: hs.signing_key}

    async def verify(event: Event) -> None:
        server = event.sender.split(":", 1)[1]
        key = keys[server]
        verify_event_signature(event.pdu, event.room_version, server, key.key_id, key.verify_key_bytes)

    handler.verify_signatures = verify
    # remote.test does not exist: outbound transactions fail at once instead of waiting on
    # a DNS lookup (a sandbox may take seconds to answer, or not answer).
    hs.federation_sender.client = _Unreachable()  # type: ignore[assignment]
    return source


class _Unreachable:
    async def put_json(self, destination: str, path: str, body: Any, **_kw: Any) -> Any:
        raise ConnectionError(f"{destination} is not reachable from this test")


async def join_remote_room(hs: Homeserver, room: RemoteRoom, user_id: str) -> Event:
    """What FD does after send_join: the local user's join, persisted with the room state."""
    state = room.state_after[room.head]
    auth_keys = auth_types_for_event(room.version, "m.room.member", user_id, user_id, {"membership": "join"})
    join = build_event(
        room_version=room.version, room_id=room.room_id, sender=user_id, event_type="m.room.member",
        content={"membership": "join"}, state_key=user_id, prev_event_ids=[room.head],
        auth_event_ids=[state[k] for k in auth_keys if k in state],
        depth=room.events[room.head].depth + 1, origin_server_ts=room.ts + 1,
        server_name=hs.server_name, signing_key=hs.signing_key,
    )
    room.events[join.event_id] = join
    room.state_after[join.event_id] = {**state, join.state_tuple: join.event_id}
    room.head = join.event_id
    state_ids = list(state.values())
    return await hs.federation_events.process_send_join_response(
        room.version, room.room_id, join.pdu, [wire(room.events[e]) for e in state_ids],
        [wire(room.events[e]) for e in room.auth_chain(state_ids)], REMOTE,
    )


@pytest.fixture(params=[ROOM_VERSION_10, ROOM_VERSION_11, ROOM_VERSION_12], ids=lambda v: f"v{v.identifier}")
async def joined(
    homeserver: RunningHomeserver, request: pytest.FixtureRequest
) -> tuple[RunningHomeserver, MatrixHttp, RemoteRoom]:
    alice = await homeserver.register("alice")
    room = RemoteRoom(generate_signing_key(), request.param)
    room.member(CAROL, "join")
    install_fake_remote(homeserver.hs, room)
    await join_remote_room(homeserver.hs, room, alice.user_id or "")
    return homeserver, alice, room


def timeline_bodies(sync: dict[str, Any], room_id: str) -> list[str]:
    events = sync.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {}).get("events", [])
    return [e["content"].get("body") for e in events if e["type"] == "m.room.message"]


async def receive(hs: Homeserver, *events: Event | dict[str, Any]) -> dict[str, str | None]:
    pdus = [wire(e) if isinstance(e, Event) else e for e in events]
    return await hs.federation_events.on_receive_pdus(REMOTE, pdus)


async def test_send_join_response_makes_the_remote_room_live_for_local_users(joined: Any) -> None:
    server, alice, room = joined
    sync = await alice.sync()
    assert room.room_id in sync["rooms"]["join"]
    local = server.hs.events.cached_room(room.room_id)
    assert local.membership(alice.user_id) == "join"
    assert local.membership(CAROL) == "join"
    assert local.state_content("m.room.join_rules")["join_rule"] == "public"
    rooms = await alice.request("GET", "/_matrix/client/v3/joined_rooms")
    assert room.room_id in rooms["joined_rooms"]


async def test_accepted_remote_message_reaches_sync(joined: Any) -> None:
    server, alice, room = joined
    first = await alice.sync()
    message = room.message(BOB, "hello from remote")
    assert await receive(server.hs, message) == {message.event_id: None}
    later = await alice.sync(since=first["next_batch"])
    assert timeline_bodies(later, room.room_id) == ["hello from remote"]
    assert server.hs.events.cached_room(room.room_id).extremities == [message.event_id]


async def test_event_with_a_bad_signature_is_dropped(joined: Any) -> None:
    server, alice, room = joined
    forged = room.message(BOB, "forged", key=generate_signing_key())  # not REMOTE's key
    result = await receive(server.hs, forged)
    assert result[forged.event_id] is not None
    assert await server.hs.event_store.get_event(forged.event_id) is None


async def test_event_with_a_bad_content_hash_is_stored_redacted(joined: Any) -> None:
    server, alice, room = joined
    message = room.message(BOB, "original")
    tampered = wire(message)
    tampered["content"]["body"] = "tampered"  # the signature covers only the redacted form
    assert await receive(server.hs, tampered) == {message.event_id: None}
    stored = await server.hs.event_store.get_event(message.event_id)
    assert stored is not None and stored.content == {}
    page = await alice.messages(room.room_id, dir="b", limit=5)
    assert [e["content"] for e in page["chunk"] if e["event_id"] == message.event_id] == [{}]


async def test_event_failing_auth_is_rejected_and_never_shown(joined: Any) -> None:
    server, alice, room = joined
    first = await alice.sync()
    intruder = room.message(MALLORY, "not a member")  # Mallory never joined
    result = await receive(server.hs, intruder)
    assert result[intruder.event_id] is not None
    stored = await server.hs.event_store.get_event(intruder.event_id)
    assert stored is not None and stored.rejected_reason is not None
    later = await alice.sync(since=first["next_batch"])
    assert "not a member" not in timeline_bodies(later, room.room_id)
    page = await alice.messages(room.room_id, dir="b", limit=50)
    assert all(e["event_id"] != intruder.event_id for e in page["chunk"])


async def test_soft_failed_event_is_stored_but_not_shown_or_built_upon(joined: Any) -> None:
    server, alice, room = joined
    before_ban = room.head
    ban = room.member(CAROL, "ban", sender=BOB)
    assert await receive(server.hs, ban) == {ban.event_id: None}
    first = await alice.sync()
    # Carol's message forks from before the ban: allowed by the state before it,
    # not by the room's current state.
    late = room.message(CAROL, "sent while banned", prevs=[before_ban])
    assert await receive(server.hs, late) == {late.event_id: None}
    flags = (await server.hs.event_store.get_graph_flags([late.event_id]))[late.event_id]
    assert flags.soft_failed and flags.outlier
    later = await alice.sync(since=first["next_batch"])
    assert timeline_bodies(later, room.room_id) == []
    assert server.hs.events.cached_room(room.room_id).extremities == [ban.event_id]
    sent = await alice.send(room.room_id, "after")
    ours = await server.hs.event_store.get_event(sent)
    assert ours is not None and ours.prev_event_ids == [ban.event_id]


async def test_missing_prev_events_are_fetched_with_get_missing_events(joined: Any) -> None:
    server, alice, room = joined
    source = server.hs.federation_events.remote
    first = await alice.sync()
    gap = [room.message(BOB, f"m{i}") for i in range(3)]
    assert await receive(server.hs, gap[-1]) == {gap[-1].event_id: None}
    assert "get_missing_events" in source.calls
    later = await alice.sync(since=first["next_batch"])
    assert timeline_bodies(later, room.room_id) == ["m0", "m1", "m2"]


async def test_unfillable_gap_is_bridged_with_the_state_at_the_missing_event(
    homeserver: RunningHomeserver,
) -> None:
    alice = await homeserver.register("alice")
    room = RemoteRoom(generate_signing_key())
    source = install_fake_remote(homeserver.hs, room, serve_missing_events=False)
    await join_remote_room(homeserver.hs, room, alice.user_id or "")
    room.member(CAROL, "join")
    room.message(CAROL, "lost")
    latest = room.message(BOB, "after the gap")
    assert await receive(homeserver.hs, latest) == {latest.event_id: None}
    assert "state_ids" in source.calls
    local = homeserver.hs.events.cached_room(room.room_id)
    assert local.membership(CAROL) == "join"  # learnt from the state at the gap
    page = await alice.messages(room.room_id, dir="b", limit=5)
    assert page["chunk"][0]["content"]["body"] == "after the gap"


async def test_fork_of_local_message_and_remote_state_keeps_both_extremities(joined: Any) -> None:
    server, alice, room = joined
    fork_point = room.head
    local_msg = await alice.send(room.room_id, "local")
    name = room.state(BOB, "m.room.name", {"name": "Remote name"}, prevs=[fork_point])
    assert await receive(server.hs, name) == {name.event_id: None}
    local = server.hs.events.cached_room(room.room_id)
    assert set(local.extremities) == {local_msg, name.event_id}
    assert local.state_content("m.room.name") == {"name": "Remote name"}
    merged = await alice.send(room.room_id, "merge")
    ours = await server.hs.event_store.get_event(merged)
    assert ours is not None and set(ours.prev_event_ids) == {local_msg, name.event_id}


async def test_remote_ingestion_interleaved_with_local_sends_stays_consistent(joined: Any) -> None:
    server, alice, room = joined
    hs = server.hs
    chain = []
    for i in range(20):
        if i % 5 == 4:
            chain.append(room.state(BOB, "m.room.name", {"name": f"name {i}"}))
        else:
            chain.append(room.message(BOB, f"remote {i}"))

    async def remote() -> None:
        for event in chain:
            assert await receive(hs, event) == {event.event_id: None}

    async def local() -> None:
        for i in range(20):
            await hs.events.send(room.room_id, alice.user_id, "m.room.message",
                                 {"msgtype": "m.text", "body": f"local {i}"})

    await asyncio.gather(remote(), local())
    live = hs.events.cached_room(room.room_id)
    assert live.state_content("m.room.name") == {"name": "name 19"}
    page = await alice.messages(room.room_id, dir="b", limit=100)
    bodies = {e["content"].get("body") for e in page["chunk"] if e["type"] == "m.room.message"}
    assert bodies == {f"local {i}" for i in range(20)} | {f"remote {i}" for i in range(20) if i % 5 != 4}
    stored_state = await hs.room_store.get_current_state_ids(room.room_id)
    assert stored_state == {k: ev.event_id for k, ev in live.state.items()}
    assert set(live.extremities) == set(await hs.event_store.get_forward_extremities(room.room_id))


async def test_remote_redaction_redacts_the_target(joined: Any) -> None:
    server, alice, room = joined
    message = room.message(BOB, "regret")
    content: dict[str, Any] = {}
    if room.version.v11_redaction:
        content["redacts"] = message.event_id
    redaction = room.add(BOB, "m.room.redaction", content)
    if not room.version.v11_redaction:  # v10: `redacts` is a top-level key, so rebuild
        redaction = _rebuild_with_top_level_redacts(room, redaction, message.event_id)
    assert await receive(server.hs, message, redaction) == {message.event_id: None, redaction.event_id: None}
    event = await alice.request(
        "GET", f"/_matrix/client/v3/rooms/{room.room_id}/event/{message.event_id}"
    )
    assert event["content"] == {}
    assert event["unsigned"]["redacted_because"]["event_id"] == redaction.event_id


def _rebuild_with_top_level_redacts(room: RemoteRoom, redaction: Event, target: str) -> Event:
    del room.events[redaction.event_id]
    rebuilt = build_event(
        room_version=room.version, room_id=room.room_id, sender=BOB, event_type="m.room.redaction",
        content={}, prev_event_ids=redaction.prev_event_ids, auth_event_ids=redaction.auth_event_ids,
        depth=redaction.depth, origin_server_ts=redaction.origin_server_ts, server_name=REMOTE,
        signing_key=room.key, redacts=target,
    )
    room.events[rebuilt.event_id] = rebuilt
    room.state_after[rebuilt.event_id] = room.state_after.pop(redaction.event_id)
    room.head = rebuilt.event_id
    return rebuilt


async def test_remote_kick_of_a_local_user_reaches_their_sync(joined: Any) -> None:
    server, alice, room = joined
    first = await alice.sync()
    kick = room.member(alice.user_id, "leave", sender=BOB)
    assert await receive(server.hs, kick) == {kick.event_id: None}
    later = await alice.sync(since=first["next_batch"])
    assert room.room_id in later["rooms"]["leave"]
    rooms = await alice.request("GET", "/_matrix/client/v3/joined_rooms")
    assert room.room_id not in rooms["joined_rooms"]


async def test_rejected_state_event_does_not_change_the_room_state(joined: Any) -> None:
    server, alice, room = joined
    # Carol (50) may send power levels but not raise anyone above her own level.
    takeover = room.state(CAROL, "m.room.power_levels", {"users": {CAROL: 100}})
    result = await receive(server.hs, takeover)
    assert result[takeover.event_id] is not None
    live = server.hs.events.cached_room(room.room_id)
    assert live.state[("m.room.power_levels", "")].event_id != takeover.event_id
