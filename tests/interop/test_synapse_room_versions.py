"""Rooms of the older versions between Parley and a real Synapse, both directions.

spec: rooms/v1.md … v9.md; server-server-api.md "Joining Rooms", "Inviting to a room".
Synapse checks what Parley builds (v1 event IDs and reference pairs, lenient JSON,
signatures from the event ID's server) and Parley checks what Synapse builds.
Run with ``pytest -m synapse``; without a Synapse install these tests skip.
"""

from __future__ import annotations

import pytest
from aiohttp import ClientSession

from tests.http_client import q
from tests.interop.conftest import TlsParley
from tests.interop.synapse_peer import SynapsePeer
from tests.interop.test_synapse_federation import Syncer, eventually, synapse_user

pytestmark = [pytest.mark.synapse, pytest.mark.slow]

V3 = "/_matrix/client/v3"


@pytest.mark.parametrize("version", ["1", "9"])
async def test_parley_user_joins_a_synapse_room_of_version(
    parley: TlsParley, synapse: SynapsePeer, synapse_http: ClientSession, version: str
) -> None:
    bob = await synapse_user(synapse, synapse_http, "bob")
    room_id = await bob.create_room(preset="public_chat", name="Synapse v" + version, room_version=version)
    await bob.send(room_id, "before the join")
    alice = await parley.register("alice")
    await alice.request("POST", f"{V3}/join/{q(room_id)}", {}, params={"server_name": synapse.server_name})
    create = await alice.request("GET", f"{V3}/rooms/{q(room_id)}/state/m.room.create")
    assert create["room_version"] == version

    alice_sync = Syncer(alice)
    await bob.send(room_id, "hello from Synapse")
    await alice_sync.wait_for_body(room_id, "hello from Synapse")
    await bob.send_state(room_id, "m.room.topic", {"topic": "set on Synapse"})

    async def topic_arrived() -> bool:
        status, body = await alice.status_of("GET", f"{V3}/rooms/{q(room_id)}/state/m.room.topic")
        return status == 200 and body.get("topic") == "set on Synapse"
    await eventually(topic_arrived, "Synapse's topic on Parley")

    bob_sync = Syncer(bob)
    await alice.send(room_id, "hello from Parley")
    await bob_sync.wait_for_body(room_id, "hello from Parley")


@pytest.mark.parametrize("version", ["1", "9"])
async def test_synapse_user_joins_a_parley_room_of_version(
    parley: TlsParley, synapse: SynapsePeer, synapse_http: ClientSession, version: str
) -> None:
    alice = await parley.register("alice")
    bob = await synapse_user(synapse, synapse_http, "bob")
    room_id = await alice.create_room(preset="private_chat", name="Parley v" + version, room_version=version)
    await alice.invite(room_id, bob.user_id)  # type: ignore[arg-type]
    bob_sync = Syncer(bob)
    await bob_sync.wait_for_invite(room_id)
    await bob.request("POST", f"{V3}/join/{q(room_id)}", {})

    async def bob_joined() -> bool:
        members = await alice.request("GET", f"{V3}/rooms/{q(room_id)}/joined_members")
        return bob.user_id in members["joined"]
    await eventually(bob_joined, "bob's join on Parley")

    alice_sync = Syncer(alice)
    await alice.send(room_id, "hello from Parley")
    await bob_sync.wait_for_body(room_id, "hello from Parley")
    await bob.send(room_id, "hello from Synapse")
    await alice_sync.wait_for_body(room_id, "hello from Synapse")
    # A redaction by Parley's user of her own line reaches Synapse.
    line = (await alice.messages(room_id, dir="b", limit=10))["chunk"]
    mine = next(e["event_id"] for e in line if e["content"].get("body") == "hello from Parley")
    await alice.request("PUT", f"{V3}/rooms/{q(room_id)}/redact/{q(mine)}/r1", {})

    async def redacted_on_synapse() -> bool:
        status, event = await bob.status_of("GET", f"{V3}/rooms/{q(room_id)}/event/{q(mine)}")
        return status == 200 and event.get("content") == {}
    await eventually(redacted_on_synapse, "the redaction on Synapse")
