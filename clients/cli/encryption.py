"""End-to-end encryption for `parley`: one Olm account per profile and device.

The account and its sessions live in ``<config dir>/crypto/<profile>.<device>.store``,
sealed with the passphrase in ``$PARLEY_CRYPTO_PASSPHRASE`` (Argon2id + SecretBox,
``clients.crypto.PickleStore``). Without a passphrase nothing is encrypted or
decrypted: sending into an encrypted room then fails with a message saying so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from clients.cli.config import config_dir
from clients.cli.errors import CliError, ExitCode
from clients.crypto import MEGOLM_ALGORITHM, PickleStore
from clients.crypto.errors import PickleStoreError
from clients.sdk import AsyncClient
from clients.sdk.crypto_machine import OlmMachine

PASSPHRASE_ENV = "PARLEY_CRYPTO_PASSPHRASE"


def crypto_store_path(profile: str, device_id: str) -> Path:
    return config_dir() / "crypto" / f"{profile}.{device_id}.store"


def encryption_state_event() -> dict[str, Any]:
    """The m.room.encryption state for /createRoom's initial_state (spec defaults for rotation)."""
    return {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM_ALGORITHM}}


def configured_passphrase() -> str | None:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    return passphrase or None


async def attach_crypto(profile: str, client: AsyncClient) -> OlmMachine | None:
    """Load (or create) the profile's Olm account and plug it into ``client``."""
    passphrase = configured_passphrase()
    if passphrase is None or client.device_id is None:
        return None
    path = crypto_store_path(profile, client.device_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    try:
        return await OlmMachine.attach(client, PickleStore(path, passphrase))
    except PickleStoreError:
        # Almost always a different passphrase from the one that sealed the store.
        raise CliError(ExitCode.ERROR, (
            f"cannot open this device's encryption keys in {path}: wrong ${PASSPHRASE_ENV} "
            "(or the file is damaged)"
        )) from None
