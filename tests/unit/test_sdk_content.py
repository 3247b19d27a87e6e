"""Event content builders, media descriptions and the sync token store."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from PIL import Image

from clients.sdk import content, media
from clients.sdk.store import JsonFileSyncStore


def test_edit_content_has_fallback_and_new_content() -> None:
    assert content.edit("$1", "new") == {
        "msgtype": "m.text", "body": "* new",
        "m.new_content": {"msgtype": "m.text", "body": "new"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$1"},
    }


def test_reply_and_reaction_relations() -> None:
    assert content.reply("$1", "ok")["m.relates_to"] == {"m.in_reply_to": {"event_id": "$1"}}
    assert content.reaction("$1", "👍") == {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$1", "key": "👍"}}
    assert content.emote("waves")["msgtype"] == "m.emote"
    assert content.notice("bot")["msgtype"] == "m.notice"


def test_direct_with_adds_once_without_mutating() -> None:
    original = {"@b:hs": ["!1"]}
    updated = content.direct_with(original, "@b:hs", "!2")
    assert updated == {"@b:hs": ["!1", "!2"]} and original == {"@b:hs": ["!1"]}
    assert content.direct_with(updated, "@b:hs", "!2") == updated


def test_png_is_described_as_image_with_dimensions() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 34)).save(buffer, format="PNG")
    data = buffer.getvalue()
    described = media.describe("photo.png", data)
    assert described.msgtype == "m.image"
    assert described.info == {"size": len(data), "mimetype": "image/png", "w": 12, "h": 34}


def test_image_mimetype_from_magic_bytes_without_extension() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG")
    assert media.describe("blob", buffer.getvalue()).msgtype == "m.image"


def test_other_files_by_mimetype() -> None:
    assert media.describe("notes.txt", b"hi").msgtype == "m.file"
    assert media.describe("song.mp3", b"ID3").msgtype == "m.audio"
    assert media.describe("clip.mp4", b"\x00").msgtype == "m.video"
    # Claims to be an image but is not one Pillow can read: sent as a plain file.
    assert media.describe("fake.png", b"not an image").msgtype == "m.file"


def test_json_store_round_trip_is_private(tmp_path: Path) -> None:
    store = JsonFileSyncStore(tmp_path / "sub" / "sync.json")
    assert store.load_token() is None
    store.save_token("s1")
    store.save_token("s2")
    assert JsonFileSyncStore(tmp_path / "sub" / "sync.json").load_token() == "s2"
    assert stat.S_IMODE(os.stat(tmp_path / "sub" / "sync.json").st_mode) == 0o600


def test_json_store_ignores_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "sync.json"
    path.write_text("{not json")
    assert JsonFileSyncStore(path).load_token() is None
