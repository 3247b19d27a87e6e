"""End-to-end encryption for `parley`: one Olm account per profile and device.

The account and its sessions live in ``<config dir>/crypto/<profile>.<device>.store``,
sealed (``clients.crypto.PickleStore``) either

* with a random 32-byte key kept in ``<config dir>/profiles/<profile>.key`` (0600, beside
  the profile's credentials) — the default, set up at login or registration with nothing
  to type; or
* with a passphrase the user chose (Argon2id): ``$PARLEY_CRYPTO_PASSPHRASE`` or the first
  line of stdin with ``--passphrase-stdin``, given when the store is created and every time
  after. Stores made before key files existed are of this kind and keep working.

The store says which of the two it needs (``store_seal``), so each error names what is
actually wrong: the passphrase, the key file, or the store itself.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any

from clients.cli.config import config_dir
from clients.cli.errors import CliError, ExitCode
from clients.crypto import MEGOLM_ALGORITHM, PickleStore, store_seal
from clients.crypto.errors import PickleStoreError, UnsupportedStoreError, WrongPassphraseError
from clients.sdk import AsyncClient, e2ee_api
from clients.sdk.crypto_machine import OlmMachine

PASSPHRASE_ENV = "PARLEY_CRYPTO_PASSPHRASE"
PASSPHRASE_HINT = f"set ${PASSPHRASE_ENV} or pass --passphrase-stdin"


def crypto_store_path(profile: str, device_id: str) -> Path:
    return config_dir() / "crypto" / f"{profile}.{device_id}.store"


def store_key_path(profile: str) -> Path:
    return config_dir() / "profiles" / f"{profile}.key"


def encryption_state_event() -> dict[str, Any]:
    """The m.room.encryption state for /createRoom's initial_state (spec defaults for rotation)."""
    return {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM_ALGORITHM}}


def configured_passphrase() -> str | None:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    return passphrase or None


def read_store_key(profile: str, store: Path) -> bytes:
    """The key that seals `store`, from the profile's key file; a CliError naming the file if
    it is missing, unreadable or not a key."""
    path = store_key_path(profile)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise CliError(ExitCode.ERROR, (
            f"the key file {path} is missing, so this device's encryption keys in {store} cannot be opened; "
            "restore the file, or run `parley login` again to start a new device"
        )) from None
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(ExitCode.ERROR, f"cannot read the key file {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise CliError(ExitCode.ERROR, f"the key file {path} does not hold a key (32 bytes in base64); it was altered")
    return key


def create_store_key(profile: str) -> bytes:
    """A new random key in the profile's key file (0600), or the one already there."""
    path = store_key_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = PickleStore.new_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_store_key(profile, path)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(base64.b64encode(key).decode("ascii") + "\n")
        f.flush()
        os.fsync(f.fileno())
    return key


async def _published_keys_of_this_device(client: AsyncClient) -> bool:
    """Whether the server already holds device keys for this device (made by a store now gone)."""
    user_id = client.require_user_id()
    data = await client.request(e2ee_api.keys_query([user_id]))
    devices = ((data.get("device_keys") or {}).get(user_id) or {}) if isinstance(data, dict) else {}
    return client.device_id in devices


async def open_store(profile: str, client: AsyncClient, passphrase: str | None) -> PickleStore:
    """The device's store: the existing one with the secret it needs, else a new one (sealed
    with `passphrase` if given, else with a new key file)."""
    assert client.device_id is not None
    path = crypto_store_path(profile, client.device_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    try:
        seal = store_seal(path)
    except UnsupportedStoreError as e:
        raise CliError(ExitCode.ERROR, f"cannot use this device's encryption keys in {path}: {e}") from None
    except PickleStoreError as e:
        raise CliError(ExitCode.ERROR, f"this device's encryption key store is damaged: {e}") from None
    if seal == "passphrase":
        if passphrase is None:
            raise CliError(ExitCode.USAGE, (
                f"this device's encryption keys in {path} are sealed with a passphrase: {PASSPHRASE_HINT}"
            ))
        return PickleStore(path, passphrase)
    if seal == "key":
        return PickleStore(path, key=read_store_key(profile, path))
    if await _published_keys_of_this_device(client):
        raise CliError(ExitCode.ERROR, (
            f"this device ({client.device_id}) has published encryption keys but their store {path} is missing, "
            "so it cannot read or send encrypted messages; run `parley login` again to start a new device"
        ))
    if passphrase is not None:
        return PickleStore(path, passphrase)
    return PickleStore(path, key=create_store_key(profile))


async def attach_crypto(profile: str, client: AsyncClient, passphrase: str | None = None) -> OlmMachine | None:
    """Load (or create) the profile's Olm account and plug it into ``client``.

    `passphrase` defaults to ``$PARLEY_CRYPTO_PASSPHRASE``; without one a new store is sealed
    with a key file, so encryption needs no set-up."""
    if client.device_id is None:
        return None
    passphrase = passphrase or configured_passphrase()
    store = await open_store(profile, client, passphrase)
    try:
        return await OlmMachine.attach(client, store)
    except WrongPassphraseError:
        if store_seal(store.path) == "key":
            raise CliError(ExitCode.ERROR, (
                f"the key file {store_key_path(profile)} does not open {store.path}: "
                "it belongs to another store, or the store is damaged"
            )) from None
        raise CliError(ExitCode.ERROR, (
            f"wrong passphrase for this device's encryption keys in {store.path} "
            f"(or the file is damaged); {PASSPHRASE_HINT} with the passphrase it was created with"
        )) from None
    except PickleStoreError as e:
        raise CliError(ExitCode.ERROR, f"cannot open this device's encryption keys in {store.path}: {e}") from None
