"""The SDK against a real Parley homeserver on a loopback port."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest

from clients.sdk import AsyncClient, MatrixRequestError
from clients.sdk.backoff import Backoff
from tests.conftest import RunningHomeserver

WAIT = 10.0


@pytest.fixture
async def clients(homeserver: RunningHomeserver) -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    alice = AsyncClient(homeserver.base_url, backoff=Backoff(initial=0.05, maximum=0.5))
    bob = AsyncClient(homeserver.base_url, backoff=Backoff(initial=0.05, maximum=0.5))
    await alice.register("alice", "correct horse")
    await bob.register("bob", "battery staple")
    yield alice, bob
    await alice.close()
    await bob.close()


class Syncing:
    """Runs a client's sync loop in the background for the duration of a test."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsyncClient:
        self.task = asyncio.create_task(self.client.sync_forever(timeout_ms=5000, stop=self.stop))
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, WAIT)


async def test_register_and_whoami(clients: tuple[AsyncClient, AsyncClient]) -> None:
    alice, _ = clients
    me = await alice.whoami()
    assert me.user_id == alice.user_id == "@alice:localhost"
    assert me.device_id == alice.device_id


async def test_login_then_logout_invalidates_token(homeserver: RunningHomeserver) -> None:
    async with AsyncClient(homeserver.base_url) as first:
        await first.register("carol", "pw-carol")
    async with AsyncClient(homeserver.base_url) as client:
        session = await client.login("carol", "pw-carol")
        assert session.user_id == "@carol:localhost"
        await client.logout()
        client.transport.access_token = session.access_token
        with pytest.raises(MatrixRequestError) as err:
            await client.whoami()
        assert err.value.status == 401 and err.value.errcode == "M_UNKNOWN_TOKEN"


async def test_wrong_password_is_forbidden(homeserver: RunningHomeserver) -> None:
    async with AsyncClient(homeserver.base_url) as client:
        await client.register("dave", "right")
    async with AsyncClient(homeserver.base_url) as client:
        with pytest.raises(MatrixRequestError) as err:
            await client.login("dave", "wrong")
        assert err.value.errcode == "M_FORBIDDEN"


