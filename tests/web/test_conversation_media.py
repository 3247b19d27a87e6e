"""Pictures and files in a conversation: upload with a thumbnail and a full-size viewer,
the server's size limit, drag-and-drop, paste, and download under the file's name."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from playwright.async_api import Page, Route, expect

from tests.parleyd_process import Parleyd
from tests.web.pages import open_client
from tests.web.pages_conversation import open_room, register

LIMIT = 20_000  # bytes: limits.max_upload_bytes of this file's server


@pytest.fixture
async def small_parleyd(tmp_path: Path) -> AsyncIterator[Parleyd]:
    """A parleyd that accepts uploads of at most LIMIT bytes."""
    server = Parleyd(tmp_path / "hs")
    await server.init()
    config = yaml.safe_load(server.config.read_text())
    config["limits"]["max_upload_bytes"] = LIMIT
    server.config.write_text(yaml.safe_dump(config))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def png(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height))
    for x in range(width):
        for y in range(0, height, 4):
            image.putpixel((x, y), (x % 256, y % 256, 120))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def drop_file(page: Page, name: str, text: str) -> None:
    """Drags a text file onto the conversation and drops it."""
    await page.locator(".room-view").evaluate(
        """(el, [name, text]) => {
            const data = new DataTransfer();
            data.items.add(new File([text], name, { type: "text/plain" }));
            el.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
            el.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
        }""", [name, text])


async def paste_file(page: Page, name: str, text: str) -> None:
    await page.get_by_role("textbox", name=re.compile("^Message ")).evaluate(
        """(el, [name, text]) => {
            const data = new DataTransfer();
            data.items.add(new File([text], name, { type: "text/plain" }));
            el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
        }""", [name, text])


async def test_image_upload_shows_a_thumbnail_and_a_full_size_viewer(
    small_parleyd: Parleyd, browser: Any, screenshot: Any,
) -> None:
    alice_api = await register(small_parleyd.base_url, "alice")
    bob_api = await register(small_parleyd.base_url, "bob")
    room_id = await alice_api.create_room("Photos", invite=[bob_api])
    alice = await open_client(browser, small_parleyd.base_url)
    bob = await open_client(browser, small_parleyd.base_url)
    await open_room(alice, "alice", "Photos")
    await open_room(bob, "bob", "Photos")

    picture = png(600, 400)
    assert len(picture) < LIMIT
    async with alice.expect_file_chooser() as chooser:
        await alice.get_by_role("button", name="Attach a file").click()
    await (await chooser.value).set_files(files=[{"name": "garden.png", "mimeType": "image/png", "buffer": picture}])

    thumb = bob.get_by_role("button", name="Open image garden.png full size")
    await expect(thumb.locator("img")).to_have_attribute("src", re.compile("^blob:"))
    size = await thumb.locator("img").evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])")
    assert size and size[0] <= 320 and size[1] <= 240, size  # a server thumbnail, not the 600 x 400 file
    await screenshot(bob, "thumbnail")

    await thumb.click()
    viewer = bob.get_by_role("dialog", name="Image: garden.png")
    await expect(viewer.locator("img")).to_have_attribute("src", re.compile("^blob:"))
    full = await viewer.locator("img").evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])")
    assert full == [600, 400]
    await screenshot(bob, "viewer")
    await bob.keyboard.press("Escape")
    await expect(viewer).to_have_count(0)

    sent = [e for e in await alice_api.messages(room_id) if e["type"] == "m.room.message"]
    content = sent[0]["content"]
    assert content["msgtype"] == "m.image" and content["body"] == "garden.png"
    assert content["url"].startswith("mxc://")
    assert content["info"] == {"mimetype": "image/png", "size": len(picture), "w": 600, "h": 400}


async def test_files_over_the_size_limit_are_refused_with_a_message(small_parleyd: Parleyd, browser: Any) -> None:
    alice_api = await register(small_parleyd.base_url, "alice")
    room_id = await alice_api.create_room("Big files")
    alice = await open_client(browser, small_parleyd.base_url)
    await open_room(alice, "alice", "Big files")
    uploads: list[str] = []
    alice.on("request", lambda r: "/upload" in r.url and uploads.append(r.url))

    big = b"x" * (LIMIT + 10_000)
    await alice.locator("input[type=file]").set_input_files(
        files=[{"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": big}])
    await expect(alice.get_by_role("alert")).to_have_text(
        "huge.bin is too large (29 KB). This server accepts files up to 20 KB.")
    assert uploads == []  # checked before uploading

    # A server that says more than it accepts: its 413 M_TOO_LARGE is shown too.
    async def generous(route: Route) -> None:
        await route.fulfill(status=200, content_type="application/json",
                            body=json.dumps({"m.upload.size": 10 * LIMIT}))

    await alice.route(re.compile(r".*/media/config$"), generous)
    await alice.reload()
    await expect(alice.locator(".room-header h2")).to_have_text("Big files")
    await alice.locator("input[type=file]").set_input_files(
        files=[{"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": big}])
    await expect(alice.get_by_role("alert")).to_contain_text("huge.bin is too large (29 KB) for this server")
    assert len(uploads) == 1
    assert [e for e in await alice_api.messages(room_id) if e["type"] == "m.room.message"] == []


async def test_dropped_and_pasted_files_download_under_their_names(
    small_parleyd: Parleyd, browser: Any, tmp_path: Path,
) -> None:
    alice_api = await register(small_parleyd.base_url, "alice")
    bob_api = await register(small_parleyd.base_url, "bob")
    room_id = await alice_api.create_room("Docs", invite=[bob_api])
    alice = await open_client(browser, small_parleyd.base_url)
    bob = await open_client(browser, small_parleyd.base_url)
    await open_room(alice, "alice", "Docs")
    await open_room(bob, "bob", "Docs")

    await drop_file(alice, "notes.txt", "Buy milk\n")
    await paste_file(alice, "recipe.txt", "Flour, eggs\n")
    for name, text in (("notes.txt", "Buy milk\n"), ("recipe.txt", "Flour, eggs\n")):
        button = bob.get_by_role("button", name=f"Download {name}")
        async with bob.expect_download() as download_info:
            await button.click()
        download = await download_info.value
        assert download.suggested_filename == name
        saved = tmp_path / name
        await download.save_as(saved)
        assert saved.read_text() == text
    bodies = sorted(e["content"]["body"] for e in await alice_api.messages(room_id) if e["type"] == "m.room.message")
    assert bodies == ["notes.txt", "recipe.txt"]
