"""History visibility (spec: client-server-api/modules/history_visibility.md) over real HTTP.

The rules apply per event, with the visibility and the reader's membership *at
that event*, on /messages, /context, /event and the /sync timeline.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixError, MatrixHttp, q


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("alice")


@pytest.fixture
async def bob(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("bob")


async def room_with(alice: MatrixHttp, visibility: str) -> str:
    return await alice.create_room(
        preset="public_chat",
        initial_state=[{"type": "m.room.history_visibility", "content": {"history_visibility": visibility}}],
    )


def bodies(events: list[dict[str, Any]]) -> list[str]:
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


async def history(api: MatrixHttp, room_id: str) -> list[dict[str, Any]]:
    return (await api.messages(room_id, dir="b", limit=100))["chunk"]


async def test_joined_member_pages_only_from_their_join(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with(alice, "joined")
    await alice.send(room_id, "before bob")
    await bob.join(room_id)
    await alice.send(room_id, "after bob")
    chunk = await history(bob, room_id)
    assert bodies(chunk) == ["after bob"]
    # spec: the reader's own join is visible even though membership before it was not join.
    assert any(e["type"] == "m.room.member" and e["state_key"] == bob.user_id for e in chunk)


async def test_shared_member_pages_everything(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with(alice, "shared")
    await alice.send(room_id, "before bob")
    await bob.join(room_id)
    assert bodies(await history(bob, room_id)) == ["before bob"]


async def test_invited_visibility_shows_events_from_the_invite(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with(alice, "invited")
    await alice.send(room_id, "before invite")
    await alice.invite(room_id, bob.user_id)  # type: ignore[arg-type]
    await alice.send(room_id, "while invited")
    await bob.join(room_id)
    assert bodies(await history(bob, room_id)) == ["while invited"]


async def test_visibility_applies_as_it_was_when_each_event_was_sent(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with(alice, "joined")
    await alice.send(room_id, "hidden: joined era")
    await alice.send_state(room_id, "m.room.history_visibility", {"history_visibility": "shared"})
    await alice.send(room_id, "visible: shared era")
    await bob.join(room_id)
    assert bodies(await history(bob, room_id)) == ["visible: shared era"]


async def test_visibility_change_event_itself_is_visible(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with(alice, "joined")
    change = (await alice.send_state(room_id, "m.room.history_visibility", {"history_visibility": "shared"}))["event_id"]
    await bob.join(room_id)
    ids = [e["event_id"] for e in await history(bob, room_id)]
    assert change in ids


async def test_non_member_reads_world_readable_era_only(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with(alice, "shared")
    await alice.send(room_id, "members only")
    await alice.send_state(room_id, "m.room.history_visibility", {"history_visibility": "world_readable"})
    await alice.send(room_id, "for everyone")
    assert bodies(await history(bob, room_id)) == ["for everyone"]


async def test_context_of_event_before_join_is_not_found(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with(alice, "joined")
    early = await alice.send(room_id, "early")
    await bob.join(room_id)
    with pytest.raises(MatrixError) as err:
        await bob.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/context/{q(early)}")
    assert err.value.status == 404


async def test_context_omits_events_before_join(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with(alice, "joined")
    await alice.send(room_id, "early")
    await bob.join(room_id)
    late = await alice.send(room_id, "late")
    ctx = await bob.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/context/{q(late)}", params={"limit": "10"})
    assert "early" not in bodies(ctx["events_before"])


async def test_initial_sync_timeline_hides_events_before_join(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with(alice, "joined")
    await alice.send(room_id, "secret past")
    await bob.join(room_id)
    await alice.send(room_id, "welcome")
    sync = await bob.sync()
    timeline = sync["rooms"]["join"][room_id]["timeline"]["events"]
    assert bodies(timeline) == ["welcome"]
