"""`parley device`: this device's end-to-end encryption identity."""

from __future__ import annotations

import argparse

from clients.cli.encryption import crypto_store_path, store_key_path
from clients.cli.errors import CliError, ExitCode
from clients.cli.session import Context
from clients.crypto import store_seal


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("device", help="show this device's encryption keys (Ed25519 fingerprint)")
    p.set_defaults(func=device)


def fingerprint_groups(key: str) -> str:
    """The key in groups of four characters, as clients show it for comparison."""
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


async def device(ctx: Context, args: argparse.Namespace) -> int:
    client = await ctx.encrypted_client()
    machine = ctx.crypto
    if machine is None:
        raise CliError(ExitCode.ERROR, "this profile has no device to hold encryption keys; run `parley login`")
    record = {
        "user_id": client.user_id,
        "device_id": client.device_id,
        "ed25519": machine.ed25519_fingerprint,
        "curve25519": machine.curve25519_key,
        "store": str(crypto_store_path(ctx.profile, client.device_id or "")),
        "sealed_with": store_seal(crypto_store_path(ctx.profile, client.device_id or "")),
    }
    sealed = (f"the key file {store_key_path(ctx.profile)}" if record["sealed_with"] == "key" else "your passphrase")
    human = "\n".join([
        f"User:        {client.user_id}",
        f"Device:      {client.device_id}",
        f"Fingerprint: {fingerprint_groups(machine.ed25519_fingerprint)}  (Ed25519)",
        f"Identity:    {machine.curve25519_key}  (Curve25519)",
        f"Key store:   {record['store']} (sealed with {sealed})",
    ])
    ctx.out.emit(record, human)
    return ExitCode.OK
