"""The seam where end-to-end encryption plugs in.

The client calls an ``EventCrypto`` on the way out (before sending a room event) and on
the way in (each timeline event and to-device batch from /sync). ``NoEncryption`` is the
behaviour without E2EE: events pass through untouched, and sending into an encrypted
room is refused rather than leaking plaintext. ``clients.sdk.crypto_machine.OlmMachine``
is the Olm/Megolm implementation on ``clients.crypto``.
"""

from __future__ import annotations

from typing import Any, Protocol


class EncryptionUnavailableError(Exception):
    """The room is encrypted and this client has no encryption backend."""


class UnsupportedAlgorithmError(EncryptionUnavailableError):
    """The room's m.room.encryption names an algorithm this client cannot encrypt with."""


class EventCrypto(Protocol):
    async def encrypt(
        self, room_id: str, event_type: str, content: dict[str, Any], *, room_encrypted: bool
    ) -> tuple[str, dict[str, Any]]:
        """(event type, content) to send: m.room.encrypted for encrypted rooms."""
        ...

    async def decrypt(self, room_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """The event to show for a received timeline event (decrypted if possible)."""
        ...

    async def receive_to_device(self, events: list[dict[str, Any]]) -> None:
        """Key shares and Olm messages from the to_device section of /sync."""
        ...

    async def receive_sync(self, response: dict[str, Any]) -> None:
        """The rest of a /sync response first: device_lists, one-time key counts, settings."""
        ...


class NoEncryption:
    async def encrypt(
        self, room_id: str, event_type: str, content: dict[str, Any], *, room_encrypted: bool
    ) -> tuple[str, dict[str, Any]]:
        if room_encrypted:
            raise EncryptionUnavailableError(f"{room_id} is encrypted; no E2EE backend configured")
        return event_type, content

    async def decrypt(self, room_id: str, event: dict[str, Any]) -> dict[str, Any]:
        return event

    async def receive_to_device(self, events: list[dict[str, Any]]) -> None:
        return None

    async def receive_sync(self, response: dict[str, Any]) -> None:
        return None
