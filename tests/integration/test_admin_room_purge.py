"""Admin room deletion with purge (Synapse's Delete Room API, docs/admin.md).

After a purge no row of the database names the room except its block; former members
are out of it; the server keeps working (aliases can be reused, restarts are clean);
``new_room_user_id`` moves the local users to a new room; other servers keep their copy
of a federated room and see our users leave.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from homeserver.errors import MatrixError as HomeserverMatrixError
from homeserver.errors import forbidden
from homeserver.services.admin.room_purge import RoomDeletion
from homeserver.storage.database import Database
from homeserver.storage.room_purge import ROOM_KEYED_TABLES, PurgeResult
from tests.conftest import RunningHomeserver
from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until, timeline_of
from tests.integration.test_admin_users import S1, S2, V3, expect_error, make_admin
from tests.integration.test_parleyd_admin_cli import AdminCli
from tests.parleyd_process import Parleyd

pytestmark = pytest.mark.asyncio


def tables_mentioning(db_path: str, needle: str) -> dict[str, int]:
    """table -> number of rows with a column that contains ``needle`` (every table, FTS shadows too)."""
    found: dict[str, int] = {}
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            count = 0
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                if any(
                    (isinstance(v, str) and needle in v) or (isinstance(v, bytes) and needle.encode() in v)
                    for v in row
                ):
                    count += 1
            if count:
                found[table] = count
    finally:
        conn.close()
    return found


async def search(client: MatrixHttp, term: str) -> list[dict[str, Any]]:
    body = await client.request(
        "POST", f"{V3}/search", {"search_categories": {"room_events": {"search_term": term}}}
    )
    return body["search_categories"]["room_events"]["results"]


async def delete_room(homeserver: RunningHomeserver, admin: MatrixHttp, room_id: str,
                      **body: Any) -> dict[str, Any]:
    """DELETE v2, wait for the background task, return the final delete_status."""
    started = await admin.request("DELETE", f"{S2}/rooms/{q(room_id)}", body)
    await asyncio.wait_for(homeserver.hs.room_purge.wait_idle(), 30)
    return await admin.request("GET", f"{S2}/rooms/delete_status/{started['delete_id']}")


async def busy_room(alice: MatrixHttp, bob: MatrixHttp, alias: str) -> str:
    """A room with history in every table a room touches: messages, relations, receipts,
    tags, room account data, a report, search index rows, push actions."""
    room_id = await alice.create_room(preset="public_chat", room_alias_name=alias, name="Doomed room",
                                      topic="about zebras", visibility="public")
    await bob.join(room_id)
    first = await alice.send(room_id, "zebras are striped @bob")
    await bob.send(room_id, {"m.relates_to": {"rel_type": "m.annotation", "event_id": first, "key": "👍"}},
                   event_type="m.reaction")
    await bob.send(room_id, {"msgtype": "m.text", "body": "thread reply",
                             "m.relates_to": {"rel_type": "m.thread", "event_id": first}})
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/receipt/m.read/{q(first)}", {})
    await bob.request("PUT", f"{V3}/user/{q(bob.user_id or '')}/rooms/{q(room_id)}/tags/u.work", {"order": 0.5})
    await bob.request("PUT", f"{V3}/user/{q(bob.user_id or '')}/rooms/{q(room_id)}/account_data/x.note",
                      {"note": "hi"})
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/report/{q(first)}", {"reason": "zebras"})
    await bob.request("PUT", f"{V3}/rooms/{q(room_id)}/typing/{q(bob.user_id or '')}",
                      {"typing": True, "timeout": 30000})
    return room_id


async def test_purge_leaves_no_row_about_the_room_but_its_block(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await busy_room(alice, bob, "doomed")
    await asyncio.wait_for(homeserver.hs.search.flush(), 10)
    assert len(await search(bob, "zebras")) == 2  # the message and the topic
    assert "events" in tables_mentioning(homeserver.hs.db.path, room_id)

    status = await delete_room(homeserver, admin, room_id, block=True)

    assert status["status"] == "complete", status
    assert sorted(status["shutdown_room"]["kicked_users"]) == ["@alice:localhost", "@bob:localhost"]
    assert status["shutdown_room"]["local_aliases"] == ["#doomed:localhost"]
    assert tables_mentioning(homeserver.hs.db.path, room_id) == {"blocked_rooms": 1}
    assert await search(bob, "zebras") == []
    await expect_error(admin.request("GET", f"{S1}/rooms/{q(room_id)}"), 404, "M_NOT_FOUND")
    assert await admin.request("GET", f"{S1}/rooms/{q(room_id)}/block") == {
        "block": True, "user_id": "@admin:localhost"
    }
    await expect_error(bob.join(room_id), 403, "M_FORBIDDEN")
    assert room_id not in homeserver.hs.events._rooms


async def test_delete_status_goes_from_purging_to_complete(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    seen: list[str] = []
    store = homeserver.hs.room_purge.store
    original = store.purge_room

    async def observing_purge(purged_room: str) -> PurgeResult:
        seen.extend(s["status"] for s in homeserver.hs.room_purge.statuses_for_room(purged_room))
        return await original(purged_room)

    store.purge_room = observing_purge  # type: ignore[method-assign,assignment]
    status = await delete_room(homeserver, admin, room_id)
    assert seen == ["purging"]
    assert status["status"] == "complete"
    by_room = await admin.request("GET", f"{S2}/rooms/{q(room_id)}/delete_status")
    assert [r["status"] for r in by_room["results"]] == ["complete"]


async def test_former_members_sync_shows_them_out(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await bob.send(room_id, "hello")
    _, token = await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("join", {}))

    status = await delete_room(homeserver, admin, room_id)
    assert status["status"] == "complete"

    initial = await bob.sync()
    assert room_id not in initial.get("rooms", {}).get("join", {})
    # A client that had not synced since the deletion hears of the leave (the event itself is purged).
    incremental = await bob.sync(since=token)
    assert room_id not in incremental.get("rooms", {}).get("join", {})
    left = incremental["rooms"]["leave"][room_id]["timeline"]["events"]
    assert [(e["type"], e["state_key"], e["content"]["membership"]) for e in left] == [
        ("m.room.member", bob.user_id, "leave")
    ]
    # ... once: from the next token on, the room is gone.
    later = await bob.sync(since=incremental["next_batch"])
    assert room_id not in later.get("rooms", {}).get("leave", {})
    assert room_id not in (await bob.request("GET", f"{V3}/joined_rooms"))["joined_rooms"]
    code, _ = await bob.status_of("GET", f"{V3}/rooms/{q(room_id)}/messages")
    assert code in (403, 404)
    # The server still serves Bob normally.
    other = await bob.create_room()
    await bob.send(other, "still here")


async def test_alias_of_a_purged_room_can_be_reused(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    old_room = await alice.create_room(preset="public_chat", room_alias_name="reused", visibility="public")
    # v1 answers once the room is purged.
    result = await admin.request("DELETE", f"{S1}/rooms/{q(old_room)}", {})
    assert result == {"kicked_users": ["@alice:localhost"], "failed_to_kick_users": [],
                      "local_aliases": ["#reused:localhost"], "new_room_id": None}
    assert tables_mentioning(homeserver.hs.db.path, old_room) == {}
    new_room = await alice.create_room(preset="public_chat", room_alias_name="reused", visibility="public")
    resolved = await alice.request("GET", f"{V3}/directory/room/{q('#reused:localhost')}")
    assert resolved["room_id"] == new_room
    public = await alice.request("GET", f"{V3}/publicRooms")
    assert [r["room_id"] for r in public["chunk"]] == [new_room]


async def test_unknown_room_is_404_unless_it_is_only_blocked(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    missing = "!nothere:localhost"
    await expect_error(admin.request("DELETE", f"{S1}/rooms/{q(missing)}", {}), 404, "M_NOT_FOUND")
    result = await admin.request("DELETE", f"{S1}/rooms/{q(missing)}", {"block": True})
    assert result == {"kicked_users": [], "failed_to_kick_users": [], "local_aliases": [], "new_room_id": None}
    assert (await admin.request("GET", f"{S1}/rooms/{q(missing)}/block"))["block"] is True


async def test_new_room_user_id_moves_members_and_invites(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    carol = await homeserver.register("carol")
    room_id = await alice.create_room(preset="public_chat", room_alias_name="moved")
    await bob.join(room_id)
    await alice.invite(room_id, carol.user_id or "")

    status = await delete_room(homeserver, admin, room_id, new_room_user_id=admin.user_id,
                               room_name="Closed", message="This room was closed")

    assert status["status"] == "complete", status
    new_room = status["shutdown_room"]["new_room_id"]
    assert new_room and new_room != room_id
    assert sorted(status["shutdown_room"]["kicked_users"]) == ["@alice:localhost", "@bob:localhost",
                                                               "@carol:localhost"]
    for member in (alice, bob):
        joined = (await member.request("GET", f"{V3}/joined_rooms"))["joined_rooms"]
        assert joined == [new_room]
    invites = (await carol.sync()).get("rooms", {}).get("invite", {})
    assert list(invites) == [new_room]
    bodies = [e["content"].get("body") for e in (await bob.messages(new_room, dir="b"))["chunk"]
              if e["type"] == "m.room.message"]
    assert bodies == ["This room was closed"]
    assert (await bob.get_state(new_room, "m.room.name"))["name"] == "Closed"
    # Synapse: members of the new room may not speak, and the aliases follow the users.
    await expect_error(bob.send(new_room, "hi"), 403, "M_FORBIDDEN")
    resolved = await bob.request("GET", f"{V3}/directory/room/{q('#moved:localhost')}")
    assert resolved["room_id"] == new_room
    assert tables_mentioning(homeserver.hs.db.path, room_id) == {}


async def test_new_room_user_id_must_be_a_local_user(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    for owner in ("@nobody:localhost", "@alice:elsewhere.example"):
        await expect_error(
            admin.request("DELETE", f"{S2}/rooms/{q(room_id)}", {"new_room_user_id": owner}), 400, "M_INVALID_PARAM"
        )
    assert (await alice.request("GET", f"{V3}/joined_rooms"))["joined_rooms"] == [room_id]


async def test_restart_after_a_purge_is_clean(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (server,):
        admin = await make_admin(server)
        alice = await server.register("alice")
        bob = await server.register("bob")
        room_id = await busy_room(alice, bob, "gone")
        kept = await alice.create_room(name="Kept")
        await alice.send(kept, "kept message")
        await delete_room(server, admin, room_id, block=True)

        await server.restart()

        assert tables_mentioning(server.hs.db.path, room_id) == {"blocked_rooms": 1}
        await expect_error(admin.request("GET", f"{S1}/rooms/{q(room_id)}"), 404, "M_NOT_FOUND")
        assert (await admin.request("GET", f"{S1}/rooms/{q(room_id)}/block"))["block"] is True
        synced = await alice.sync()
        assert list(synced["rooms"]["join"]) == [kept]
        assert [e["content"]["body"] for e in timeline_of(synced, kept) if e["type"] == "m.room.message"] == [
            "kept message"
        ]
        await alice.send(kept, "after restart")
        fresh = await alice.create_room(room_alias_name="gone")
        assert (await alice.request("GET", f"{V3}/directory/room/{q('#gone:' + server.server_name)}"))[
            "room_id"] == fresh


async def test_federated_room_other_server_keeps_history_and_sees_leaves(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        admin = await make_admin(hs1)
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat")
        await bob.request("POST", f"{V3}/join/{q(room_id)}", {}, params={"server_name": hs1.server_name})
        _, token = await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("join", {}), within=15.0)
        await alice.send(room_id, "history to keep")
        _, token = await sync_until(
            bob, token, lambda r: any(e["content"].get("body") == "history to keep" for e in timeline_of(r, room_id)),
            within=15.0,
        )

        status = await delete_room(hs1, admin, room_id)
        assert status["status"] == "complete", status
        assert status["shutdown_room"]["kicked_users"] == [alice.user_id]

        def alice_left(response: dict[str, Any]) -> bool:
            return any(e["type"] == "m.room.member" and e.get("state_key") == alice.user_id
                       and e["content"].get("membership") == "leave" for e in timeline_of(response, room_id))

        await sync_until(bob, token, alice_left, within=15.0)
        bodies = [e["content"].get("body") for e in (await bob.messages(room_id, dir="b", limit=50))["chunk"]
                  if e["type"] == "m.room.message"]
        assert "history to keep" in bodies
        assert (await bob.request("GET", f"{V3}/rooms/{q(room_id)}/joined_members"))["joined"].keys() == {
            bob.user_id
        }
        assert tables_mentioning(hs1.hs.db.path, room_id) == {}
        # Bob's server goes on using the room.
        await bob.send(room_id, "still talking")


async def test_purge_stops_while_a_local_user_stays_unless_forced(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    hs = homeserver.hs

    def bob_cannot_leave(room: Any, sender: str, event_type: str, content: dict[str, Any],
                         state_key: str | None) -> None:
        if room.room_id == room_id and sender == bob.user_id and content.get("membership") == "leave":
            raise forbidden("bob is stuck")

    hs.events.add_send_check(bob_cannot_leave)
    status = await delete_room(homeserver, admin, room_id)
    assert status["status"] == "failed"
    assert "@bob:localhost" in status["error"]
    assert status["shutdown_room"]["failed_to_kick_users"] == ["@bob:localhost"]
    assert "events" in tables_mentioning(hs.db.path, room_id)

    status = await delete_room(homeserver, admin, room_id, force_purge=True)
    assert status["status"] == "complete"
    assert tables_mentioning(hs.db.path, room_id) == {}
    assert room_id not in (await bob.request("GET", f"{V3}/joined_rooms"))["joined_rooms"]


async def test_a_purged_server_notices_room_is_replaced_by_the_next_notice(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    notice = {"msgtype": "m.text", "body": "first notice"}
    await admin.request("POST", f"{S1}/send_server_notice", {"user_id": alice.user_id, "content": notice})
    old_room = next(iter((await alice.sync())["rooms"]["invite"]))

    status = await delete_room(homeserver, admin, old_room)
    assert status["status"] == "complete"
    # The invite to a notices room cannot be rejected: it goes with the purge.
    assert status["shutdown_room"]["failed_to_kick_users"] == ["@alice:localhost"]
    assert tables_mentioning(homeserver.hs.db.path, old_room) == {}

    notice = {"msgtype": "m.text", "body": "second notice"}
    await admin.request("POST", f"{S1}/send_server_notice", {"user_id": alice.user_id, "content": notice})
    invites = (await alice.sync())["rooms"]["invite"]
    assert list(invites) != [old_room] and len(invites) == 1


async def test_every_table_with_a_room_id_column_is_purged(tmp_path: Path) -> None:
    """A guard for new migrations: a table naming rooms must be purged (or be the block list)."""
    db = Database(tmp_path / "schema.db")
    await db.open()
    try:
        tables = [r[0] for r in await db.fetchall(
            "tables", "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'event_search_%'"
        )]
        with_room_id = set()
        for table in tables:
            columns = {r[1] for r in await db.fetchall("columns", f'PRAGMA table_info("{table}")')}
            if "room_id" in columns:
                with_room_id.add(table)
    finally:
        await db.close()
    purged_elsewhere = {"state_groups"}  # deleted before the room-keyed tables, with their entries
    assert with_room_id - set(ROOM_KEYED_TABLES) - purged_elsewhere == {"blocked_rooms"}


async def test_a_purge_that_fails_midway_leaves_the_whole_room(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await busy_room(alice, bob, "atomic")
    hs = homeserver.hs
    # `rooms` is the last table the purge clears: fail there, after every other delete ran.
    await hs.db.execute(
        "test_fail_purge",
        "CREATE TRIGGER test_fail_purge BEFORE DELETE ON rooms BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
    )
    status = await delete_room(homeserver, admin, room_id, purge=False)
    assert status["status"] == "complete"
    before = tables_mentioning(hs.db.path, room_id)
    with pytest.raises(Exception, match="disk on fire"):
        await hs.room_purge.purge(room_id)
    assert tables_mentioning(hs.db.path, room_id) == before
    assert {"events", "state_groups", "current_state", "room_memberships", "event_search_content"} <= set(before)

    await hs.db.execute("test_fail_purge", "DROP TRIGGER test_fail_purge")
    status = await delete_room(homeserver, admin, room_id)
    assert status["status"] == "complete"
    assert tables_mentioning(hs.db.path, room_id) == {}


async def test_purge_goes_on_when_another_server_is_down(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        admin = await make_admin(hs1)
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat")
        await bob.request("POST", f"{V3}/join/{q(room_id)}", {}, params={"server_name": hs1.server_name})
        await alice.send(room_id, "before the outage")
        await sync_until(
            bob, None, lambda r: any(e["content"].get("body") == "before the outage" for e in timeline_of(r, room_id)),
            within=15.0,
        )
        await hs2.stop()
        hs1.hs.room_purge.leave_delivery_timeout = 0.5

        status = await delete_room(hs1, admin, room_id)

        assert status["status"] == "complete", status
        assert tables_mentioning(hs1.hs.db.path, room_id) == {}
        await hs2.start()
        bodies = [e["content"].get("body") for e in (await bob.messages(room_id, dir="b", limit=50))["chunk"]
                  if e["type"] == "m.room.message"]
        assert "before the outage" in bodies


async def test_parleyd_admin_delete_room_purges(tmp_path: Path) -> None:
    server = Parleyd(tmp_path)
    await server.init()
    await server.start()
    try:
        cli = AdminCli(server)
        await cli.run("create-admin", "root")
        async with ClientSession() as session:
            alice = MatrixHttp(session, server.base_url)
            await alice.register("alice")
            room_id = await alice.create_room(preset="public_chat", room_alias_name="cli")
            await alice.send(room_id, "purge me")
            out = await cli.run("delete-room", "#cli:localhost", "--block")
            assert out.strip() == f"deleted {room_id}: 1 local users removed"
            assert room_id not in (await alice.request("GET", f"{V3}/joined_rooms"))["joined_rooms"]
        db_path = next(server.data.glob("homeserver.db"))
        assert tables_mentioning(str(db_path), room_id) == {"blocked_rooms": 1}
    finally:
        if server.process is not None and server.process.returncode is None:
            await server.stop()


async def test_a_second_deletion_while_one_runs_is_refused(homeserver: RunningHomeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    service = homeserver.hs.room_purge
    # Straight to the service: over HTTP the first deletion could finish before the second arrives.
    first = await service.start_deletion(room_id, admin.user_id or "", RoomDeletion())
    with pytest.raises(HomeserverMatrixError) as refused:
        await service.start_deletion(room_id, admin.user_id or "", RoomDeletion())
    assert (refused.value.status, refused.value.errcode) == (400, "M_UNKNOWN")
    await asyncio.wait_for(service.wait_idle(), 30)
    assert (await admin.request("GET", f"{S2}/rooms/delete_status/{first}"))["status"] == "complete"
