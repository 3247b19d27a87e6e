"""Encrypted attachments between real clients: the SDK and `parley chat` against a real server,
and the server's media store holding only ciphertext."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

from PIL import Image

from clients.cli.chat.app import ChatApp
from clients.crypto import decrypt_attachment
from clients.sdk.media import media_source, thumbnail_source
from tests.conftest import RunningHomeserver
from tests.integration.test_cli_chat import text_of, until
from tests.integration.test_e2ee_database import database_bytes
from tests.integration.test_e2ee_sdk import create_encrypted_room, encrypted_client, wait_for_body
from tests.integration.test_sdk_client import Syncing


def stripes_png() -> bytes:
    buffer = io.BytesIO()
    image = Image.new("L", (64, 64), 255)
    image.paste(0, (0, 0, 64, 32))  # dark top half, light bottom half
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def media_store_bytes(homeserver: RunningHomeserver) -> bytes:
    """Every file of the server's media store."""
    root = Path(homeserver.hs.config.data_dir) / homeserver.hs.config.media.store_path
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, f"no media under {root}"
    return b"".join(p.read_bytes() for p in files)


async def test_sdk_sends_an_encrypted_image_with_an_encrypted_thumbnail(
    homeserver: RunningHomeserver, tmp_path: Path
) -> None:
    alice, _ = await encrypted_client(homeserver, tmp_path, "alice")
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    try:
        room_id = await create_encrypted_room(alice, [bob.require_user_id()])
        await bob.join(room_id)
        image = stripes_png()
        event_id, uri = await alice.send_file_bytes(room_id, "stripes.png", image)
        async with Syncing(bob):
            await wait_for_body(bob, room_id, "stripes.png")
        assert bob.state is not None
        item = bob.state.rooms[room_id].timeline.get(event_id)
        assert item is not None and item.msgtype == "m.image" and "url" not in item.content
        source, thumbnail = media_source(item.content), thumbnail_source(item.content)
        assert source is not None and source.encrypted and source.url == uri
        assert thumbnail is not None and thumbnail.encrypted
        assert await bob.download_media(source) == image
        info = item.content["info"]
        assert info["mimetype"] == "image/png" and (info["w"], info["h"]) == (64, 64)
        thumb = await bob.download_media(thumbnail)
        assert info["thumbnail_info"]["size"] == len(thumb) and info["thumbnail_info"]["mimetype"] == "image/jpeg"  # no alpha
        with Image.open(io.BytesIO(thumb)) as opened:
            assert opened.size == (info["thumbnail_info"]["w"], info["thumbnail_info"]["h"])
        # What the server stores is the ciphertext (hash in the event), typed as opaque bytes.
        stored, content_type = await bob.download(uri)
        assert content_type == "application/octet-stream" and stored != image
        assert decrypt_attachment(stored, item.content["file"]) == image
    finally:
        await alice.close()
        await bob.close()


async def test_the_media_store_holds_only_ciphertext(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    alice, _ = await encrypted_client(homeserver, tmp_path, "alice")
    try:
        room_id = await create_encrypted_room(alice, [])
        marker = f"attachment-plaintext-{secrets.token_hex(8)}".encode()
        plaintext = marker * 64
        await alice.send_file_bytes(room_id, "secret-notes.txt", plaintext)
        stored = media_store_bytes(homeserver) + database_bytes(homeserver)
        assert marker not in stored and b"secret-notes.txt" not in stored
    finally:
        await alice.close()


async def test_chat_previews_an_encrypted_image(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    alice, _ = await encrypted_client(homeserver, tmp_path, "alice")
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    try:
        room_id = await create_encrypted_room(bob, [alice.require_user_id()])
        await alice.join(room_id)
        await bob.send_file_bytes(room_id, "stripes.png", stripes_png())
        app = ChatApp(alice, sync_timeout_ms=2000)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: alice.state is not None and room_id in alice.state.rooms)
            app.select_room(room_id)
            await until(pilot, lambda: "stripes.png" in text_of(app, "#timeline"))
            await until(pilot, lambda: "@@@@" in text_of(app, "#timeline"))
            art = [line for line in text_of(app, "#timeline").splitlines() if line.startswith("      ")]
            assert art[0].strip().startswith("@") and len(art) >= 4
    finally:
        await alice.close()
        await bob.close()

