"""Encrypted messages both ways between a Parley SDK client and matrix-nio.

matrix-nio's end-to-end encryption runs on vodozemac (installed here), an
independent Olm/Megolm implementation: nio must decrypt what the SDK's
OlmMachine encrypts and shares, and the reverse, through this server's key APIs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nio import AsyncClient as NioClient
from nio import (
    AsyncClientConfig,
    JoinResponse,
    KeysUploadResponse,
    RegisterResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)
from nio.crypto import ENCRYPTION_ENABLED

from clients.sdk import AsyncClient
from tests.conftest import RunningHomeserver
from tests.integration.test_e2ee_sdk import create_encrypted_room, encrypted_client, wait_for_body
from tests.integration.test_sdk_client import Syncing

WAIT = 20.0
PASSWORD = "nio's password"

pytestmark = pytest.mark.skipif(not ENCRYPTION_ENABLED, reason="matrix-nio without its e2e extra")


async def housekeeping(nio: NioClient) -> None:
    """What nio's sync_forever does between syncs: keys up, device lists fresh."""
    if nio.should_upload_keys:
        assert isinstance(await nio.keys_upload(), KeysUploadResponse)
    if nio.should_query_keys:
        await nio.keys_query()


async def nio_sync_until_text(nio: NioClient, room_id: str, body: str) -> RoomMessageText:
    async def loop() -> RoomMessageText:
        while True:
            response = await nio.sync(timeout=2000)
            assert isinstance(response, SyncResponse), response
            await housekeeping(nio)
            room = response.rooms.join.get(room_id)
            for event in room.timeline.events if room else []:
                if isinstance(event, RoomMessageText) and event.body == body:
                    return event

    return await asyncio.wait_for(loop(), WAIT)


@pytest.fixture
async def parley_and_nio(
    homeserver: RunningHomeserver, tmp_path: Path
) -> AsyncIterator[tuple[AsyncClient, NioClient, str]]:
    alice, _ = await encrypted_client(homeserver, tmp_path, "alice")
    store = tmp_path / "nina-store"
    store.mkdir()
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    nina = NioClient(homeserver.base_url, "nina", store_path=str(store), config=config)
    try:
        assert isinstance(await nina.register("nina", PASSWORD), RegisterResponse)
        await housekeeping(nina)
        room_id = await create_encrypted_room(alice, [nina.user_id])
        assert isinstance(await nina.join(room_id), JoinResponse)
        await nina.sync(timeout=0)
        await housekeeping(nina)
        yield alice, nina, room_id
    finally:
        await nina.close()
        await alice.close()


async def test_nio_decrypts_a_parley_message(parley_and_nio: tuple[AsyncClient, NioClient, str]) -> None:
    alice, nina, room_id = parley_and_nio
    await alice.sync_once()
    await alice.send_text(room_id, "from parley to nio")
    event = await nio_sync_until_text(nina, room_id, "from parley to nio")
    assert event.sender == alice.user_id and event.decrypted


async def test_parley_decrypts_a_nio_message(parley_and_nio: tuple[AsyncClient, NioClient, str]) -> None:
    alice, nina, room_id = parley_and_nio
    response = await nina.room_send(
        room_id, "m.room.message", {"msgtype": "m.text", "body": "from nio to parley"},
        ignore_unverified_devices=True,
    )
    assert isinstance(response, RoomSendResponse), response
    async with Syncing(alice):
        await wait_for_body(alice, room_id, "from nio to parley")


async def test_conversation_both_ways(parley_and_nio: tuple[AsyncClient, NioClient, str]) -> None:
    alice, nina, room_id = parley_and_nio
    async with Syncing(alice):
        for n in range(3):
            await alice.send_text(room_id, f"parley says {n}")
            await nio_sync_until_text(nina, room_id, f"parley says {n}")
            response = await nina.room_send(
                room_id, "m.room.message", {"msgtype": "m.text", "body": f"nio says {n}"},
                ignore_unverified_devices=True,
            )
            assert isinstance(response, RoomSendResponse), response
            await wait_for_body(alice, room_id, f"nio says {n}")
