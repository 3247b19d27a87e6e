"""`parley` in encrypted rooms: create --encrypted, send/history/tail transparent,
`parley device` showing the Ed25519 fingerprint (real subprocesses)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from tests.conftest import RunningHomeserver
from tests.integration.test_cli import WAIT, Parley
from tests.integration.test_e2ee_database import database_bytes


@pytest.fixture
def parley(tmp_path: Path, homeserver: RunningHomeserver) -> Parley:
    cli = Parley(tmp_path / "config", homeserver)
    cli.env["PARLEY_CRYPTO_PASSPHRASE"] = "cli test passphrase"
    return cli


def read_file(path: str) -> bytes:
    return Path(path).read_bytes()


async def encrypted_room_for_two(parley: Parley) -> str:
    await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    room_id = str((await parley.ok("-p", "a", "--json", "create", "Secrets", "--encrypted", "--invite", bob)).json()["room_id"])
    await parley.ok("-p", "b", "join", room_id)
    await parley.ok("-p", "b", "device")  # bob's device keys are published
    return room_id


async def test_device_shows_a_stable_ed25519_fingerprint(parley: Parley) -> None:
    await parley.register("a", "alice")
    first = (await parley.ok("-p", "a", "--json", "device")).json()
    again = (await parley.ok("-p", "a", "--json", "device")).json()
    assert first["ed25519"] == again["ed25519"] and len(first["ed25519"]) == 43
    human = (await parley.ok("-p", "a", "device")).out
    assert first["ed25519"][:4] + " " + first["ed25519"][4:8] in human
    # The store is sealed with the passphrase: not even the public keys show through.
    assert first["curve25519"].encode() not in read_file(first["store"])


async def test_send_and_history_in_an_encrypted_room(parley: Parley, homeserver: RunningHomeserver) -> None:
    room_id = await encrypted_room_for_two(parley)
    marker = f"cli-secret-{secrets.token_hex(6)}"
    await parley.ok("-p", "a", "send", room_id, marker)
    history = await parley.ok("-p", "b", "--json", "history", room_id)
    assert [m["content"]["body"] for m in history.json()] == [marker]
    # Alice reads her own message back too, in a later run.
    assert marker in (await parley.ok("-p", "a", "history", room_id)).out
    assert marker.encode() not in database_bytes(homeserver)


async def test_tail_prints_encrypted_messages(parley: Parley) -> None:
    room_id = await encrypted_room_for_two(parley)
    tail = await parley.start("-p", "b", "--json", "tail", room_id, "--count", "1", "--timeout", str(WAIT))
    assert tail.stderr is not None
    await asyncio.wait_for(tail.stderr.readline(), WAIT)  # "Following ..."
    await parley.ok("-p", "a", "send", room_id, "live and encrypted")
    out, _ = await asyncio.wait_for(tail.communicate(), WAIT)
    assert tail.returncode == 0
    assert "live and encrypted" in out.decode()


async def test_sending_into_an_encrypted_room_without_a_passphrase_fails_clearly(parley: Parley) -> None:
    room_id = await encrypted_room_for_two(parley)
    parley.env.pop("PARLEY_CRYPTO_PASSPHRASE")
    result = await parley("-p", "a", "send", room_id, "must not leak")
    assert result.code != 0 and "PARLEY_CRYPTO_PASSPHRASE" in result.err
