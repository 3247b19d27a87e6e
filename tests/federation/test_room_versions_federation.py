"""Rooms of the older versions across servers: make_join/send_join, invites, /send,
state, redactions and backfill speak each version's event format.

spec: server-server-api.md, "Joining Rooms" (the joining server names v1/v2 events
itself), "Inviting to a room", "Transactions"; rooms/v1.md … v9.md. The first tests run
two homeservers in this process; the last one two real ``parleyd`` processes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from federation.rooms.versions import KNOWN_ROOM_VERSIONS
from tests.federation.harness import federated_homeservers
from tests.federation.test_backfill import page_back_all
from tests.federation.test_parleyd_processes import parleyd_processes, user_on
from tests.federation.test_three_servers import (
    WAIT_S,
    has_body,
    has_membership,
    is_joined,
    join_via,
    message_history,
    wait_until_converged,
)
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until

V3 = "/_matrix/client/v3"


async def topic_of(client: MatrixHttp, room_id: str) -> str | None:
    status, body = await client.status_of("GET", f"{V3}/rooms/{q(room_id)}/state/m.room.topic")
    return body.get("topic") if status == 200 else None


async def chat_in_version(alice: MatrixHttp, bob: MatrixHttp, server_of_alice: str,
                          version: str) -> str:
    """alice creates a public room of ``version``; bob joins from his server; both talk."""
    room_id = await alice.create_room(room_version=version, preset="public_chat", name="v" + version)
    await join_via(bob, room_id, server_of_alice)
    await sync_until(bob, None, is_joined(room_id), within=WAIT_S)
    await sync_until(alice, None, has_membership(room_id, bob.user_id or "", "join"), within=WAIT_S)
    await alice.send(room_id, f"v{version} from alice")
    await sync_until(bob, None, has_body(room_id, f"v{version} from alice"), within=WAIT_S)
    await bob.send(room_id, f"v{version} from bob")
    await sync_until(alice, None, has_body(room_id, f"v{version} from bob"), within=WAIT_S)
    return room_id


@pytest.mark.parametrize("version", ["1", "2", "3", "4", "5", "6", "7", "8", "9"])
async def test_remote_join_chat_state_and_redaction(tmp_path: Path, version: str) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await chat_in_version(alice, bob, hs1.server_name, version)

        # Power given as a string (rooms/fragments/v1-stringy-power-levels.md, v1-v9) on
        # hs1 lets bob set the topic on hs2, and hs1 accepts it.
        levels = await alice.request("GET", f"{V3}/rooms/{q(room_id)}/state/m.room.power_levels")
        levels["users"][bob.user_id] = "50"
        await alice.send_state(room_id, "m.room.power_levels", levels)
        await wait_until_converged([alice, bob], room_id, within=WAIT_S)
        await bob.send_state(room_id, "m.room.topic", {"topic": "set on hs2"})
        await wait_until_converged([alice, bob], room_id, within=WAIT_S)
        assert await topic_of(alice, room_id) == "set on hs2"

        # bob redacts his own line: v1/v2 rule 11.2 (same event ID server), v3+ "Handling
        # redactions" (same sender server); alice's server applies it.
        line = [eid for eid, body in await message_history(alice, room_id) if body == f"v{version} from bob"]
        await bob.request("PUT", f"{V3}/rooms/{q(room_id)}/redact/{q(line[0])}/r1", {})
        # hs1 applies a redaction after notifying its clients of it; a later PDU of the room
        # is handled after that, so once it is seen the redaction has been applied.
        await bob.send(room_id, "after the redaction")
        history, _ = await wait_until_converged([alice, bob], room_id, within=WAIT_S)
        assert [body for _, body in history] == [f"v{version} from alice", "", "after the redaction"]

        # The event as hs1 stored it: hs2's PDU in its version's format, keeping hs2's ID.
        stored = await hs1.hs.events.get_event(line[0])
        assert stored is not None and stored.room_version is KNOWN_ROOM_VERSIONS[version]
        if stored.room_version.event_id_in_pdu:
            assert line[0].endswith(":" + hs2.server_name)
            assert stored.pdu["event_id"] == line[0]
            assert all(isinstance(ref, list) for ref in stored.pdu["prev_events"])


@pytest.mark.parametrize("version", ["1", "3"])
async def test_invite_of_a_remote_user(tmp_path: Path, version: str) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(room_version=version, preset="private_chat")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=WAIT_S)
        await bob.join(room_id)
        await sync_until(bob, None, is_joined(room_id), within=WAIT_S)
        await alice.send(room_id, "invited and joined")
        await sync_until(bob, None, has_body(room_id, "invited and joined"), within=WAIT_S)


@pytest.mark.parametrize("version", ["1", "3"])
async def test_joined_server_backfills_the_history_before_its_join(tmp_path: Path, version: str) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(room_version=version, preset="public_chat")
        sent = [f"old {i}" for i in range(30)]
        for body in sent:
            await alice.send(room_id, body)
        await join_via(bob, room_id, hs1.server_name)
        events = await page_back_all(bob, room_id, limit=10)
        bodies = [e["content"].get("body") for e in reversed(events) if e["type"] == "m.room.message"]
        assert bodies == sent


def _invited(room_id: str) -> Any:
    return lambda r: room_id in r.get("rooms", {}).get("invite", {})


def _left(room_id: str) -> Any:
    return lambda r: room_id in r.get("rooms", {}).get("leave", {})


@pytest.mark.parametrize("version", ["1", "3"])
@pytest.mark.parametrize("resident_up", [True, False], ids=["make_leave", "resident-down"])
async def test_rejecting_an_invite(tmp_path: Path, version: str, resident_up: bool) -> None:
    """Through make_leave/send_leave (a v1 template filled in and named by hs2), or, with the
    inviting server down, by a leave built here on top of the invite (its reference hash)."""
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(room_version=version, preset="private_chat")
        await alice.invite(room_id, bob.user_id or "")
        _, token = await sync_until(bob, None, _invited(room_id), within=WAIT_S)
        if not resident_up:
            await hs1.stop()
        await bob.leave(room_id)
        await sync_until(bob, token, _left(room_id), within=WAIT_S)
        if resident_up:
            await sync_until(alice, None, has_membership(room_id, bob.user_id or "", "leave"),
                             within=WAIT_S)


@pytest.mark.slow
@pytest.mark.parametrize("version", ["1", "3"])
async def test_two_parleyd_processes_share_a_room_of_version(tmp_path: Path, version: str) -> None:
    """v1: state resolution v1 and server-named events; v3: v2 resolution, base64 IDs."""
    async with parleyd_processes(tmp_path, 2) as processes, ClientSession() as session:
        p1, p2 = processes
        alice = await user_on(session, p1, "alice")
        bob = await user_on(session, p2, "bob")
        room_id = await chat_in_version(alice, bob, p1.server_name, version)
        levels = await alice.request("GET", f"{V3}/rooms/{q(room_id)}/state/m.room.power_levels")
        levels["users"][bob.user_id] = 50
        await alice.send_state(room_id, "m.room.power_levels", levels)
        await wait_until_converged([alice, bob], room_id, within=WAIT_S)

        # Both servers change the topic and talk at once: the graph forks, and each
        # server resolves the two topics with the version's algorithm, to the same one.
        await asyncio.gather(
            alice.send_state(room_id, "m.room.topic", {"topic": "alice's"}),
            bob.send_state(room_id, "m.room.topic", {"topic": "bob's"}),
            *(alice.send(room_id, f"alice {i}") for i in range(3)),
            *(bob.send(room_id, f"bob {i}") for i in range(3)),
        )
        await alice.send(room_id, "after the fork")
        await sync_until(bob, None, has_body(room_id, "after the fork"), within=WAIT_S)
        history, _ = await wait_until_converged([alice, bob], room_id, within=WAIT_S,
                                                    same_order=False)
        assert sorted(body for _, body in history) == sorted([
            f"v{version} from alice", f"v{version} from bob", "after the fork",
            *(f"alice {i}" for i in range(3)), *(f"bob {i}" for i in range(3))])
        assert await topic_of(alice, room_id) == await topic_of(bob, room_id)
        assert await topic_of(alice, room_id) in ("alice's", "bob's")
        create = await bob.request("GET", f"{V3}/rooms/{q(room_id)}/state/m.room.create")
        assert create["room_version"] == version
