"""`parley` as a person expects: bare user names, DMs by user, friends that can be declined and
removed, avatars from files, downloads under the server's file name, search with room names,
`--json` after the subcommand, and one-line errors. Subprocesses against a real server."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import RunningHomeserver
from tests.integration.test_cli import REPO, WAIT, Parley


@pytest.fixture
def parley(tmp_path: Path, homeserver: RunningHomeserver) -> Parley:
    return Parley(tmp_path / "config", homeserver)


def png(size: tuple[int, int] = (8, 8), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def one_line_error(err: str) -> bool:
    lines = err.strip().splitlines()
    return len(lines) == 1 and "Traceback" not in err


async def test_bare_names_mean_users_of_ones_own_server(parley: Parley) -> None:
    await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    await parley.ok("-p", "a", "create", "Club")
    invited = (await parley.ok("-p", "a", "--json", "invite", "Club", "bob")).json()
    assert invited["user_id"] == bob
    await parley.ok("-p", "b", "join", "Club")
    await parley.ok("-p", "b", "profile", "--displayname", "Bobby")
    shown = (await parley.ok("-p", "a", "--json", "profile", "--user", "bob")).json()
    assert (shown["user_id"], shown["displayname"]) == (bob, "Bobby")
    assert (await parley.ok("-p", "a", "--json", "profile", "--user", "@bob")).json()["user_id"] == bob


async def test_profile_of_a_missing_user_is_one_clear_line(parley: Parley) -> None:
    await parley.register("a", "alice")
    result = await parley("-p", "a", "profile", "--user", "nobody")
    assert result.code == 4
    assert one_line_error(result.err) and "no such user: @nobody:localhost" in result.err
    result = await parley("-p", "a", "profile", "--user", "@:")
    assert result.code == 2 and one_line_error(result.err)


async def test_send_to_a_user_uses_or_creates_the_dm(parley: Parley) -> None:
    alice = await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    first = (await parley.ok("-p", "a", "--json", "send", bob, "hello bob")).json()
    [request] = (await parley.ok("-p", "b", "--json", "friends")).json()
    assert (request["user_id"], request["status"], request["room_id"]) == (alice, "incoming", first["room_id"])
    again = (await parley.ok("-p", "a", "--json", "send", "@bob", "still there?")).json()
    assert again["room_id"] == first["room_id"]  # the same DM, no second request
    # bob answering alice by user ID accepts her request and lands in the same room.
    answer = (await parley.ok("-p", "b", "--json", "send", "@alice:localhost", "hi alice")).json()
    assert answer["room_id"] == first["room_id"]
    history = (await parley.ok("-p", "a", "--json", "history", first["room_id"])).json()
    assert [m["content"]["body"] for m in history] == ["hello bob", "still there?", "hi alice"]
    missing = await parley("-p", "a", "send", "@ghost", "boo")
    assert missing.code == 4 and "no such user: @ghost:localhost" in missing.err


async def test_friend_requests_to_nobody_or_oneself_leave_nothing_behind(parley: Parley) -> None:
    await parley.register("a", "alice")
    result = await parley("-p", "a", "friends", "add", "ghost")
    assert result.code == 4 and one_line_error(result.err) and "no such user: @ghost:localhost" in result.err
    result = await parley("-p", "a", "friends", "add", "alice")
    assert result.code == 2 and "yourself" in result.err
    assert (await parley.ok("-p", "a", "--json", "rooms")).json() == []
    assert (await parley.ok("-p", "a", "--json", "friends")).json() == []


async def test_friends_decline_and_remove(parley: Parley) -> None:
    alice = await parley.register("a", "alice")
    await parley.register("b", "bob")
    await parley.register("c", "carol")
    await parley.ok("-p", "a", "friends", "add", "bob")
    await parley.ok("-p", "b", "friends", "decline", "alice")
    assert (await parley.ok("-p", "b", "--json", "friends")).json() == []
    assert (await parley.ok("-p", "b", "--json", "rooms")).json() == []

    await parley.ok("-p", "c", "friends", "add", "alice")
    await parley.ok("-p", "a", "friends", "accept", "carol")
    assert [f["status"] for f in (await parley.ok("-p", "c", "--json", "friends")).json()] == ["contact"]
    removed = (await parley.ok("-p", "c", "--json", "friends", "remove", alice)).json()
    assert len(removed["rooms_left"]) == 1
    assert (await parley.ok("-p", "c", "--json", "friends")).json() == []
    assert (await parley.ok("-p", "c", "--json", "rooms")).json() == []
    assert (await parley("-p", "c", "friends", "remove", "alice")).code == 4


async def test_avatar_from_a_file_is_uploaded_and_shown_as_a_link(parley: Parley, tmp_path: Path) -> None:
    await parley.register("a", "alice")
    picture = tmp_path / "sun.png"
    picture.write_bytes(png())
    shown = (await parley.ok("-p", "a", "--json", "profile", "--avatar", str(picture))).json()
    assert shown["avatar_url"].startswith("mxc://localhost/")
    assert shown["avatar_http_url"].startswith(parley.homeserver.base_url + "/_matrix/media/v3/download/")
    human = (await parley.ok("-p", "a", "profile")).out
    assert shown["avatar_http_url"] in human
    # An mxc:// URI is still taken as is.
    again = (await parley.ok("-p", "a", "--json", "profile", "--avatar", shown["avatar_url"])).json()
    assert again["avatar_url"] == shown["avatar_url"]
    assert (await parley("-p", "a", "profile", "--avatar", str(tmp_path / "missing.png"))).code == 4


async def run_in(parley: Parley, cwd: Path, *args: str) -> tuple[int, str, str]:
    """parley run from `cwd` (where a download lands by default)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clients.cli.main", *args, cwd=cwd,
        env={**parley.env, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_download_uses_the_servers_file_name(parley: Parley, tmp_path: Path) -> None:
    await parley.register("a", "alice")
    room_id = (await parley.ok("-p", "a", "--json", "create", "Files")).json()["room_id"]
    source = tmp_path / "holiday photo.png"
    source.write_bytes(png())
    uri = (await parley.ok("-p", "a", "--json", "upload", room_id, str(source))).json()["content_uri"]
    workdir = tmp_path / "downloads"
    workdir.mkdir()
    code, out, err = await run_in(parley, workdir, "-p", "a", "download", uri, "--json")
    assert code == 0, err
    assert json.loads(out)["path"] == "holiday photo.png"
    assert (workdir / "holiday photo.png").read_bytes() == source.read_bytes()
    explicit = tmp_path / "mine.png"
    await parley.ok("-p", "a", "download", uri, "-o", str(explicit))
    assert explicit.read_bytes() == source.read_bytes()
    # A directory given with -o keeps the server's name inside it.
    await parley.ok("-p", "a", "download", uri, "-o", str(tmp_path))
    assert (tmp_path / "holiday photo.png").read_bytes() == source.read_bytes()


async def test_search_messages_shows_room_names(parley: Parley) -> None:
    await parley.register("a", "alice")
    await parley.ok("-p", "a", "create", "Garden")
    await parley.ok("-p", "a", "send", "Garden", "the tomatoes are ripe")
    found = (await parley.ok("-p", "a", "--json", "search", "--messages", "tomatoes")).json()
    assert [r["room_name"] for r in found] == ["Garden"]
    human = (await parley.ok("-p", "a", "search", "--messages", "tomatoes")).out
    assert human.startswith("Garden  @alice:localhost: the tomatoes are ripe") and "None" not in human


async def test_json_after_the_subcommand(parley: Parley) -> None:
    await parley.register("a", "alice")
    await parley.ok("-p", "a", "create", "Lounge")
    assert [r["name"] for r in (await parley.ok("-p", "a", "rooms", "--json")).json()] == ["Lounge"]
    assert (await parley.ok("-p", "a", "friends", "--json")).json() == []
    assert (await parley.ok("-p", "a", "--json", "rooms")).json()[0]["name"] == "Lounge"
    assert "Lounge" in (await parley.ok("-p", "a", "rooms")).out


async def test_connection_errors_are_one_line_naming_the_url(parley: Parley, homeserver: RunningHomeserver) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    url = f"http://127.0.0.1:{port}"
    result = await parley("-p", "a", "login", "alice", "-H", url, "--password-stdin", stdin="pw\n")
    assert result.code == 1
    assert one_line_error(result.err) and url in result.err and "cannot reach the homeserver" in result.err


async def test_encrypted_rooms_need_no_set_up_and_passphrase_errors_are_one_line(parley: Parley) -> None:
    await parley.register("a", "alice")  # no passphrase: the keys are sealed with a key file
    room_id = (await parley.ok("-p", "a", "--json", "create", "Secret", "--encrypted")).json()["room_id"]
    await parley.ok("-p", "a", "send", room_id, "sealed without asking anything")
    parley.env["PARLEY_CRYPTO_PASSPHRASE"] = "right horse"
    await parley.register("p", "pat")  # a passphrase chosen at registration seals pat's keys
    room_id = (await parley.ok("-p", "p", "--json", "create", "Secret", "--encrypted")).json()["room_id"]
    await parley.ok("-p", "p", "send", room_id, "sealed with the right passphrase")
    del parley.env["PARLEY_CRYPTO_PASSPHRASE"]
    result = await parley("-p", "p", "send", room_id, "psst")
    assert result.code == 2 and one_line_error(result.err) and "PARLEY_CRYPTO_PASSPHRASE" in result.err
    parley.env["PARLEY_CRYPTO_PASSPHRASE"] = "wrong horse"
    result = await parley("-p", "p", "send", room_id, "psst")
    assert result.code == 1 and one_line_error(result.err) and "wrong passphrase" in result.err
