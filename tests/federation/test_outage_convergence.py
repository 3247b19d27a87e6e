"""A server that was down catches up: same history, same current state on all three.

spec: server-server-api.md, "Transactions" (a sending server retries a transaction
until the destination answers) and "Backfilling and retrieving missing events"
(a receiver fills gaps in the graph with /get_missing_events). While one server is
stopped, the other two keep talking and change the room's state; once it is back,
the durable queues of both deliver what it missed and every server ends with the
same /messages and the same /state.

A lossy link (``LossyLink``) sits in front of one server: it passes a
transaction on but loses the 200, so the sender retries (with the same txnId) a
transaction the receiver already processed; nothing shows twice, and what was
queued behind it follows in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from tests.conftest import make_config
from tests.federation.harness import (
    LOOPBACK,
    FederatedHomeserver,
    bind_loopback_socket,
    federated_homeservers,
    federation_overrides,
)
from tests.federation.test_three_servers import (
    WAIT_S,
    has_body,
    has_membership,
    is_joined,
    join_via,
    membership_of,
    message_history,
    three_members,
    wait_until_converged,
)
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until

CONVERGE_S = 20.0


async def converse(first: MatrixHttp, second: MatrixHttp, room_id: str, lines: int, tag: str) -> list[str]:
    """``first`` and ``second`` take turns; each line is sent after the other saw the last one."""
    tokens: dict[int, str | None] = {id(first): None, id(second): None}
    sent: list[str] = []
    for turn in range(lines):
        speaker, listener = (first, second) if turn % 2 == 0 else (second, first)
        body = f"{tag} {turn}"
        await speaker.send(room_id, body)
        sent.append(body)
        _, tokens[id(listener)] = await sync_until(listener, tokens[id(listener)], has_body(room_id, body),
                                                   within=WAIT_S)
    return sent


async def test_stopped_server_converges_after_restart(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as servers:
        hs1, hs2, hs3 = servers
        (alice, bob, carol), room_id = await three_members(servers)
        before = await converse(alice, bob, room_id, 2, "before")
        await wait_until_converged([alice, bob, carol], room_id)

        await hs3.stop()
        during = await converse(alice, bob, room_id, 6, "during")
        await alice.send_state(room_id, "m.room.topic", {"topic": "changed while hs3 was down"})
        dave = await hs2.register("dave")
        await join_via(dave, room_id, hs1.server_name)
        await sync_until(alice, None, has_membership(room_id, dave.user_id or "", "join"), within=WAIT_S)
        await hs3.start()

        history, state = await wait_until_converged([alice, bob, carol], room_id, within=CONVERGE_S)
        assert [body for _, body in history] == before + during
        members = {key for kind, key, _ in state if kind == "m.room.member"}
        assert members == {alice.user_id, bob.user_id, carol.user_id, dave.user_id}
        topic = await carol.get_state(room_id, "m.room.topic")
        assert topic["topic"] == "changed while hs3 was down"


async def test_room_creators_server_catches_up_after_the_others_talked(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as servers:
        hs1, _hs2, _hs3 = servers
        (alice, bob, carol), room_id = await three_members(servers)

        await hs1.stop()
        during = await converse(bob, carol, room_id, 6, "without hs1")
        await hs1.start()

        history, _ = await wait_until_converged([alice, bob, carol], room_id, within=CONVERGE_S)
        assert [body for _, body in history] == during
        # hs1 takes part again: its next line reaches both other servers.
        _, carol_token = await sync_until(carol, None, is_joined(room_id), within=WAIT_S)
        await alice.send(room_id, "hs1 is back")
        await sync_until(bob, None, has_body(room_id, "hs1 is back"), within=WAIT_S)
        await sync_until(carol, carol_token, has_body(room_id, "hs1 is back"), within=WAIT_S)


async def test_restarted_server_speaking_before_it_caught_up_still_converges(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as servers:
        _hs1, _hs2, hs3 = servers
        (alice, bob, carol), room_id = await three_members(servers)

        await hs3.stop()
        during = await converse(alice, bob, room_id, 4, "missed")
        await hs3.start()
        # carol speaks at once: her event may fork from the stale tip hs3 still has.
        await carol.send(room_id, "carol is back")
        await sync_until(alice, None, has_body(room_id, "carol is back"), within=CONVERGE_S)

        # carol's line and the missed ones are concurrent: every server has all of them,
        # and the missed ones in the order they were said.
        await wait_until_converged([alice, bob, carol], room_id, within=CONVERGE_S, same_order=False)
        for client in (alice, bob, carol):
            bodies = [body for _, body in await message_history(client, room_id)]
            assert sorted(bodies) == sorted([*during, "carol is back"])
            assert [b for b in bodies if b.startswith("missed")] == during


async def test_user_kicked_while_their_server_was_down_learns_it_after_restart(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as servers:
        _hs1, _hs2, hs3 = servers
        (alice, bob, carol), room_id = await three_members(servers)
        _, carol_token = await sync_until(carol, None, is_joined(room_id), within=WAIT_S)

        await hs3.stop()
        await alice.request("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/kick",
                            {"user_id": carol.user_id, "reason": "while you were away"})
        await sync_until(bob, None, has_membership(room_id, carol.user_id or "", "leave"), within=WAIT_S)
        await hs3.start()

        # spec: the kick goes to the target's server too, although it has no joined member left.
        response, _ = await sync_until(carol, carol_token, has_membership(room_id, carol.user_id or "", "leave"),
                                       within=CONVERGE_S)
        assert room_id in response["rooms"].get("leave", {})
        assert await membership_of(carol, room_id, carol.user_id or "") == "leave"


class LossyLink:
    """A loopback proxy in front of a server; it may lose the answers to PUT /send."""

    def __init__(self, session: ClientSession) -> None:
        self.sock = bind_loopback_socket()
        self.server_name = f"{LOOPBACK}:{self.sock.getsockname()[1]}"
        self.session = session
        self.target_url = ""
        self.answers_to_lose = 0  # how many more 200s to PUT /send to lose
        self.lost_txn_ids: list[str] = []
        self.answer_lost = asyncio.Event()
        self.retried_txn_answered = asyncio.Event()  # a lost transaction, retried, got its 200
        self._server: TestServer | None = None

    async def start(self, target_url: str) -> None:
        self.target_url = target_url
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        sock = self.sock
        self._server = TestServer(app, host=LOOPBACK, socket_factory=lambda *_: sock)
        await self._server.start_server()

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        async with self.session.request(request.method, self.target_url + request.path_qs,
                                        data=body or None, headers=headers) as upstream:
            answer = await upstream.read()
            status = upstream.status
        is_send = request.method == "PUT" and request.path.startswith("/_matrix/federation/v1/send/")
        txn_id = request.path.rsplit("/", 1)[-1]
        if is_send and status == 200:
            if self.answers_to_lose > 0:
                self.answers_to_lose -= 1
                self.lost_txn_ids.append(txn_id)
                self.answer_lost.set()
                return web.json_response({"errcode": "M_UNKNOWN", "error": "lost on the way back"}, status=502)
            if txn_id in self.lost_txn_ids:
                self.retried_txn_answered.set()
        return web.Response(body=answer, status=status, content_type="application/json")


@asynccontextmanager
async def server_behind_link(tmp_path: Path, session: ClientSession
                             ) -> AsyncIterator[tuple[FederatedHomeserver, LossyLink]]:
    """A server named after the link's port: other servers reach it only through the link."""
    link = LossyLink(session)
    sock = bind_loopback_socket()
    config = make_config(tmp_path / "behind-link", link.server_name, **federation_overrides())
    server = FederatedHomeserver(config, sock, session)
    await server.start()
    try:
        await link.start(server.base_url)
        yield server, link
    finally:
        await link.close()
        await server.stop()


