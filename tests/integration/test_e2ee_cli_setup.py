"""`parley` sets up end-to-end encryption by itself: a new login or registration gets keys
sealed with a key file beside the profile, unless the user chose a passphrase
($PARLEY_CRYPTO_PASSPHRASE or --passphrase-stdin). Each failure to open the keys says
which of the passphrase, key file or store is at fault (real subprocesses)."""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path

import pytest

from clients.sdk import AsyncClient
from tests.conftest import RunningHomeserver
from tests.integration.test_cli import Parley
from tests.integration.test_e2ee_database import database_bytes


@pytest.fixture
def parley(tmp_path: Path, homeserver: RunningHomeserver) -> Parley:
    cli = Parley(tmp_path / "config", homeserver)
    cli.env.pop("PARLEY_CRYPTO_PASSPHRASE", None)
    return cli


async def room_for_two(parley: Parley) -> tuple[str, str]:
    await parley.register("a", "alice")
    bob = await parley.register("b", "bob")
    created = await parley.ok("-p", "a", "--json", "create", "Secrets", "--encrypted", "--invite", bob)
    room_id = str(created.json()["room_id"])
    await parley.ok("-p", "b", "join", room_id)
    return room_id, bob


def read_file(path: str) -> bytes:
    return Path(path).read_bytes()


def store_of(parley: Parley, profile: str) -> Path:
    stores = list((parley.config_dir / "crypto").glob(f"{profile}.*.store"))
    assert len(stores) == 1, stores
    return stores[0]


async def test_register_without_a_passphrase_then_send_and_read_in_an_encrypted_room(
    parley: Parley, homeserver: RunningHomeserver
) -> None:
    registered = await parley.ok("--profile", "a", "--json", "register", "alice", "--homeserver",
                                 homeserver.base_url, "--password-stdin", stdin="pw-alice\n")
    assert registered.json()["keys_sealed_with"] == "key file" and len(registered.json()["ed25519"]) == 43
    key_file = parley.config_dir / "profiles" / "a.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    bob = await parley.register("b", "bob")
    room_id = str((await parley.ok("-p", "a", "--json", "create", "Secrets", "--encrypted",
                                   "--invite", bob)).json()["room_id"])
    await parley.ok("-p", "b", "join", room_id)
    marker = f"no-friction-{secrets.token_hex(6)}"
    await parley.ok("-p", "a", "send", room_id, marker)
    history = (await parley.ok("-p", "b", "--json", "history", room_id)).json()
    assert [m["content"]["body"] for m in history] == [marker]
    assert marker in (await parley.ok("-p", "a", "history", room_id)).out
    assert marker.encode() not in database_bytes(homeserver)
    device = (await parley.ok("-p", "a", "--json", "device")).json()
    assert device["sealed_with"] == "key"
    # Sealed: neither the key nor the public identity shows through the store file.
    store = read_file(device["store"])
    assert device["curve25519"].encode() not in store and key_file.read_text().strip().encode() not in store


async def test_a_passphrase_from_stdin_seals_the_keys_and_is_needed_afterwards(
    parley: Parley, homeserver: RunningHomeserver
) -> None:
    result = await parley.ok("-p", "a", "--json", "register", "alice", "-H", homeserver.base_url,
                             "--password-stdin", "--passphrase-stdin", stdin="my passphrase\npw-alice\n")
    assert result.json()["keys_sealed_with"] == "passphrase"
    assert not (parley.config_dir / "profiles" / "a.key").exists()
    assert (await parley.ok("-p", "a", "--json", "device", "--passphrase-stdin",
                            stdin="my passphrase\n")).json()["sealed_with"] == "passphrase"
    parley.env["PARLEY_CRYPTO_PASSPHRASE"] = "my passphrase"
    await parley.ok("-p", "a", "device")

    wrong = await parley("-p", "a", "device", "--passphrase-stdin", stdin="not it\n")
    assert wrong.code == 1 and "wrong passphrase" in wrong.err and str(store_of(parley, "a")) in wrong.err
    parley.env.pop("PARLEY_CRYPTO_PASSPHRASE")
    missing = await parley("-p", "a", "device")
    assert missing.code == 2 and "sealed with a passphrase" in missing.err and "PARLEY_CRYPTO_PASSPHRASE" in missing.err


async def test_a_missing_or_unreadable_key_file_is_named(parley: Parley) -> None:
    room_id, _ = await room_for_two(parley)
    key_file = parley.config_dir / "profiles" / "a.key"
    saved = key_file.read_bytes()
    key_file.unlink()
    result = await parley("-p", "a", "send", room_id, "must not leak")
    assert result.code == 1 and "key file" in result.err and "missing" in result.err and str(key_file) in result.err
    key_file.mkdir()  # a key file that cannot be read
    result = await parley("-p", "a", "send", room_id, "must not leak")
    assert result.code == 1 and f"cannot read the key file {key_file}" in result.err
    key_file.rmdir()
    key_file.write_text("not a key\n")
    result = await parley("-p", "a", "send", room_id, "must not leak")
    assert result.code == 1 and "does not hold a key" in result.err
    key_file.write_bytes(saved)
    await parley.ok("-p", "a", "send", room_id, "back again")


async def test_a_key_file_of_another_store_is_refused(parley: Parley) -> None:
    await parley.register("a", "alice")
    await parley.register("b", "bob")
    profiles = parley.config_dir / "profiles"
    (profiles / "a.key").write_bytes((profiles / "b.key").read_bytes())
    result = await parley("-p", "a", "device")
    assert result.code == 1 and "does not open" in result.err


async def test_a_missing_store_is_reported_rather_than_replaced(parley: Parley) -> None:
    await parley.register("a", "alice")
    store_of(parley, "a").unlink()
    result = await parley("-p", "a", "device")
    assert result.code == 1 and "store" in result.err and "missing" in result.err and "parley login" in result.err


async def test_an_unsupported_store_format_is_reported(parley: Parley) -> None:
    await parley.register("a", "alice")
    store = store_of(parley, "a")
    store.write_text(store.read_text().replace('"version": 1', '"version": 7'))
    result = await parley("-p", "a", "device")
    assert result.code == 1 and "version 7 is not supported" in result.err


async def test_existing_passphrase_profiles_keep_working(parley: Parley) -> None:
    """A profile whose keys were sealed with $PARLEY_CRYPTO_PASSPHRASE (before key files)."""
    parley.env["PARLEY_CRYPTO_PASSPHRASE"] = "the old way"
    room_id, _ = await room_for_two(parley)
    assert not list((parley.config_dir / "profiles").glob("*.key"))
    await parley.ok("-p", "a", "send", room_id, "still sealed with a passphrase")
    history = (await parley.ok("-p", "b", "--json", "history", room_id)).json()
    assert [m["content"]["body"] for m in history] == ["still sealed with a passphrase"]


async def test_a_room_with_an_unsupported_algorithm_is_refused_by_name(
    parley: Parley, homeserver: RunningHomeserver
) -> None:
    await parley.register("a", "alice")
    profile = json.loads((parley.config_dir / "profiles" / "a.json").read_text())
    client = AsyncClient(homeserver.base_url)
    client.restore_session(profile["user_id"], profile["device_id"], profile["access_token"])
    try:
        room_id = await client.create_room(name="Future", extra={"initial_state": [
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "org.example.future.v9"}},
        ]})
    finally:
        await client.close()
    result = await parley("-p", "a", "send", room_id, "must not leak")
    assert result.code == 1 and "org.example.future.v9" in result.err and "does not support" in result.err
