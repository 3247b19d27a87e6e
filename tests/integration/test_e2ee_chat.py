"""`parley chat` in an encrypted room, driven with Textual's pilot against a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from clients.cli.chat.app import ChatApp
from clients.cli.chat.render import timeline_line
from clients.sdk.rooms import Room
from tests.conftest import RunningHomeserver
from tests.integration.test_cli_chat import WAIT, text_of, until
from tests.integration.test_e2ee_sdk import bodies, create_encrypted_room, encrypted_client


async def test_chat_encrypts_and_decrypts(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    alice, _ = await encrypted_client(homeserver, tmp_path, "alice")
    bob, _ = await encrypted_client(homeserver, tmp_path, "bob")
    try:
        room_id = await create_encrypted_room(bob, [alice.require_user_id()])
        await alice.join(room_id)
        await bob.send_text(room_id, "encrypted welcome")
        app = ChatApp(alice, sync_timeout_ms=2000)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: alice.state is not None and room_id in alice.state.rooms)
            app.select_room(room_id)
            await until(pilot, lambda: "encrypted welcome" in text_of(app, "#timeline"))
            await pilot.click("#composer")
            await pilot.press(*"secret reply", "enter")
            async with asyncio.timeout(WAIT):
                while "secret reply" not in bodies(bob, room_id):
                    await bob.sync_once(timeout_ms=1000)
        page = await bob.room_messages(room_id, limit=5)
        assert all(e["type"] == "m.room.encrypted" for e in page.chunk if "state_key" not in e)
    finally:
        await alice.close()
        await bob.close()


def test_undecryptable_message_is_shown_as_such() -> None:
    room = Room("!r:hs", "@alice:hs")
    room.timeline.add({"event_id": "$e", "type": "m.room.encrypted", "sender": "@bob:hs",
                       "origin_server_ts": 0, "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
    item = room.timeline.items[0]
    assert "unable to decrypt" in timeline_line(room, item)
