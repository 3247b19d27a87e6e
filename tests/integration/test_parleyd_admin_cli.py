"""`parleyd admin` subcommands run as subprocesses against a real `parleyd` subprocess."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import joined_room, sync_until
from tests.integration.test_moderation import unban_of
from tests.parleyd_process import REPO, WAIT_S, Parleyd

V3 = "/_matrix/client/v3"
CLI_TIMEOUT_S = 60.0


class AdminCli:
    def __init__(self, server: Parleyd) -> None:
        self.server = server

    async def run(self, *args: str, expect_rc: int = 0) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "homeserver.app.cli", "admin", "--config", str(self.server.config), *args,
            cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT_S)
        assert proc.returncode == expect_rc, (args, out.decode(), err.decode())
        return out.decode() if expect_rc == 0 else err.decode()

    async def json(self, *args: str) -> Any:
        return json.loads(await self.run("--json", *args))


@pytest.fixture
async def parleyd(tmp_path: Path) -> AsyncIterator[Parleyd]:
    server = Parleyd(tmp_path)
    await server.init()
    await server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.returncode is None:
            await server.stop()


@pytest.fixture
async def cli(parleyd: Parleyd) -> AdminCli:
    admin = AdminCli(parleyd)
    out = await admin.run("create-admin", "root")
    assert "@root:localhost is an admin" in out
    return admin


async def login(session: ClientSession, server: Parleyd, user: str, password: str) -> MatrixHttp:
    api = MatrixHttp(session, server.base_url)
    await api.login(user, password)
    return api


async def test_create_admin_writes_a_private_token_file(parleyd: Parleyd, cli: AdminCli) -> None:
    token_file = parleyd.data / "admin_token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = json.loads(token_file.read_text())
    assert saved["user_id"] == "@root:localhost"
    async with ClientSession() as session:
        api = MatrixHttp(session, parleyd.base_url, saved["access_token"])
        version = await api.request("GET", "/_synapse/admin/v1/server_version")
        assert version["server_version"].startswith("Parley")


async def test_users_rooms_messages_and_notices(parleyd: Parleyd, cli: AdminCli) -> None:
    assert "created @alice:localhost" in await cli.run("user", "add", "alice", "--password", "pw1",
                                                       "--displayname", "Alice")
    await cli.run("user", "add", "alice", "--password", "pw1", expect_rc=1)
    users = await cli.json("users")
    assert {"@root:localhost", "@alice:localhost"} <= {u["name"] for u in users["users"]}
    await cli.run("user", "modify", "alice", "--password", "pw2", "--admin")
    assert (await cli.json("users", "--name", "alice"))["users"][0]["admin"] is True

    created = await cli.json("create-room", "Lobby", "--alias", "lobby", "--public")
    room_id = created["room_id"]
    assert room_id in await cli.run("rooms")
    async with ClientSession() as session:
        alice = await login(session, parleyd, "alice", "pw2")
        await alice.join("#lobby:localhost")
        await alice.send(room_id, "hello from alice")
        messages = await cli.run("messages", "#lobby:localhost", "--since", "1h")
        assert "@alice:localhost\tm.room.message\thello from alice" in messages

        sent = await cli.json("notice", "alice", "Please read the rules")
        invited, _ = await sync_until(alice, None, lambda r: bool(r.get("rooms", {}).get("invite")))
        (notice_room,) = invited["rooms"]["invite"].keys()
        await alice.join(notice_room)
        event = await alice.request("GET", f"{V3}/rooms/{q(notice_room)}/event/{q(sent['event_id'])}")
        assert event["content"]["body"] == "Please read the rules"


async def test_kick_unkick_ban_knocks_and_kill(parleyd: Parleyd, cli: AdminCli) -> None:
    await cli.run("user", "add", "alice", "--password", "pw")
    await cli.run("user", "add", "bob", "--password", "pw")
    room_id = (await cli.json("create-room", "Town square", "--alias", "square", "--public"))["room_id"]
    async with ClientSession() as session:
        alice = await login(session, parleyd, "alice", "pw")
        bob = await login(session, parleyd, "bob", "pw")
        await alice.join(room_id)
        await bob.join(room_id)
        _, since = await sync_until(alice, None, lambda r: bool(joined_room(r, room_id)))

        # A temporary kick of 0.01 minutes (600 ms) lifts itself.
        assert "kicked @bob:localhost until" in await cli.run("kick", "bob", "#square:localhost", "--minutes", "0.01")
        await sync_until(alice, since, unban_of("@bob:localhost", room_id), within=WAIT_S)
        await bob.join(room_id)

        await cli.run("kick", "bob", room_id, "--minutes", "60", "--reason", "flooding")
        member = await alice.get_state(room_id, "m.room.member", "@bob:localhost")
        assert member == {"membership": "ban", "reason": "flooding"}
        await cli.run("unkick", "bob", room_id)
        await bob.join(room_id)

        await cli.run("ban", "@bob:localhost", room_id, "--reason", "spam")
        assert (await alice.get_state(room_id, "m.room.member", "@bob:localhost"))["membership"] == "ban"
        await cli.run("unban", "bob", room_id)
        assert (await alice.get_state(room_id, "m.room.member", "@bob:localhost"))["membership"] == "leave"

        knock_room = await alice.create_room(initial_state=[
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}
        ])
        await bob.request("POST", f"{V3}/knock/{q(knock_room)}", {"reason": "hi"})
        assert "@bob:localhost\thi" in await cli.run("knocks", knock_room)
        await cli.run("accept", knock_room, "bob")
        await bob.join(knock_room)

        assert "deactivated @bob:localhost" in await cli.run("kill", "bob")
        status, body = await bob.status_of("GET", f"{V3}/account/whoami")
        assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
        status, body = await MatrixHttp(session, parleyd.base_url).status_of(
            "POST", f"{V3}/login",
            body={"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"}, "password": "pw"},
        )
        assert (status, body["errcode"]) == (403, "M_USER_DEACTIVATED")

        # kill can be undone: a new password, and bob logs in again.
        assert "reactivated @bob:localhost" in await cli.run("reactivate", "bob", "--password", "pw again")
        await login(session, parleyd, "bob", "pw again")
        await cli.run("reactivate", "nobody", "--password", "x", expect_rc=1)


async def test_kick_or_ban_of_a_user_who_does_not_exist_is_an_error(parleyd: Parleyd, cli: AdminCli) -> None:
    room_id = (await cli.json("create-room", "Quiet", "--alias", "quiet"))["room_id"]
    err = await cli.run("kick", "ghost", room_id, "--minutes", "5", expect_rc=1)
    assert "@ghost:localhost" in err
    await cli.run("ban", "ghost", room_id, expect_rc=1)
    # Remote users can still be banned before they ever come.
    await cli.run("ban", "@spammer:elsewhere.example", room_id)


async def test_users_shows_who_is_online(parleyd: Parleyd, cli: AdminCli) -> None:
    await cli.run("user", "add", "carol", "--password", "pw")
    await cli.run("user", "add", "dave", "--password", "pw")
    async with ClientSession() as session:
        carol = await login(session, parleyd, "carol", "pw")
        await carol.request("PUT", f"{V3}/presence/{q('@carol:localhost')}/status", {"presence": "online"})
        users = {u["name"]: u["presence"] for u in (await cli.json("users"))["users"]}
        assert users["@carol:localhost"] == "online"
        assert users["@dave:localhost"] == "offline"
        assert "@carol:localhost\t-\tactive\tonline" in await cli.run("users")


async def test_ip_bans_and_shutdown(parleyd: Parleyd, cli: AdminCli) -> None:
    assert "banned 203.0.113.9" in await cli.run("ipban", "203.0.113.9", "--reason", "abuse")
    assert "203.0.113.9\tabuse" in await cli.run("ipbans")
    await cli.run("ipban", "not-an-address", expect_rc=1)
    assert "banned 10.0.0.0/8" in await cli.run("ipban", "10.0.0.0/8")
    await cli.run("ipunban", "10.0.0.0/8")
    await cli.run("ipunban", "203.0.113.9")
    assert "(no IP bans)" in await cli.run("ipbans")

    assert "shutting down" in await cli.run("shutdown")
    assert parleyd.process is not None
    assert await asyncio.wait_for(parleyd.process.wait(), WAIT_S) == 0


async def test_without_a_token_the_cli_explains_what_to_do(parleyd: Parleyd) -> None:
    err = await AdminCli(parleyd).run("users", expect_rc=1)
    assert "create-admin" in err
