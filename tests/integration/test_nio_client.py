"""matrix-nio, an independent client library, works against Parley.

The raw-HTTP tests check the spec as we read it; this checks that a widely used
client's reading agrees: registration, login, rooms, invites, messages through
nio's own sync and pagination, state, typing and redaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    MessageDirection,
    RegisterResponse,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomInviteResponse,
    RoomMessagesResponse,
    RoomMessageText,
    RoomPutStateResponse,
    RoomRedactResponse,
    RoomSendResponse,
    SyncResponse,
)

from tests.conftest import RunningHomeserver

WAIT_S = 10.0
PASSWORD = "nio's password"


def client_for(homeserver: RunningHomeserver, user: str, store: Path) -> AsyncClient:
    store.mkdir(parents=True, exist_ok=True)
    config = AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)
    return AsyncClient(homeserver.base_url, user, store_path=str(store), config=config)


@pytest.fixture
async def nio_pair(homeserver: RunningHomeserver, tmp_path: Path) -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    alice = client_for(homeserver, "alice", tmp_path / "alice")
    bob = client_for(homeserver, "bob", tmp_path / "bob")
    for client, name in ((alice, "alice"), (bob, "bob")):
        # Our server asks for the m.login.dummy stage first, as the spec allows.
        response = await client.register(name, PASSWORD)
        assert isinstance(response, RegisterResponse), response
    try:
        yield alice, bob
    finally:
        await alice.close()
        await bob.close()


async def sync_until(client: AsyncClient, done: Callable[[], bool]) -> None:
    """Long-poll with nio until `done()` holds (the server wakes us; no sleeping)."""
    async with asyncio.timeout(WAIT_S):
        while not done():
            response = await client.sync(timeout=5000)
            assert isinstance(response, SyncResponse), response


async def test_nio_register_then_login_with_password(homeserver: RunningHomeserver, tmp_path: Path,
                                                      nio_pair: tuple[AsyncClient, AsyncClient]) -> None:
    fresh = client_for(homeserver, "alice", tmp_path / "alice-2")
    try:
        response = await fresh.login(PASSWORD, device_name="second device")
        assert isinstance(response, LoginResponse), response
        assert fresh.user_id == "@alice:localhost"
        assert fresh.device_id and fresh.device_id != nio_pair[0].device_id
    finally:
        await fresh.close()


async def test_nio_users_exchange_messages_in_an_invite_only_room(nio_pair: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = nio_pair
    created = await alice.room_create(name="nio room", topic="interop")
    assert isinstance(created, RoomCreateResponse), created
    room_id = created.room_id
    invited = await alice.room_invite(room_id, bob.user_id)
    assert isinstance(invited, RoomInviteResponse), invited

    await sync_until(bob, lambda: room_id in bob.invited_rooms)
    joined = await bob.join(room_id)
    assert isinstance(joined, JoinResponse), joined

    bob_seen: list[str] = []
    alice_seen: list[str] = []

    def collect(into: list[str]) -> Callable[[object, object], None]:
        def callback(_room: object, event: object) -> None:
            if isinstance(event, RoomMessageText):
                into.append(event.body)
        return callback

    bob.add_event_callback(collect(bob_seen), RoomMessageText)  # type: ignore[arg-type]
    alice.add_event_callback(collect(alice_seen), RoomMessageText)  # type: ignore[arg-type]

    sent = await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "hi bob"})
    assert isinstance(sent, RoomSendResponse), sent
    await sync_until(bob, lambda: "hi bob" in bob_seen)
    await bob.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "hi alice"})
    await sync_until(alice, lambda: "hi alice" in alice_seen)

    room = alice.rooms[room_id]
    assert room.name == "nio room" and room.topic == "interop"
    assert set(room.users) == {alice.user_id, bob.user_id}
    assert bob.rooms[room_id].display_name == "nio room"


async def test_nio_paginates_history_with_room_messages(nio_pair: tuple[AsyncClient, AsyncClient]) -> None:
    alice, _ = nio_pair
    room_id = (await alice.room_create()).room_id  # type: ignore[union-attr]
    for i in range(25):
        await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": f"n{i}"})
    first = await alice.sync(timeout=0)
    assert isinstance(first, SyncResponse)
    token = first.rooms.join[room_id].timeline.prev_batch
    bodies: list[str] = [e.body for e in first.rooms.join[room_id].timeline.events if isinstance(e, RoomMessageText)]
    async with asyncio.timeout(WAIT_S):
        while token:
            page = await alice.room_messages(room_id, start=token, limit=7)
            assert isinstance(page, RoomMessagesResponse), page
            bodies[:0] = [e.body for e in reversed(page.chunk) if isinstance(e, RoomMessageText)]
            if not page.chunk or page.end is None:
                break
            token = page.end
    assert bodies == [f"n{i}" for i in range(25)]

    forward = await alice.room_messages(room_id, start="", direction=MessageDirection.front, limit=100)
    assert isinstance(forward, RoomMessagesResponse), forward
    assert [e.body for e in forward.chunk if isinstance(e, RoomMessageText)] == [f"n{i}" for i in range(25)]


async def test_nio_puts_and_gets_state(nio_pair: tuple[AsyncClient, AsyncClient]) -> None:
    alice, _ = nio_pair
    room_id = (await alice.room_create()).room_id  # type: ignore[union-attr]
    put = await alice.room_put_state(room_id, "m.room.topic", {"topic": "set by nio"})
    assert isinstance(put, RoomPutStateResponse), put
    one = await alice.room_get_state_event(room_id, "m.room.topic")
    assert isinstance(one, RoomGetStateEventResponse), one
    assert one.content == {"topic": "set by nio"}
    everything = await alice.room_get_state(room_id)
    assert isinstance(everything, RoomGetStateResponse), everything
    assert {"m.room.create", "m.room.topic", "m.room.member"} <= {e["type"] for e in everything.events}


async def test_nio_sees_typing_notifications(nio_pair: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = nio_pair
    room_id = (await alice.room_create(invite=[bob.user_id])).room_id  # type: ignore[union-attr]
    await bob.join(room_id)
    await bob.sync(timeout=0)
    await alice.room_typing(room_id, typing_state=True, timeout=30_000)
    await sync_until(bob, lambda: room_id in bob.rooms and alice.user_id in bob.rooms[room_id].typing_users)
    await alice.room_typing(room_id, typing_state=False)
    await sync_until(bob, lambda: alice.user_id not in bob.rooms[room_id].typing_users)


async def test_nio_redaction_reaches_the_other_client(nio_pair: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = nio_pair
    room_id = (await alice.room_create(invite=[bob.user_id])).room_id  # type: ignore[union-attr]
    await bob.join(room_id)
    sent = await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "oops"})
    assert isinstance(sent, RoomSendResponse)
    redacted = await alice.room_redact(room_id, sent.event_id, reason="typo")
    assert isinstance(redacted, RoomRedactResponse), redacted
    page = await bob.room_messages(room_id, start="", limit=10)
    assert isinstance(page, RoomMessagesResponse), page
    ours = [e for e in page.chunk if e.event_id == sent.event_id]
    assert ours and type(ours[0]).__name__ == "RedactedEvent"
