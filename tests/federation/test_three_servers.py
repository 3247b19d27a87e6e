"""Three servers in one room: a conversation, and memberships changed across servers.

spec: server-server-api.md, "Transactions" (every server in the room receives the
room's events), "Joining Rooms" (a resident broadcasts the join), "Inviting to a
room" and client-server-api.md "Room membership" (kicks and bans are member events
that the target's server must receive, and a banned user cannot join again).

The helpers here (membership and history checks) are shared by the outage and
real-process tests of this directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until

Response = dict[str, Any]
WAIT_S = 15.0


# --- shared helpers --------------------------------------------------------------------
def room_events(response: Response, room_id: str) -> list[Response]:
    """Timeline and state events of a room in any section of a /sync response."""
    events: list[Response] = []
    for section in ("join", "leave"):
        room = response.get("rooms", {}).get(section, {}).get(room_id, {})
        events += room.get("state", {}).get("events", []) + room.get("timeline", {}).get("events", [])
    return events


def has_membership(room_id: str, user_id: str, membership: str) -> Callable[[Response], bool]:
    def found(response: Response) -> bool:
        return any(e["type"] == "m.room.member" and e.get("state_key") == user_id
                   and e["content"].get("membership") == membership for e in room_events(response, room_id))
    return found


def has_body(room_id: str, body: str) -> Callable[[Response], bool]:
    def found(response: Response) -> bool:
        return any(e["type"] == "m.room.message" and e["content"].get("body") == body
                   for e in room_events(response, room_id))
    return found


def is_joined(room_id: str) -> Callable[[Response], bool]:
    return lambda response: room_id in response.get("rooms", {}).get("join", {})


async def join_via(client: MatrixHttp, room_id: str, server: str, expect: int = 200) -> Any:
    return await client.request("POST", f"/_matrix/client/v3/join/{q(room_id)}", {},
                                params={"via": server}, expect=expect)


async def membership_of(client: MatrixHttp, room_id: str, user_id: str) -> str | None:
    status, body = await client.status_of(
        "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.member/{q(user_id)}")
    return body.get("membership") if status == 200 else None


async def message_history(client: MatrixHttp, room_id: str) -> list[tuple[str, str]]:
    """(event_id, body) of every m.room.message in /messages, oldest first."""
    messages: list[tuple[str, str]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"dir": "b", "limit": 100}
        if token is not None:
            params["from"] = token
        page = await client.messages(room_id, **params)
        messages += [(e["event_id"], e["content"].get("body", "")) for e in page["chunk"]
                     if e["type"] == "m.room.message"]
        token = page.get("end")
        if not page["chunk"] or token is None:
            return list(reversed(messages))


async def current_state(client: MatrixHttp, room_id: str) -> set[tuple[str, str, str]]:
    """(type, state_key, event_id) of every event in the room's current state."""
    events = await client.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state")
    return {(e["type"], e["state_key"], e["event_id"]) for e in events}


async def wait_until_converged(clients: list[MatrixHttp], room_id: str, *, within: float = WAIT_S,
                               same_order: bool = True
                               ) -> tuple[list[tuple[str, str]], set[tuple[str, str, str]]]:
    """Wait until every client's /messages and /state of the room are identical.

    Between checks each client long-polls /sync, so a check runs again as soon as
    any of them receives something (no timers). Returns the agreed history and state.
    With ``same_order=False`` the histories need the same events only: concurrent
    events (a fork in the graph) have no order every server must agree on.
    """

    def agree(histories: list[list[tuple[str, str]]]) -> bool:
        keyed = histories if same_order else [sorted(h) for h in histories]
        return all(h == keyed[0] for h in keyed)

    tokens: list[str | None] = [None] * len(clients)

    async def next_change(index: int) -> None:
        response = await clients[index].sync(since=tokens[index], timeout=2000 if tokens[index] else 0)
        tokens[index] = response["next_batch"]

    async def loop() -> tuple[list[tuple[str, str]], set[tuple[str, str, str]]]:
        while True:
            histories = [await message_history(c, room_id) for c in clients]
            states = [await current_state(c, room_id) for c in clients]
            if agree(histories) and all(s == states[0] for s in states):
                return histories[0], states[0]
            pending = [asyncio.create_task(next_change(i)) for i in range(len(clients))]
            try:
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    try:
        return await asyncio.wait_for(loop(), within)
    except TimeoutError:
        histories = [await message_history(c, room_id) for c in clients]
        states = [sorted(await current_state(c, room_id)) for c in clients]
        raise AssertionError(f"no convergence within {within}s:\nhistories={histories}\nstates={states}") from None


