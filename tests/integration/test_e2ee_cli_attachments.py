"""`parley upload` and `parley download` in encrypted rooms (real subprocesses): files and
images round-trip byte for byte, a tampered file is refused, the server holds only
ciphertext, and matrix-nio reads our attachments and we read its."""

from __future__ import annotations

import asyncio
import io
import secrets
from pathlib import Path

import pytest
from nio import AsyncClient as NioClient
from nio import (
    AsyncClientConfig,
    JoinResponse,
    MemoryDownloadResponse,
    RegisterResponse,
    RoomEncryptedFile,
    RoomEncryptedImage,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
)
from nio.crypto import ENCRYPTION_ENABLED
from nio.crypto.attachments import decrypt_attachment as nio_decrypt_attachment
from PIL import Image

from tests.conftest import RunningHomeserver
from tests.integration.test_cli import WAIT, Parley
from tests.integration.test_e2ee_attachments import media_store_bytes
from tests.integration.test_e2ee_database import database_bytes
from tests.integration.test_e2ee_nio import PASSWORD, housekeeping


@pytest.fixture
def parley(tmp_path: Path, homeserver: RunningHomeserver) -> Parley:
    cli = Parley(tmp_path / "config", homeserver)
    cli.env.pop("PARLEY_CRYPTO_PASSPHRASE", None)  # key files: the default set-up
    return cli


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def read(path: Path) -> bytes:
    return path.read_bytes()


def photo_png() -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (640, 400), (20, 120, 200))
    image.paste((250, 250, 0), (0, 0, 320, 200))
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def encrypted_room_for_two(parley: Parley) -> str:
    await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    room_id = str((await parley.ok("-p", "a", "--json", "create", "Files", "--encrypted",
                                   "--invite", bob)).json()["room_id"])
    await parley.ok("-p", "b", "join", room_id)
    return room_id


async def test_files_and_images_round_trip_byte_exactly(parley: Parley, tmp_path: Path) -> None:
    room_id = await encrypted_room_for_two(parley)
    document = write(tmp_path / "report.bin", secrets.token_bytes(70_001))
    picture = write(tmp_path / "photo.png", photo_png())
    for original in (document, picture):
        sent = (await parley.ok("-p", "a", "--json", "upload", room_id, str(original))).json()
        assert sent["encrypted"] is True
        out = tmp_path / f"got-{original.name}"
        saved = (await parley.ok("-p", "b", "--json", "download", room_id, sent["event_id"], "-o", str(out))).json()
        assert read(out) == read(original) and saved["size"] == len(read(original))
        # Into a directory: the sender's file name.
        folder = tmp_path / f"dir-{original.stem}"
        folder.mkdir()
        await parley.ok("-p", "a", "download", room_id, sent["event_id"], "-o", str(folder))
        assert read(folder / original.name) == read(original)
        # The bare mxc:// URI gives the ciphertext, which is not the file.
        await parley.ok("-p", "b", "download", sent["content_uri"], "-o", str(tmp_path / "raw"))
        assert read(tmp_path / "raw") != read(original)
    assert saved["content_type"] == "image/png"
    history = (await parley.ok("-p", "b", "history", room_id)).out
    assert "[file, encrypted] report.bin" in history and "[image, encrypted] photo.png" in history


async def test_a_tampered_file_is_refused(parley: Parley, tmp_path: Path, homeserver: RunningHomeserver) -> None:
    room_id = await encrypted_room_for_two(parley)
    original = write(tmp_path / "ledger.txt", b"balance: 100\n" * 100)
    sent = (await parley.ok("-p", "a", "--json", "upload", room_id, str(original))).json()
    media_root = Path(homeserver.hs.config.data_dir) / homeserver.hs.config.media.store_path
    stored = [p for p in media_root.rglob("*") if p.is_file() and p.stat().st_size == len(read(original))]
    assert len(stored) == 1
    ciphertext = bytearray(read(stored[0]))
    ciphertext[5] ^= 0x20
    write(stored[0], bytes(ciphertext))
    out = tmp_path / "tampered.txt"
    result = await parley("-p", "b", "download", room_id, sent["event_id"], "-o", str(out))
    assert result.code == 1 and "does not match the SHA-256" in result.err and "refusing" in result.err
    assert not out.exists()


