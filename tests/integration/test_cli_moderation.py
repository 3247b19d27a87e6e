"""Rooms joined with approval, roles, deleting a message and changing one's password, from
`parley` subprocesses against a real server (spec: "Knocking on rooms", power levels, redactions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunningHomeserver
from tests.integration.test_cli import Parley
from tests.integration.test_cli_tty import run_at_terminal


@pytest.fixture
def parley(tmp_path: Path, homeserver: RunningHomeserver) -> Parley:
    return Parley(tmp_path / "config", homeserver)


async def test_knock_then_approve_lets_them_in(parley: Parley) -> None:
    await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Book Club", "--knock")).json()["room_id"]
    assert (await parley("-p", "b", "join", room_id)).code == 1  # knock rooms are not open
    await parley.ok("-p", "b", "knock", room_id, "--reason", "I read a lot")
    [request] = (await parley.ok("-p", "a", "--json", "requests", "Book Club")).json()
    assert (request["user_id"], request["reason"]) == (bob, "I read a lot")
    assert "I read a lot" in (await parley.ok("-p", "a", "requests", "Book Club")).out
    await parley.ok("-p", "a", "approve", "Book Club", "bob")
    assert (await parley.ok("-p", "a", "--json", "requests", "Book Club")).json() == []
    await parley.ok("-p", "b", "join", room_id)
    members = {m["user_id"]: m["membership"] for m in (await parley.ok("-p", "a", "--json", "members", room_id)).json()}
    assert members[bob] == "join"


async def test_refuse_kicks_the_knock_with_a_reason(parley: Parley) -> None:
    await parley.register("a", "alice")
    carol = await parley.register("c", "carol")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Quiet Room", "--knock")).json()["room_id"]
    await parley.ok("-p", "c", "knock", room_id)
    refused = (await parley.ok("-p", "a", "--json", "refuse", room_id, "carol", "--reason", "full")).json()
    assert (refused["user_id"], refused["action"]) == (carol, "refuse")
    members = {m["user_id"]: m["membership"] for m in (await parley.ok("-p", "a", "--json", "members", room_id)).json()}
    assert members[carol] == "leave"
    assert (await parley.ok("-p", "a", "--json", "requests", room_id)).json() == []
    # Approving or refusing someone who has not asked is "not found".
    assert (await parley("-p", "a", "approve", room_id, "carol")).code == 4


async def test_roles_set_power_levels(parley: Parley) -> None:
    await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Council", "--public")).json()["room_id"]
    await parley.ok("-p", "b", "join", room_id)

    async def power() -> object:
        members = (await parley.ok("-p", "a", "--json", "members", room_id)).json()
        return next(m["power_level"] for m in members if m["user_id"] == bob)

    for role, level in (("moderator", 50), ("admin", 100), ("member", 0)):
        await parley.ok("-p", "a", "role", room_id, "bob", role)
        assert await power() == level
    assert (await parley("-p", "a", "role", room_id, "bob", "emperor")).code == 2
    assert (await parley("-p", "b", "role", room_id, "alice", "member")).code == 1  # bob may not


async def test_delete_redacts_a_message(parley: Parley) -> None:
    await parley.register("a", "alice")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Oops")).json()["room_id"]
    event_id = (await parley.ok("-p", "a", "--json", "send", room_id, "my password is hunter2")).json()["event_id"]
    await parley.ok("-p", "a", "delete", room_id, event_id, "--reason", "typo")
    history = (await parley.ok("-p", "a", "--json", "history", room_id)).json()
    assert "hunter2" not in str(history)
    assert (await parley("-p", "a", "delete", room_id, "not-an-id")).code == 2


async def test_password_change_from_stdin(parley: Parley) -> None:
    await parley.register("a", "alice")
    wrong = await parley("-p", "a", "password", "--password-stdin", stdin="not it\nnew secret 1\n")
    assert wrong.code == 1 and "current password is wrong" in wrong.err
    await parley.ok("-p", "a", "password", "--password-stdin", stdin="pw-alice\nnew secret 1\n")
    assert (await parley("-p", "a", "login", "alice", "-H", parley.homeserver.base_url, "--password-stdin",
                         stdin="pw-alice\n")).code == 1
    await parley.ok("-p", "a", "login", "alice", "-H", parley.homeserver.base_url, "--password-stdin",
                    stdin="new secret 1\n")


async def test_password_change_at_a_terminal_asks_for_the_new_one_twice(
    homeserver: RunningHomeserver, tmp_path: Path
) -> None:
    await homeserver.register("dora", "old secret")
    code, out = await run_at_terminal(
        ["-p", "d", "login", "dora", "-H", homeserver.base_url], ["old secret"], tmp_path)
    assert code == 0, out
    code, out = await run_at_terminal(["-p", "d", "password"], ["old secret", "new one", "other one"], tmp_path)
    assert code == 2 and "do not match" in out
    code, out = await run_at_terminal(["-p", "d", "password"], ["old secret", "new one", "new one"], tmp_path)
    assert code == 0 and "Password changed" in out, out
