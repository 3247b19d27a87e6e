"""GET /timestamp_to_event, after Complement's room_timestamp_to_event_test.go.

spec: data/api/client-server/room_event_by_timestamp.yaml. Complement backdates events with
an appservice's ?ts=; here the server's clock is stepped instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixHttp, q


class SteppedClock:
    """Replaces the server clock's wall time with a value the test sets."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def time_ms(self) -> int:
        return self.now_ms


async def jump(client: MatrixHttp, room_id: str, ts: int, direction: str) -> tuple[int, Any]:
    return await client.status_of(
        "GET", f"/_matrix/client/v1/rooms/{q(room_id)}/timestamp_to_event",
        params={"ts": str(ts), "dir": direction},
    )


@pytest.fixture
async def timeline(homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A room whose two messages A and B are 10 s and 20 s after its creation."""
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(preset="public_chat")
    created = homeserver.hs.clock.time_ms()
    clock = SteppedClock(created + 10_000)
    monkeypatch.setattr(homeserver.hs.clock, "time_ms", clock.time_ms)
    a = await alice.send(room_id, "A")
    clock.now_ms = created + 20_000
    b = await alice.send(room_id, "B")
    return {"alice": alice, "room_id": room_id, "created": created, "a": a, "b": b, "clock": clock}


async def test_finds_the_event_after_a_timestamp(timeline: dict[str, Any]) -> None:
    # Complement: TestJumpToDateEndpoint / should find event after given timestamp
    status, body = await jump(timeline["alice"], timeline["room_id"], timeline["created"] + 5_000, "f")
    assert status == 200
    assert body == {"event_id": timeline["a"], "origin_server_ts": timeline["created"] + 10_000}


async def test_finds_the_event_before_a_timestamp(timeline: dict[str, Any]) -> None:
    # Complement: TestJumpToDateEndpoint / should find event before given timestamp
    status, body = await jump(timeline["alice"], timeline["room_id"], timeline["created"] + 25_000, "b")
    assert (status, body["event_id"]) == (200, timeline["b"])
    status, body = await jump(timeline["alice"], timeline["room_id"], timeline["created"] + 15_000, "b")
    assert (status, body["event_id"]) == (200, timeline["a"])


async def test_finds_nothing_before_the_room_existed_or_after_the_last_event(timeline: dict[str, Any]) -> None:
    # Complement: TestJumpToDateEndpoint / should find nothing before the earliest timestamp,
    # should find nothing after the latest timestamp
    status, body = await jump(timeline["alice"], timeline["room_id"], timeline["created"] - 60_000, "b")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await jump(timeline["alice"], timeline["room_id"], timeline["created"] + 30_000, "f")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_equal_timestamps_are_ordered_topologically(timeline: dict[str, Any]) -> None:
    # Complement: TestJumpToDateEndpoint / should find next event topologically before|after
    # given timestamp when all message timestamps are the same
    alice, room_id, clock = timeline["alice"], timeline["room_id"], timeline["clock"]
    clock.now_ms = timeline["created"] + 40_000
    same = [await alice.send(room_id, f"same {i}") for i in range(3)]
    status, body = await jump(alice, room_id, clock.now_ms, "f")
    assert (status, body["event_id"]) == (200, same[0])
    status, body = await jump(alice, room_id, clock.now_ms, "b")
    assert (status, body["event_id"]) == (200, same[-1])


async def test_non_members_cannot_query_private_or_public_rooms(
    homeserver: RunningHomeserver, timeline: dict[str, Any]
) -> None:
    # Complement: TestJumpToDateEndpoint / should not be able to query a private|public room
    # you are not a member of
    eve = await homeserver.register("eve")
    status, body = await jump(eve, timeline["room_id"], timeline["created"], "f")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    private = await timeline["alice"].create_room(preset="private_chat")
    status, body = await jump(eve, private, timeline["created"], "f")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_bad_parameters_are_client_errors(timeline: dict[str, Any]) -> None:
    alice, room_id = timeline["alice"], timeline["room_id"]
    path = f"/_matrix/client/v1/rooms/{q(room_id)}/timestamp_to_event"
    for params, errcode in (
        ({"dir": "f"}, "M_MISSING_PARAM"),
        ({"ts": "soon", "dir": "f"}, "M_INVALID_PARAM"),
        ({"ts": "1"}, "M_INVALID_PARAM"),
        ({"ts": "1", "dir": "sideways"}, "M_INVALID_PARAM"),
    ):
        status, body = await alice.status_of("GET", path, params=params)
        assert (status, body["errcode"]) == (400, errcode), params


async def test_late_joiner_finds_history_from_before_its_join_over_federation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Complement: TestJumpToDateEndpoint / federation / looking forwards|backwards, should be
    # able to find event that was sent before we joined
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        now = hs1.hs.clock.time_ms()
        clock = SteppedClock(now - 60_000)
        with monkeypatch.context() as patched:
            patched.setattr(hs1.hs.clock, "time_ms", clock.time_ms)
            room_id = await alice.create_room(preset="public_chat")
            clock.now_ms = now - 50_000
            a = await alice.send(room_id, "A")
            clock.now_ms = now - 40_000
            b = await alice.send(room_id, "B")
        await bob.request("POST", f"/_matrix/client/v3/join/{q(room_id)}", {},
                          params={"server_name": hs1.server_name})

        status, body = await jump(bob, room_id, now - 55_000, "f")
        assert (status, body) == (200, {"event_id": a, "origin_server_ts": now - 50_000})
        status, body = await jump(bob, room_id, now - 35_000, "b")
        assert (status, body) == (200, {"event_id": b, "origin_server_ts": now - 40_000})

        # Complement: ... / can paginate backwards after getting remote event from timestamp
        # to event endpoint (start) and (end)
        context = await bob.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/context/{q(b)}",
                                    params={"limit": "0"})
        assert context["event"]["event_id"] == b
        earlier = await bob.messages(room_id, dir="b", limit=10, **{"from": context["start"]})
        assert a in [e["event_id"] for e in earlier["chunk"]]
        later = await bob.messages(room_id, dir="b", limit=10, **{"from": context["end"]})
        assert [e["event_id"] for e in later["chunk"]][:2] == [b, a]


async def test_federation_timestamp_to_event_needs_a_signed_request(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    anonymous = homeserver.api()
    status, body = await anonymous.status_of(
        "GET", f"/_matrix/federation/v1/timestamp_to_event/{q(room_id)}", params={"ts": "0", "dir": "f"}
    )
    assert (status, body["errcode"]) == (401, "M_UNAUTHORIZED")