async def three_members(servers: Any) -> tuple[list[MatrixHttp], str]:
    """alice@hs1 creates a public room; bob@hs2 joins via hs1, carol@hs3 via hs2."""
    hs1, hs2, hs3 = servers
    alice = await hs1.register("alice")
    bob = await hs2.register("bob")
    carol = await hs3.register("carol")
    room_id = await alice.create_room(preset="public_chat", name="Three servers")
    await join_via(bob, room_id, hs1.server_name)
    await sync_until(bob, None, is_joined(room_id), within=WAIT_S)
    await join_via(carol, room_id, hs2.server_name)
    for client in (alice, bob, carol):
        await sync_until(client, None, has_membership(room_id, carol.user_id or "", "join"), within=WAIT_S)
    return [alice, bob, carol], room_id


# --- tests ----------------------------------------------------------------------------------
async def test_users_on_three_servers_see_every_message_in_the_same_order(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as servers:
        clients, room_id = await three_members(servers)
        tokens: list[str | None] = [None, None, None]
        expected: list[str] = []
        # A conversation: each line is sent once every server has shown the one before.
        for turn in range(9):
            body = f"line {turn} from {clients[turn % 3].user_id}"
            await clients[turn % 3].send(room_id, body)
            expected.append(body)
            for index, client in enumerate(clients):
                _, tokens[index] = await sync_until(client, tokens[index], has_body(room_id, body), within=WAIT_S)

        history, state = await wait_until_converged(clients, room_id)
        assert [body for _, body in history] == expected
        members = {key for kind, key, _ in state if kind == "m.room.member"}
        assert members == {c.user_id for c in clients}


async def test_invites_and_joins_across_three_servers(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as (hs1, hs2, hs3):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        carol = await hs3.register("carol")
        room_id = await alice.create_room(preset="private_chat", name="Invite only")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=WAIT_S)
        await bob.join(room_id)
        await sync_until(bob, None, is_joined(room_id), within=WAIT_S)

        # bob (on hs2) invites carol (on hs3): hs2 builds the invite, hs1 must hear of it.
        await bob.invite(room_id, carol.user_id or "")
        await sync_until(carol, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=WAIT_S)
        await sync_until(alice, None, has_membership(room_id, carol.user_id or "", "invite"), within=WAIT_S)
        await carol.join(room_id)
        for client in (alice, bob, carol):
            await sync_until(client, None, has_membership(room_id, carol.user_id or "", "join"), within=WAIT_S)
        _, state = await wait_until_converged([alice, bob, carol], room_id)
        joined = {key for kind, key, _ in state if kind == "m.room.member"}
        assert joined == {alice.user_id, bob.user_id, carol.user_id}


async def test_kicked_remote_user_and_the_third_server_both_see_the_kick(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as servers:
        (alice, bob, carol), room_id = await three_members(servers)
        _, bob_token = await sync_until(bob, None, is_joined(room_id), within=WAIT_S)
        _, carol_token = await sync_until(carol, None, is_joined(room_id), within=WAIT_S)

        await alice.request("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/kick",
                            {"user_id": bob.user_id, "reason": "three-server kick"})
        response, _ = await sync_until(bob, bob_token, has_membership(room_id, bob.user_id or "", "leave"),
                                       within=WAIT_S)
        assert room_id in response["rooms"].get("leave", {})  # spec: a kicked user's room moves to leave
        await sync_until(carol, carol_token, has_membership(room_id, bob.user_id or "", "leave"), within=WAIT_S)

        # The room goes on without bob's server: carol's next line still reaches alice.
        await carol.send(room_id, "after the kick")
        await sync_until(alice, None, has_body(room_id, "after the kick"), within=WAIT_S)
        assert await membership_of(carol, room_id, bob.user_id or "") == "leave"


async def test_banned_remote_user_cannot_rejoin_through_any_resident(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as servers:
        hs1, hs2, hs3 = servers
        (alice, bob, carol), room_id = await three_members(servers)
        _, carol_token = await sync_until(carol, None, is_joined(room_id), within=WAIT_S)
        _, bob_token = await sync_until(bob, None, is_joined(room_id), within=WAIT_S)

        await alice.request("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/ban",
                            {"user_id": carol.user_id, "reason": "three-server ban"})
        await sync_until(carol, carol_token, has_membership(room_id, carol.user_id or "", "ban"), within=WAIT_S)
        await sync_until(bob, bob_token, has_membership(room_id, carol.user_id or "", "ban"), within=WAIT_S)

        # Neither the room's creator server nor the other resident lets carol back in.
        for resident in (hs1.server_name, hs2.server_name):
            body = await join_via(carol, room_id, resident, expect=403)
            assert body["errcode"] == "M_FORBIDDEN"
        for client in (alice, bob):
            assert await membership_of(client, room_id, carol.user_id or "") == "ban"
