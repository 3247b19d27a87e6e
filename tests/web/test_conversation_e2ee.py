"""An end-to-end encrypted room in two browsers: Megolm through matrix-js-sdk's Rust
crypto both ways, what cannot be decrypted shown as such, and no unencrypted uploads."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import expect

from tests.parleyd_process import Parleyd
from tests.web.pages import open_client
from tests.web.pages_conversation import message, open_room, register, send


async def test_encrypted_room_chat_both_ways(parleyd: Parleyd, browser: Any, screenshot: Any) -> None:
    alice_api = await register(parleyd.base_url, "alice")
    bob_api = await register(parleyd.base_url, "bob")
    room_id = await alice_api.create_room("Secrets", invite=[bob_api], encrypted=True)
    alice = await open_client(browser, parleyd.base_url)
    bob = await open_client(browser, parleyd.base_url)
    await open_room(bob, "bob", "Secrets")
    await open_room(alice, "alice", "Secrets")
    for page in (alice, bob):
        await expect(page.locator(".room-header")).to_contain_text("Encrypted")

    await send(alice, "The cake is in the oven")
    await expect(message(bob, "The cake is in the oven")).to_be_visible(timeout=20_000)
    await send(bob, "I will not tell anyone")
    await expect(message(alice, "I will not tell anyone")).to_be_visible(timeout=20_000)

    # Something nobody can decrypt stays in the timeline, marked.
    await alice_api.request("PUT", f"/rooms/{room_id}/send/m.room.encrypted/garbage", {
        "algorithm": "m.megolm.v1.aes-sha2", "sender_key": "AAAA", "session_id": "nope",
        "ciphertext": "bm90IGEgcmVhbCBjaXBoZXJ0ZXh0", "device_id": "NOPE",
    })
    for page in (alice, bob):
        await expect(page.locator("li.message .body.undecryptable")).to_contain_text("Unable to decrypt this message")

    # Attachments are not encrypted: nothing is uploaded, and the page says why.
    uploads: list[str] = []
    alice.on("request", lambda r: "/upload" in r.url and uploads.append(r.url))
    await alice.locator("input[type=file]").set_input_files(
        files=[{"name": "plan.txt", "mimeType": "text/plain", "buffer": b"secret plan"}])
    await expect(alice.get_by_role("alert")).to_contain_text("Files cannot be sent in encrypted rooms yet")
    assert uploads == []
    await screenshot(alice, "alice")
    await screenshot(bob, "bob")

    # The server only ever saw ciphertext.
    events = await alice_api.messages(room_id)
    assert [e for e in events if e["type"] == "m.room.message"] == []
    encrypted = [e for e in events if e["type"] == "m.room.encrypted"]
    assert len(encrypted) == 3
    assert all(e["content"]["algorithm"] == "m.megolm.v1.aes-sha2" for e in encrypted)
    assert "cake" not in json.dumps(events) and "tell anyone" not in json.dumps(events)
