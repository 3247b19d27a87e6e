"""`parley` run as real subprocesses against a Parley homeserver on a loopback port.

The server runs in this process; the tests await the subprocesses asynchronously so
the server's event loop keeps serving them."""

from __future__ import annotations

import asyncio
import io
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import RunningHomeserver
from tests.integration.test_sdk_social import needs_account_data, needs_user_directory

REPO = Path(__file__).resolve().parents[2]
WAIT = 30.0


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Parley:
    def __init__(self, config_dir: Path, homeserver: RunningHomeserver) -> None:
        self.env = {**os.environ, "PARLEY_CONFIG_DIR": str(config_dir), "PYTHONUNBUFFERED": "1"}
        self.env.pop("PARLEY_PROFILE", None)
        self.homeserver = homeserver
        self.config_dir = config_dir

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "clients.cli.main", *args, cwd=REPO, env=self.env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )

    async def __call__(self, *args: str, stdin: str = "") -> Result:
        proc = await self.start(*args)
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), WAIT)
        assert proc.returncode is not None
        return Result(proc.returncode, out.decode(), err.decode())

    async def ok(self, *args: str, stdin: str = "") -> Result:
        result = await self(*args, stdin=stdin)
        assert result.code == 0, f"parley {' '.join(args)} -> {result.code}: {result.err}"
        return result

    async def register(self, profile: str, user: str) -> str:
        result = await self.ok("--profile", profile, "--json", "register", user, "--homeserver",
                               self.homeserver.base_url, "--password-stdin", stdin=f"pw-{user}\n")
        return str(result.json()["user_id"])


@pytest.fixture
def parley(tmp_path: Path, homeserver: RunningHomeserver) -> Parley:
    return Parley(tmp_path / "config", homeserver)


async def test_register_login_whoami_logout_with_profiles(parley: Parley) -> None:
    alice = await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    assert (await parley.ok("-p", "a", "--json", "whoami")).json()["user_id"] == alice
    assert (await parley.ok("-p", "b", "--json", "whoami")).json()["user_id"] == bob

    profile_file = parley.config_dir / "profiles" / "a.json"
    assert stat.S_IMODE(profile_file.stat().st_mode) == 0o600
    saved = json.loads(profile_file.read_text())
    assert set(saved) == {"homeserver", "user_id", "device_id", "access_token"}
    assert "pw-alice" not in profile_file.read_text()

    await parley.ok("-p", "a", "logout")
    assert not profile_file.exists()
    assert (await parley("-p", "a", "whoami")).code == 3
    result = await parley.ok("-p", "a", "--json", "login", "alice", "--homeserver",
                             parley.homeserver.base_url, "--password-stdin", stdin="pw-alice\n")
    assert result.json()["user_id"] == alice


async def test_exit_codes(parley: Parley) -> None:
    assert (await parley("whoami")).code == 3
    assert (await parley("no-such-command")).code == 2
    await parley.register("a", "alice")
    assert (await parley("-p", "a", "login", "alice", "-H", parley.homeserver.base_url,
                         "--password-stdin", stdin="wrong\n")).code == 1
    assert (await parley("-p", "a", "send", "#missing:localhost", "hi")).code == 4
    assert (await parley("-p", "a", "history", "No Such Room")).code == 4


async def test_send_history_by_name_alias_and_stdin(parley: Parley) -> None:
    await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Lounge", "--alias", "lounge",
                               "--public")).json()["room_id"]
    await parley.ok("-p", "b", "join", "#lounge:localhost")
    await parley.ok("-p", "a", "send", "Lounge", "hello from alice")
    await parley.ok("-p", "b", "send", room_id, "-", stdin="hello from bob\n")
    await parley.ok("-p", "b", "send", "--emote", "#lounge:localhost", "waves")

    history = (await parley.ok("-p", "a", "--json", "history", "Lounge", "-n", "2")).json()
    assert [(m["sender"], m["content"]["body"]) for m in history] == [(bob, "hello from bob"), (bob, "waves")]
    human = (await parley.ok("-p", "a", "history", "lounge", "-n", "3")).out.splitlines()
    # Without display names, members are shown by user ID (spec: "Calculating the display name for a user").
    assert human[0].endswith("@alice:localhost: hello from alice")
    assert human[2].endswith(f"* {bob} waves")


async def test_tail_follows_new_messages(parley: Parley) -> None:
    await parley.register("a", "alice")
    await parley.register("b", "bob")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Tails", "--public")).json()["room_id"]
    await parley.ok("-p", "b", "join", room_id)
    await parley.ok("-p", "b", "send", room_id, "old news")
    tail = await parley.start("-p", "a", "--json", "tail", room_id, "--count", "2", "--timeout", "20")
    # tail says on stderr when its first sync is done and it is following.
    assert tail.stderr is not None
    ready = await asyncio.wait_for(tail.stderr.readline(), WAIT)
    assert ready.startswith(b"Following Tails")
    for text in ("first new", "second new"):
        await parley.ok("-p", "b", "send", room_id, text)
    out, err = await asyncio.wait_for(tail.communicate(), WAIT)
    assert tail.returncode == 0, err.decode()
    bodies = [json.loads(line)["content"]["body"] for line in out.decode().splitlines()]
    assert bodies == ["first new", "second new"]