async def test_transaction_whose_answer_was_lost_is_retried_without_duplicates(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,), ClientSession() as session, \
            server_behind_link(tmp_path, session) as (hs2, link):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat")
        await join_via(bob, room_id, hs1.server_name)
        _, bob_token = await sync_until(bob, None, is_joined(room_id), within=WAIT_S)

        link.answers_to_lose = 1
        await alice.send(room_id, "lossy 0")
        # hs2 has it (the link passed it on) although hs1 never heard the 200.
        _, bob_token = await sync_until(bob, bob_token, has_body(room_id, "lossy 0"), within=WAIT_S)
        await asyncio.wait_for(link.answer_lost.wait(), WAIT_S)
        assert len(link.lost_txn_ids) == 1
        # Queued behind the unanswered transaction: one transaction in flight per destination.
        await alice.send(room_id, "lossy 1")
        await alice.send(room_id, "lossy 2")
        # hs1 retries the same transaction (after its backoff); hs2 answers it again.
        await asyncio.wait_for(link.retried_txn_answered.wait(), WAIT_S)

        await alice.send(room_id, "after the retry")
        await sync_until(bob, bob_token, has_body(room_id, "after the retry"), within=WAIT_S)
        history = [body for _, body in await message_history(bob, room_id)]
        assert history == ["lossy 0", "lossy 1", "lossy 2", "after the retry"]
