"""Pure parts of the `parley` CLI and chat: composer commands, rendering, profiles, room matching."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from clients.cli.chat import render
from clients.cli.chat.commands import Command, CommandError, parse
from clients.cli.config import Credentials, ProfileStore, config_dir
from clients.cli.errors import CliError, ExitCode
from clients.cli.session import match_rooms
from clients.sdk import content
from clients.sdk.state import ClientState


@pytest.mark.parametrize(("typed", "expected"), [
    ("hello", Command("say", ("hello",))),
    ("  ", None),
    ("//not a command", Command("say", ("/not a command",))),
    ("/me waves hi", Command("me", ("waves hi",))),
    ("/kick @b:hs being rude", Command("kick", ("@b:hs", "being rude"))),
    ("/ban @b:hs", Command("ban", ("@b:hs",))),
    ("/TOPIC New topic", Command("topic", ("New topic",))),
    ("/leave", Command("leave", ())),
])
def test_composer_parsing(typed: str, expected: Command | None) -> None:
    assert parse(typed) == expected


@pytest.mark.parametrize("typed", ["/nope", "/invite", "/leave now", "/me"])
def test_composer_errors(typed: str) -> None:
    with pytest.raises(CommandError):
        parse(typed)


def _state() -> ClientState:
    s = ClientState("@me:hs")
    s.apply_sync({"rooms": {
        "join": {"!a": {"state": {"events": [
            {"type": "m.room.name", "state_key": "", "content": {"name": "Lounge"}, "sender": "@me:hs"},
            {"type": "m.room.member", "state_key": "@me:hs", "content": {"membership": "join"}, "sender": "@me:hs"},
            {"type": "m.room.member", "state_key": "@b:hs", "content": {"membership": "join", "displayname": "Bob"}, "sender": "@b:hs"},
        ]}, "timeline": {"events": [
            {"type": "m.room.message", "event_id": "$1", "sender": "@b:hs", "origin_server_ts": 0, "content": content.text("hi")},
            {"type": "m.room.message", "event_id": "$2", "sender": "@me:hs", "origin_server_ts": 0, "content": content.reply("$1", "hey")},
            {"type": "m.reaction", "event_id": "$3", "sender": "@b:hs", "origin_server_ts": 0, "content": content.reaction("$2", "👍")},
        ]}, "ephemeral": {"events": [{"type": "m.typing", "content": {"user_ids": ["@b:hs"]}}]}}},
        "invite": {"!i": {"invite_state": {"events": [
            {"type": "m.room.name", "state_key": "", "content": {"name": "Party"}, "sender": "@c:hs"},
            {"type": "m.room.member", "state_key": "@me:hs", "content": {"membership": "invite"}, "sender": "@c:hs"},
        ]}}},
    }})
    return s


def test_room_labels_show_unread_and_invites() -> None:
    s = _state()
    assert [render.room_label(r) for r in render.sorted_rooms(s)] == ["# Party [invite]", "# Lounge"]
    assert "invited you to Party" in render.timeline_text(s.rooms["!i"])


def test_timeline_rendering_of_replies_and_reactions() -> None:
    lines = render.timeline_text(_state().rooms["!a"]).splitlines()
    assert lines[0].endswith("Bob: hi")
    assert "↪ [Bob: hi] hey" in lines[1] and lines[1].endswith("👍1")


def test_typing_and_people() -> None:
    s = _state()
    assert render.typing_text(s.rooms["!a"], "@me:hs") == "Bob is typing…"
    assert render.people_text(s.rooms["!a"], s).splitlines() == ["○ @me:hs", "○ Bob"]


def test_room_names_match_case_insensitively() -> None:
    s = _state()
    assert [r.room_id for r in match_rooms(s.joined_rooms, "lounge")] == ["!a"]
    assert match_rooms(s.joined_rooms, "Loun") == []


def test_profiles_saved_private_and_listed(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "parley")
    creds = Credentials("http://127.0.0.1:8008", "@a:hs", "DEV", "secret-token")
    path = store.save("work", creds)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.load("work") == creds and store.names() == ["work"]
    assert store.delete("work") and store.load("work") is None


def test_missing_profile_means_not_logged_in(tmp_path: Path) -> None:
    with pytest.raises(CliError) as e:
        ProfileStore(tmp_path).require("default")
    assert e.value.code == ExitCode.NOT_LOGGED_IN


@pytest.mark.parametrize("name", ["../evil", ".hidden", "a/b", ""])
def test_bad_profile_names_are_usage_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(CliError) as e:
        ProfileStore(tmp_path).path(name)
    assert e.value.code == ExitCode.USAGE


def test_config_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PARLEY_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "parley"
    monkeypatch.setenv("PARLEY_CONFIG_DIR", str(tmp_path / "explicit"))
    assert config_dir() == tmp_path / "explicit"
    monkeypatch.delenv("PARLEY_CONFIG_DIR")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert config_dir() == Path(os.path.expanduser("~")) / ".config" / "parley"