async def test_the_server_holds_only_ciphertext(parley: Parley, tmp_path: Path, homeserver: RunningHomeserver) -> None:
    room_id = await encrypted_room_for_two(parley)
    marker = f"cli-attachment-{secrets.token_hex(8)}".encode()
    original = write(tmp_path / "diary.txt", marker * 200)
    await parley.ok("-p", "a", "upload", room_id, str(original))
    stored = media_store_bytes(homeserver) + database_bytes(homeserver)
    assert marker not in stored and b"diary.txt" not in stored


@pytest.fixture
async def nina(homeserver: RunningHomeserver, tmp_path: Path) -> NioClient:
    store = tmp_path / "nina-store"
    store.mkdir()
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    client = NioClient(homeserver.base_url, "nina", store_path=str(store), config=config)
    assert isinstance(await client.register("nina", PASSWORD), RegisterResponse)
    await housekeeping(client)
    yield client
    await client.close()


async def room_with_nina(parley: Parley, nina: NioClient) -> str:
    await parley.register("a", "alice")
    room_id = str((await parley.ok("-p", "a", "--json", "create", "Interop", "--encrypted",
                                   "--invite", nina.user_id)).json()["room_id"])
    assert isinstance(await nina.join(room_id), JoinResponse)
    await nina.sync(timeout=0)
    await housekeeping(nina)
    return room_id


async def nio_sync_until_file(nio: NioClient, room_id: str, body: str) -> RoomEncryptedFile | RoomEncryptedImage:
    async def loop() -> RoomEncryptedFile | RoomEncryptedImage:
        while True:
            response = await nio.sync(timeout=2000)
            assert isinstance(response, SyncResponse), response
            await housekeeping(nio)
            room = response.rooms.join.get(room_id)
            for event in room.timeline.events if room else []:
                if isinstance(event, RoomEncryptedFile | RoomEncryptedImage) and event.body == body:
                    return event

    return await asyncio.wait_for(loop(), WAIT)


async def nio_download(nio: NioClient, mxc: str) -> bytes:
    response = await nio.download(mxc=mxc)
    assert isinstance(response, MemoryDownloadResponse), response
    return bytes(response.body)


pytestmark = pytest.mark.skipif(not ENCRYPTION_ENABLED, reason="matrix-nio without its e2e extra")


async def test_nio_reads_our_encrypted_image_and_its_thumbnail(
    parley: Parley, nina: NioClient, tmp_path: Path
) -> None:
    room_id = await room_with_nina(parley, nina)
    picture = write(tmp_path / "photo.png", photo_png())
    await parley.ok("-p", "a", "upload", room_id, str(picture))
    event = await nio_sync_until_file(nina, room_id, "photo.png")
    assert isinstance(event, RoomEncryptedImage) and event.decrypted
    data = nio_decrypt_attachment(await nio_download(nina, event.url), event.key["k"], event.hashes["sha256"], event.iv)
    assert data == read(picture)
    assert event.thumbnail_url is not None and event.thumbnail_key is not None
    thumb = nio_decrypt_attachment(await nio_download(nina, event.thumbnail_url), event.thumbnail_key["k"],
                                   event.thumbnail_hashes["sha256"], event.thumbnail_iv)
    with Image.open(io.BytesIO(thumb)) as opened:
        assert max(opened.size) <= 320 and opened.size[0] / opened.size[1] == pytest.approx(640 / 400, rel=0.02)


async def test_we_read_an_attachment_nio_encrypted(parley: Parley, nina: NioClient, tmp_path: Path) -> None:
    room_id = await room_with_nina(parley, nina)
    original = secrets.token_bytes(50_000)
    uploaded, keys = await nina.upload(io.BytesIO(original), content_type="application/octet-stream",
                                       filename="from-nio.bin", encrypt=True, filesize=len(original))
    assert isinstance(uploaded, UploadResponse) and keys is not None
    content = {
        "msgtype": "m.file", "body": "from-nio.bin",
        "info": {"size": len(original), "mimetype": "application/octet-stream"},
        "file": {"url": uploaded.content_uri, **{k: keys[k] for k in ("key", "iv", "hashes", "v")}},
    }
    sent = await nina.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
    assert isinstance(sent, RoomSendResponse), sent
    out = tmp_path / "got.bin"
    await parley.ok("-p", "a", "download", room_id, sent.event_id, "-o", str(out))
    assert read(out) == original
