"""A server that was down catches up: same history, same current state on all three.

spec: server-server-api.md, "Transactions" (a sending server retries a transaction
until the destination answers) and "Backfilling and retrieving missing events"
(a receiver fills gaps in the graph with /get_missing_events). While one server is
stopped, the other two keep talking and change the room's state; once it is back,
the durable queues of both deliver what it missed and every server ends with the
same /messages and the same /state.
"""

from __future__ import annotations

from pathlib import Path

from tests.federation.harness import federated_homeservers
from tests.federation.test_three_servers import (
    WAIT_S,
    has_body,
    has_membership,
    is_joined,
    join_via,
    message_history,
    three_members,
    wait_until_converged,
)
from tests.http_client import MatrixHttp
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