async def test_two_users_chat(clients: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = clients
    room_id = await alice.create_room(name="Lounge", topic="chit-chat", invite=[bob.user_id])  # type: ignore[list-item]
    received: list[str] = []
    bob.callbacks.on_message(lambda room, event: received.append(event["content"]["body"]))
    invited = asyncio.Event()
    bob.callbacks.on_invite(lambda room, event: invited.set())
    async with Syncing(bob), Syncing(alice):
        await asyncio.wait_for(invited.wait(), WAIT)
        assert bob.state is not None and bob.state.rooms[room_id].inviter == alice.user_id
        await bob.join(room_id)
        await alice.send_text(room_id, "hello bob")
        await bob.wait_until(lambda: "hello bob" in received, WAIT)
        await bob.send_text(room_id, "hi alice")
        assert alice.state is not None
        await alice.wait_until(
            lambda: any(i.body == "hi alice" for i in alice.state.rooms[room_id].timeline), WAIT  # type: ignore[union-attr]
        )
        room = alice.state.rooms[room_id]
        assert room.display_name == "Lounge" and room.topic == "chit-chat"
        assert {m.user_id for m in room.joined_members} == {alice.user_id, bob.user_id}
        assert room.power_level(alice.user_id) == math.inf  # type: ignore[arg-type]  # v12 creator
        assert room.power_level(bob.user_id) == 0  # type: ignore[arg-type]
        assert room.unread >= 1


async def test_reply_edit_reaction_and_redaction_fold_into_timeline(
    clients: tuple[AsyncClient, AsyncClient],
) -> None:
    alice, bob = clients
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    original = await alice.send_text(room_id, "teh plan")
    await alice.send_edit(room_id, original, "the plan")
    reaction = await bob.send_reaction(room_id, original, "👍")
    await alice.send_reaction(room_id, original, "🎉")
    reply = await bob.send_reply(room_id, original, "sounds good")
    await alice.redact(room_id, await alice.send_reaction(room_id, original, "👀"))
    await bob.redact(room_id, reaction)
    await alice.sync_once()
    assert alice.state is not None
    timeline = alice.state.rooms[room_id].timeline
    item = timeline.get(original)
    assert item is not None and item.body == "the plan" and item.edited
    assert item.reaction_counts() == {"🎉": 1}
    reply_item = timeline.get(reply)
    assert reply_item is not None and reply_item.in_reply_to == original


async def test_send_retried_with_same_txn_id_is_stored_once(
    clients: tuple[AsyncClient, AsyncClient],
) -> None:
    alice, _ = clients
    room_id = await alice.create_room()
    first = await alice.send_text(room_id, "only once", txn_id="fixed-txn")
    second = await alice.send_text(room_id, "only once", txn_id="fixed-txn")
    assert first == second
    page = await alice.room_messages(room_id, limit=50)
    bodies = [e["content"].get("body") for e in page.chunk if e["type"] == "m.room.message"]
    assert bodies.count("only once") == 1


async def test_history_pagination_walks_back_to_the_start(
    clients: tuple[AsyncClient, AsyncClient],
) -> None:
    alice, _ = clients
    room_id = await alice.create_room()
    for n in range(25):
        await alice.send_text(room_id, f"msg {n}")
    seen: list[str] = []
    token: str | None = None
    while True:
        page = await alice.room_messages(room_id, start=token, limit=10)
        seen += [e["content"]["body"] for e in page.chunk if e["type"] == "m.room.message"]
        if page.end is None:
            break
        token = page.end
    assert seen == [f"msg {n}" for n in reversed(range(25))]


async def test_paginate_back_fills_the_room_timeline(
    clients: tuple[AsyncClient, AsyncClient],
) -> None:
    alice, _ = clients
    alice.sync_filter = {"room": {"timeline": {"limit": 3}}}
    room_id = await alice.create_room()
    for n in range(8):
        await alice.send_text(room_id, f"m{n}")
    await alice.sync_once()
    assert alice.state is not None
    room = alice.state.rooms[room_id]
    assert [i.body for i in room.timeline] == ["m5", "m6", "m7"]
    await alice.paginate_back(room_id, limit=20)
    assert [i.body for i in room.timeline] == [f"m{n}" for n in range(8)]


async def test_membership_changes_kick_ban_leave(clients: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = clients
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await alice.kick(room_id, bob.user_id, "out")  # type: ignore[arg-type]
    await bob.join(room_id)
    await bob.sync_once()
    await alice.ban(room_id, bob.user_id)  # type: ignore[arg-type]
    with pytest.raises(MatrixRequestError) as err:
        await bob.join(room_id)
    assert err.value.status == 403
    await bob.sync_once()
    assert bob.state is not None and bob.state.rooms[room_id].my_membership == "ban"
    await alice.leave(room_id)


async def test_alias_resolves_to_room(clients: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = clients
    room_id = await alice.create_room(alias_localpart="town-square", preset="public_chat")
    assert await bob.resolve_alias("#town-square:localhost") == room_id
    assert await bob.join("#town-square:localhost") == room_id


async def test_space_with_child(clients: tuple[AsyncClient, AsyncClient]) -> None:
    alice, _ = clients
    space = await alice.create_space("Team")
    child = await alice.create_room(name="general")
    await alice.add_space_child(space, child)
    await alice.sync_once()
    assert alice.state is not None
    model = alice.state.rooms[space]
    assert model.is_space and set(model.space_children) == {child}
    assert model.space_children[child]["via"] == ["localhost"]


async def test_knock_on_knockable_room(clients: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = clients
    room_id = await alice.create_room(
        extra={"initial_state": [{"type": "m.room.join_rules", "content": {"join_rule": "knock"}}]}
    )
    assert await bob.knock(room_id, "let me in") == room_id
    members = await alice.room_members(room_id)
    assert any(e["state_key"] == bob.user_id and e["content"]["membership"] == "knock" for e in members)