async def test_tail_timeout_exits_for_scripts(parley: Parley) -> None:
    await parley.register("a", "alice")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Quiet")).json()["room_id"]
    assert (await parley("-p", "a", "tail", room_id, "--timeout", "0.5")).code == 0
    assert (await parley("-p", "a", "tail", room_id, "--timeout", "0.5", "--count", "1")).code == 1


async def test_members_invite_kick_ban(parley: Parley) -> None:
    alice = await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    carol = await parley.register("c", "carol")
    await parley.ok("-p", "a", "create", "Club")
    await parley.ok("-p", "a", "invite", "Club", bob)
    rooms_b = (await parley.ok("-p", "b", "--json", "rooms")).json()
    assert [(r["name"], r["membership"], r["inviter"]) for r in rooms_b] == [("Club", "invite", alice)]
    await parley.ok("-p", "b", "join", "Club")
    await parley.ok("-p", "a", "invite", "Club", carol)
    members = {m["user_id"]: m for m in (await parley.ok("-p", "a", "--json", "members", "Club")).json()}
    assert members[alice]["power_level"] == "creator"
    assert (members[bob]["membership"], members[carol]["membership"]) == ("join", "invite")
    await parley.ok("-p", "a", "kick", "Club", bob, "--reason", "tidy up")
    await parley.ok("-p", "a", "ban", "Club", carol)
    members = {m["user_id"]: m["membership"] for m in (await parley.ok("-p", "a", "--json", "members", "Club")).json()}
    assert (members[bob], members[carol]) == ("leave", "ban")
    assert (await parley("-p", "c", "join", (await parley.ok("-p", "a", "--json", "rooms")).json()[0]["room_id"])).code == 1


async def test_rooms_shows_unread_and_leave(parley: Parley) -> None:
    await parley.register("a", "alice")
    await parley.register("b", "bob")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Busy", "--public")).json()["room_id"]
    await parley.ok("-p", "b", "join", room_id)
    await parley.ok("-p", "a", "send", room_id, "one")
    await parley.ok("-p", "a", "send", room_id, "two")
    [room] = (await parley.ok("-p", "b", "--json", "rooms")).json()
    assert (room["name"], room["unread"], room["members"]) == ("Busy", 2, 2)
    assert "Busy (2 unread)" in (await parley.ok("-p", "b", "rooms")).out
    await parley.ok("-p", "b", "leave", "Busy")
    assert (await parley.ok("-p", "b", "--json", "rooms")).json() == []


async def test_ambiguous_room_name_is_a_usage_error(parley: Parley) -> None:
    await parley.register("a", "alice")
    await parley.ok("-p", "a", "create", "Twin")
    await parley.ok("-p", "a", "create", "Twin")
    result = await parley("-p", "a", "send", "Twin", "which?")
    assert result.code == 2 and "several rooms" in result.err


@needs_account_data
async def test_friends_pending_request_then_contact(parley: Parley) -> None:
    alice = await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    assert (await parley.ok("-p", "a", "--json", "friends")).json() == []
    await parley.ok("-p", "a", "friends", "add", bob)
    [pending] = (await parley.ok("-p", "b", "--json", "friends")).json()
    assert (pending["user_id"], pending["status"]) == (alice, "incoming")
    [sent] = (await parley.ok("-p", "a", "--json", "friends")).json()
    assert (sent["user_id"], sent["status"]) == (bob, "outgoing")
    await parley.ok("-p", "b", "friends", "accept", alice)
    [contact] = (await parley.ok("-p", "a", "--json", "friends")).json()
    assert (contact["user_id"], contact["status"]) == (bob, "contact")
    # bob's CLI synced moments ago, which marks him online (spec: /sync set_presence default).
    assert contact["presence"] == "online"
    human = (await parley.ok("-p", "a", "friends")).out
    assert f"{bob} — online" in human
    assert (await parley("-p", "a", "friends", "accept", "@nobody:localhost")).code == 4


async def test_upload_then_download_is_byte_identical(parley: Parley, tmp_path: Path) -> None:
    await parley.register("a", "alice")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Files")).json()["room_id"]
    buffer = io.BytesIO()
    Image.new("RGB", (3, 4), (1, 2, 3)).save(buffer, format="PNG")
    source = tmp_path / "pic.png"
    source.write_bytes(buffer.getvalue())
    uploaded = (await parley.ok("-p", "a", "--json", "upload", room_id, str(source))).json()
    target = tmp_path / "copy.png"
    await parley.ok("-p", "a", "download", uploaded["content_uri"], "-o", str(target))
    assert target.read_bytes() == source.read_bytes()
    [message] = (await parley.ok("-p", "a", "--json", "history", room_id, "-n", "1")).json()
    assert message["content"]["msgtype"] == "m.image"
    assert message["content"]["info"] == {"size": len(buffer.getvalue()), "mimetype": "image/png", "w": 3, "h": 4}


@needs_user_directory
async def test_search_finds_user(parley: Parley) -> None:
    await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Meet", "--public")).json()["room_id"]
    await parley.ok("-p", "b", "join", room_id)
    results = (await parley.ok("-p", "a", "--json", "search", "bob")).json()
    assert bob in [r["user_id"] for r in results]
