"""End-to-end encryption keys across two federating homeservers on loopback.

spec: server-server-api.md, "End-to-End Encryption" (POST /user/keys/query,
POST /user/keys/claim), "Device Management" (GET /user/devices/{userId});
client-server keys.yaml: /keys/query and /keys/claim fan out to remote servers
and list the unreachable ones in ``failures``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clients.crypto import OlmAccount
from clients.sdk.crypto_machine import OlmMachine
from federation.transport.errors import FederationHttpError
from tests.federation.harness import federated_homeservers
from tests.http_client import q
from tests.integration.sync_waiting import sync_until
from tests.integration.test_e2e_keys import claim, query, upload_device
from tests.integration.test_e2e_keys_cross_signing import upload_identity

V3 = "/_matrix/client/v3"


async def test_remote_device_and_cross_signing_keys_are_queried_over_federation(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        assert alice.user_id and alice.device_id
        account = OlmAccount.create()
        await upload_device(alice, account)
        identity = await upload_identity(alice)
        result = await query(bob, {alice.user_id: []})
        assert result["failures"] == {}
        device = result["device_keys"][alice.user_id][alice.device_id]
        assert device["keys"][f"ed25519:{alice.device_id}"] == account.ed25519_key
        assert result["master_keys"][alice.user_id]["keys"] == {identity.master.key_id: identity.master.public}
        assert alice.user_id in result["self_signing_keys"]
        assert result["user_signing_keys"] == {}  # never shown to other users


async def test_remote_one_time_key_is_claimed_over_federation(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        assert alice.user_id and alice.device_id
        await upload_device(alice, OlmAccount.create(), one_time=1)
        wanted = {alice.user_id: {alice.device_id: "signed_curve25519"}}
        first = await claim(bob, wanted)
        assert first["failures"] == {}
        assert len(first["one_time_keys"][alice.user_id][alice.device_id]) == 1
        assert (await claim(bob, wanted))["one_time_keys"] == {}
        counts = await alice.request("POST", f"{V3}/keys/upload", {})
        assert counts["one_time_key_counts"].get("signed_curve25519", 0) == 0


async def test_user_devices_lists_devices_with_keys(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        assert alice.user_id and alice.device_id
        await alice.request("PUT", f"{V3}/devices/{alice.device_id}", {"display_name": "laptop"})
        await upload_device(alice, OlmAccount.create())
        await upload_identity(alice)
        answer = await hs2.hs.federation_client.get_json(
            hs1.server_name, f"/_matrix/federation/v1/user/devices/{q(alice.user_id)}"
        )
        assert answer["user_id"] == alice.user_id and isinstance(answer["stream_id"], int)
        [device] = answer["devices"]
        assert device["device_id"] == alice.device_id and device["device_display_name"] == "laptop"
        assert "unsigned" not in device["keys"]
        assert "master_key" in answer and "self_signing_key" in answer
        for unknown in (f"@nobody:{hs1.server_name}", f"@someone:{hs2.server_name}"):
            with pytest.raises(FederationHttpError) as caught:
                await hs2.hs.federation_client.get_json(
                    hs1.server_name, f"/_matrix/federation/v1/user/devices/{q(unknown)}"
                )
            assert caught.value.status == 404


async def test_unreachable_server_is_listed_in_failures(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        assert bob.user_id and bob.device_id
        await upload_device(bob, OlmAccount.create(), one_time=1)
        await hs2.stop()
        result = await alice.request("POST", f"{V3}/keys/query",
                                     {"device_keys": {bob.user_id: []}, "timeout": 3000})
        assert hs2.server_name in result["failures"]
        assert bob.user_id not in result["device_keys"]
        claimed = await alice.request("POST", f"{V3}/keys/claim", {
            "one_time_keys": {bob.user_id: {bob.device_id: "signed_curve25519"}}, "timeout": 3000})
        assert hs2.server_name in claimed["failures"] and claimed["one_time_keys"] == {}


async def test_encrypted_messages_between_users_on_two_servers(tmp_path: Path) -> None:
    from clients.sdk import AsyncClient
    from tests.integration.test_e2ee_sdk import create_encrypted_room, wait_for_body
    from tests.integration.test_sdk_client import Syncing

    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = AsyncClient(hs1.base_url)
        bob = AsyncClient(hs2.base_url)
        try:
            await alice.register("alice", "pw-alice")
            await bob.register("bob", "pw-bob")
            await OlmMachine.attach(alice, otk_target=5)
            await OlmMachine.attach(bob, otk_target=5)
            room_id = await create_encrypted_room(alice, [bob.require_user_id()])
            raw_bob = hs2.api(bob.access_token)
            await sync_until(raw_bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
            await bob.join(room_id)
            raw_alice = hs1.api(alice.access_token)
            await sync_until(raw_alice, None, lambda r: bob.user_id in str(r.get("rooms", {}).get("join", {})),
                             within=15.0)
            async with Syncing(alice), Syncing(bob):
                await alice.send_text(room_id, "across servers, encrypted")
                await wait_for_body(bob, room_id, "across servers, encrypted")
                await bob.send_text(room_id, "and back again")
                await wait_for_body(alice, room_id, "and back again")
        finally:
            await alice.close()
            await bob.close()
