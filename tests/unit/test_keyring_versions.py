"""Which signatures an event needs, and which keys count, by room version.

spec: server-server-api.md, "Validating hashes and signatures on received events" (v1/v2:
also the event ID's server); rooms/fragments/v5-signing-requirements.md (from v5 a key must
be valid at the event's origin_server_ts); rooms/v8.md (the authorising server of a
restricted join signs it).
"""

from __future__ import annotations

from typing import Any

import pytest

from federation.crypto.base64 import encode_base64
from federation.crypto.signing import SignatureError, generate_signing_key
from federation.keys import KeyRing, StoredVerifyKey, required_event_signers
from federation.rooms.builder import add_server_signature, build_event
from federation.rooms.events import Event
from federation.rooms.versions import KNOWN_ROOM_VERSIONS, RoomVersion
from federation.transport.errors import FederationError

V = KNOWN_ROOM_VERSIONS
NOW = 10_000_000
PEER = "peer.test"
PEER_KEY = generate_signing_key("k")


class Clock:
    def time_ms(self) -> int:
        return NOW

    def monotonic(self) -> float:
        return 1.0


class KeysOnFile:
    """The peer's key as a key ring's storage holds it, valid until ``valid_until_ts``."""

    def __init__(self, valid_until_ts: int) -> None:
        self.key = StoredVerifyKey(PEER, PEER_KEY.key_id, encode_base64(PEER_KEY.verify_key_bytes),
                                   valid_until_ts, None, NOW)

    async def get_verify_keys(self, server_name: str) -> dict[str, StoredVerifyKey]:
        return {self.key.key_id: self.key} if server_name == PEER else {}


class Unreachable:
    async def get_json(self, *args: Any, **kwargs: Any) -> Any:
        raise FederationError("unreachable")

    post_json = get_json


def peer_event(version: RoomVersion, ts: int) -> Event:
    return build_event(
        room_version=version, room_id="!r:peer.test", sender="@u:peer.test", event_type="m.room.message",
        content={"body": "hi"}, prev_event_ids=[], auth_event_ids=[], depth=2, origin_server_ts=ts,
        server_name=PEER, signing_key=PEER_KEY, reference_hashes={},
    )


def ring(valid_until_ts: int) -> KeyRing:
    return KeyRing(KeysOnFile(valid_until_ts), Unreachable(), Clock(), "me.test",  # type: ignore[arg-type]
                   generate_signing_key())


@pytest.mark.parametrize("version", [V[str(n)] for n in range(1, 13)], ids=lambda v: f"v{v.identifier}")
async def test_key_that_expired_before_the_event_counts_only_before_v5(version: RoomVersion) -> None:
    event = peer_event(version, ts=NOW - 1000)
    await ring(valid_until_ts=NOW).verify_event_signatures(event)  # valid at the event: always fine
    stale = ring(valid_until_ts=NOW - 5000)  # the key's validity ended before the event was sent
    if version.enforce_key_validity:
        with pytest.raises(SignatureError, match="valid at"):
            await stale.verify_event_signatures(event)
    else:
        await stale.verify_event_signatures(event)


async def test_a_bad_signature_fails_in_every_version() -> None:
    for version in V.values():
        event = peer_event(version, ts=NOW - 1000)
        forged = Event(event.event_id, {**event.pdu, "origin_server_ts": NOW - 1}, version)
        with pytest.raises(SignatureError):
            await ring(valid_until_ts=NOW).verify_event_signatures(forged)


def _member_join(version: RoomVersion, event_id: str) -> Event:
    pdu: dict[str, Any] = {
        "type": "m.room.member", "state_key": "@u:sender.test", "sender": "@u:sender.test",
        "room_id": "!r:x", "content": {"membership": "join", "join_authorised_via_users_server": "@a:auth.test"},
        "prev_events": [], "auth_events": [], "depth": 2, "origin_server_ts": 1,
    }
    if version.event_id_in_pdu:
        pdu["event_id"] = event_id
    return Event(event_id, pdu, version)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1", {"sender.test", "creator.test"}),
        ("2", {"sender.test", "creator.test"}),
        ("3", {"sender.test"}),
        ("7", {"sender.test"}),
        ("8", {"sender.test", "auth.test"}),
        ("12", {"sender.test", "auth.test"}),
    ],
)
def test_required_signers(version: str, expected: set[str]) -> None:
    # v1/v2: the server that named the event; v8+: the server that authorised the join.
    event = _member_join(V[version], "$e:creator.test")
    assert required_event_signers(event) == expected


async def test_v1_event_named_by_another_server_needs_its_signature_too() -> None:
    event = peer_event(V["1"], ts=NOW - 1000)
    renamed_pdu = {**event.pdu, "event_id": "$e:other.test"}
    renamed = Event("$e:other.test", add_server_signature(renamed_pdu, V["1"], PEER, PEER_KEY), V["1"])
    with pytest.raises(SignatureError, match="other.test"):
        await ring(valid_until_ts=NOW).verify_event_signatures(renamed)
