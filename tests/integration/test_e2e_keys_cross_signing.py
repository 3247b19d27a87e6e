"""Cross-signing over real HTTP.

spec: client-server-api/modules/end_to_end_encryption.md, "Cross-signing";
data/api/client-server/cross_signing.yaml.
"""

from __future__ import annotations

from typing import Any

import nacl.signing

from clients.crypto import OlmAccount
from federation.crypto.base64 import encode_base64
from federation.crypto.signing import encode_json_for_signing
from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp
from tests.integration.test_e2e_keys import query, upload_device

V3 = "/_matrix/client/v3"


class CrossSigningKey:
    def __init__(self, user_id: str, usage: str) -> None:
        self.user_id = user_id
        self.usage = usage
        self.nacl = nacl.signing.SigningKey.generate()
        self.public = encode_base64(bytes(self.nacl.verify_key))
        self.key_id = f"ed25519:{self.public}"

    def sign(self, obj: dict[str, Any]) -> dict[str, Any]:
        signature = encode_base64(self.nacl.sign(encode_json_for_signing(obj)).signature)
        signed = {k: v for k, v in obj.items()}
        signed["signatures"] = {s: dict(v) for s, v in obj.get("signatures", {}).items()}
        signed["signatures"].setdefault(self.user_id, {})[self.key_id] = signature
        return signed

    def body(self, signer: CrossSigningKey | None = None) -> dict[str, Any]:
        obj: dict[str, Any] = {"user_id": self.user_id, "usage": [self.usage], "keys": {self.key_id: self.public}}
        return signer.sign(obj) if signer is not None else obj


class Identity:
    def __init__(self, user_id: str) -> None:
        self.master = CrossSigningKey(user_id, "master")
        self.self_signing = CrossSigningKey(user_id, "self_signing")
        self.user_signing = CrossSigningKey(user_id, "user_signing")

    def upload_body(self) -> dict[str, Any]:
        return {
            "master_key": self.master.body(),
            "self_signing_key": self.self_signing.body(self.master),
            "user_signing_key": self.user_signing.body(self.master),
        }


async def upload_identity(client: MatrixHttp) -> Identity:
    assert client.user_id
    identity = Identity(client.user_id)
    await client.request("POST", f"{V3}/keys/device_signing/upload", identity.upload_body())
    return identity


