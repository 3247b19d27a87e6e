"""What every logged-in command needs: a client for the profile, the synced model,
and room references resolved (ID, alias or unique name)."""

from __future__ import annotations

from dataclasses import dataclass

from clients.cli.config import Credentials, ProfileStore
from clients.cli.encryption import attach_crypto
from clients.cli.errors import CliError, ExitCode
from clients.cli.output import Output
from clients.sdk import AsyncClient, MatrixRequestError
from clients.sdk.crypto_machine import OlmMachine
from clients.sdk.rooms import Room
from clients.sdk.state import ClientState

# Enough recent messages for unread counts and names; commands needing history page back.
CLI_SYNC_FILTER = {"room": {"timeline": {"limit": 20}}}


@dataclass
class Context:
    profile: str
    profiles: ProfileStore
    out: Output
    client: AsyncClient | None = None
    crypto: OlmMachine | None = None
    passphrase: str | None = None
    """From --passphrase-stdin; else $PARLEY_CRYPTO_PASSPHRASE, else the profile's key file."""

    def logged_in_client(self) -> AsyncClient:
        if self.client is None:
            creds = self.profiles.require(self.profile)
            self.client = client_for(creds)
        return self.client

    async def encrypted_client(self) -> AsyncClient:
        """The client, with this device's end-to-end encryption attached (set up on first use)."""
        client = self.logged_in_client()
        if self.crypto is None:
            self.crypto = await attach_crypto(self.profile, client, self.passphrase)
        return client

    async def synced_state(self) -> ClientState:
        client = self.logged_in_client()
        if client.state is None or client.state.next_batch is None:
            response = await client.sync_once(0)
            if self.crypto is not None and (response.get("to_device") or {}).get("events"):
                # Acknowledge the to-device messages (room keys) just read: the server
                # deletes them once a sync moves past them (spec: send_to_device.md).
                await client.sync_once(0)
        assert client.state is not None
        return client.state

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


def client_for(creds: Credentials) -> AsyncClient:
    client = AsyncClient(creds.homeserver, sync_filter=CLI_SYNC_FILTER)
    client.restore_session(creds.user_id, creds.device_id, creds.access_token)
    return client


def match_rooms(rooms: list[Room], reference: str) -> list[Room]:
    """Rooms whose display name (or ID) matches `reference`, exact case-insensitive names first."""
    wanted = reference.casefold()
    exact = [r for r in rooms if r.display_name.casefold() == wanted or r.room_id == reference]
    return exact


async def resolve_room(ctx: Context, reference: str, *, include_invites: bool = False) -> str:
    """A room ID for `reference`: a room ID as is, an alias through the directory, or the
    unique joined (or invited) room with that name."""
    client = ctx.logged_in_client()
    if reference.startswith("!"):
        return reference
    if reference.startswith("#"):
        try:
            return await client.resolve_alias(reference)
        except MatrixRequestError as e:
            if e.status == 404:
                raise CliError(ExitCode.NOT_FOUND, f"no room with alias {reference}") from None
            raise
    state = await ctx.synced_state()
    candidates = state.joined_rooms + (state.invites if include_invites else [])
    found = match_rooms(candidates, reference)
    if not found:
        raise CliError(ExitCode.NOT_FOUND, f"no room named {reference!r}")
    if len(found) > 1:
        ids = ", ".join(r.room_id for r in found)
        raise CliError(ExitCode.USAGE, f"{reference!r} names several rooms ({ids}); use an ID or alias")
    return found[0].room_id