async def test_first_upload_needs_no_uia_and_query_shows_the_keys(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    identity = await upload_identity(alice)
    own = await query(alice, {alice.user_id or "": []})
    assert own["master_keys"][alice.user_id]["keys"] == {identity.master.key_id: identity.master.public}
    assert own["self_signing_keys"][alice.user_id]["usage"] == ["self_signing"]
    assert alice.user_id in own["user_signing_keys"]
    other = await query(bob, {alice.user_id or "": []})
    assert alice.user_id in other["master_keys"] and alice.user_id in other["self_signing_keys"]
    assert other["user_signing_keys"] == {}  # only visible to its owner


async def test_repeating_the_same_upload_needs_no_uia(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    assert alice.user_id
    identity = Identity(alice.user_id)
    body = identity.upload_body()
    await alice.request("POST", f"{V3}/keys/device_signing/upload", body)
    await alice.request("POST", f"{V3}/keys/device_signing/upload", body)


async def test_replacing_keys_requires_password_uia(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    assert alice.user_id
    await upload_identity(alice)
    replacement = Identity(alice.user_id)
    status, challenge = await alice.status_of(
        "POST", f"{V3}/keys/device_signing/upload", body=replacement.upload_body()
    )
    assert status == 401 and challenge["flows"] == [{"stages": ["m.login.password"]}]
    wrong = {**replacement.upload_body(), "auth": {
        "type": "m.login.password", "session": challenge["session"], "password": "wrong",
        "identifier": {"type": "m.id.user", "user": alice.user_id}}}
    status, failed = await alice.status_of("POST", f"{V3}/keys/device_signing/upload", body=wrong)
    assert status == 401 and failed["errcode"] == "M_FORBIDDEN"
    right = {**replacement.upload_body(), "auth": {
        "type": "m.login.password", "session": challenge["session"], "password": "correct horse",
        "identifier": {"type": "m.id.user", "user": alice.user_id}}}
    await alice.request("POST", f"{V3}/keys/device_signing/upload", right)
    shown = await query(alice, {alice.user_id: []})
    assert shown["master_keys"][alice.user_id]["keys"] == {replacement.master.key_id: replacement.master.public}


async def test_self_signing_key_not_signed_by_the_master_key_is_rejected(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    assert alice.user_id
    identity = Identity(alice.user_id)
    other = CrossSigningKey(alice.user_id, "master")
    body = {"master_key": identity.master.body(), "self_signing_key": identity.self_signing.body(other)}
    status, error = await alice.status_of("POST", f"{V3}/keys/device_signing/upload", body=body)
    assert status == 400 and error["errcode"] == "M_INVALID_SIGNATURE"
    lone = {"self_signing_key": identity.self_signing.body(identity.master)}
    status, error = await alice.status_of("POST", f"{V3}/keys/device_signing/upload", body=lone)
    assert status == 400 and error["errcode"] == "M_MISSING_PARAM"
    mismatched = {"master_key": {**identity.master.body(), "user_id": "@bob:localhost"}}
    status, error = await alice.status_of("POST", f"{V3}/keys/device_signing/upload", body=mismatched)
    assert status == 400


async def test_self_signing_a_device_publishes_the_signature(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    assert alice.user_id and alice.device_id
    account = OlmAccount.create()
    await upload_device(alice, account)
    identity = await upload_identity(alice)
    device = account.device_keys(alice.user_id, alice.device_id)
    signed = identity.self_signing.sign(device)
    result = await alice.request("POST", f"{V3}/keys/signatures/upload",
                                 {alice.user_id: {alice.device_id: signed}})
    assert result == {"failures": {}}
    shown = (await query(bob, {alice.user_id: []}))["device_keys"][alice.user_id][alice.device_id]
    assert identity.self_signing.key_id in shown["signatures"][alice.user_id]


async def test_invalid_signatures_are_reported_per_key(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    assert alice.user_id and alice.device_id
    account = OlmAccount.create()
    await upload_device(alice, account)
    identity = await upload_identity(alice)
    forged = CrossSigningKey(alice.user_id, "self_signing")
    forged.public, forged.key_id = identity.self_signing.public, identity.self_signing.key_id  # claims the real key ID
    signed = forged.sign(account.device_keys(alice.user_id, alice.device_id))
    result = await alice.request("POST", f"{V3}/keys/signatures/upload", {alice.user_id: {alice.device_id: signed}})
    assert result["failures"][alice.user_id][alice.device_id]["errcode"] == "M_INVALID_SIGNATURE"
    shown = (await query(alice, {alice.user_id: []}))["device_keys"][alice.user_id][alice.device_id]
    assert identity.self_signing.key_id not in shown["signatures"][alice.user_id]


async def test_user_signing_signature_is_visible_only_to_the_signer(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    charlie = await homeserver.register("charlie")
    assert alice.user_id and bob.user_id
    alice_id = await upload_identity(alice)
    bob_id = await upload_identity(bob)
    signed = alice_id.user_signing.sign(bob_id.master.body())
    result = await alice.request("POST", f"{V3}/keys/signatures/upload", {bob.user_id: {bob_id.master.public: signed}})
    assert result == {"failures": {}}
    seen_by_alice = (await query(alice, {bob.user_id: []}))["master_keys"][bob.user_id]
    assert alice_id.user_signing.key_id in seen_by_alice["signatures"][alice.user_id]
    seen_by_charlie = (await query(charlie, {bob.user_id: []}))["master_keys"][bob.user_id]
    assert alice.user_id not in seen_by_charlie.get("signatures", {})


async def test_cross_signing_upload_is_a_device_list_change(homeserver: RunningHomeserver) -> None:
    from tests.integration.sync_waiting import sync_until

    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(invite=[bob.user_id])
    await bob.join(room_id)
    since = (await bob.sync())["next_batch"]
    await upload_identity(alice)
    await sync_until(bob, since, lambda r: alice.user_id in r.get("device_lists", {}).get("changed", []))
