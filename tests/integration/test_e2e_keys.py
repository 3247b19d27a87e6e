"""Device keys, one-time and fallback keys over real HTTP.

spec: client-server-api/modules/end_to_end_encryption.md ("Uploading keys",
"Downloading keys", "Claiming one-time keys", "Extensions to /sync",
"Tracking the device list for a user"); data/api/client-server/keys.yaml.
Keys are made by clients.crypto's OlmAccount, so every signature is real.
"""

from __future__ import annotations

import asyncio
from typing import Any

from clients.crypto import OlmAccount, verify_signature
from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp
from tests.integration.sync_waiting import sync_until

V3 = "/_matrix/client/v3"


async def upload_device(client: MatrixHttp, account: OlmAccount, one_time: int = 0,
                        fallback: bool = False) -> dict[str, Any]:
    assert client.user_id and client.device_id
    body: dict[str, Any] = {"device_keys": account.device_keys(client.user_id, client.device_id)}
    if one_time:
        account.generate_one_time_keys(one_time)
        body["one_time_keys"] = account.signed_one_time_keys(client.user_id, client.device_id)
    if fallback:
        account.generate_fallback_key()
        body["fallback_keys"] = account.signed_fallback_keys(client.user_id, client.device_id)
    response = await client.request("POST", f"{V3}/keys/upload", body)
    account.mark_keys_as_published()
    return response


async def query(client: MatrixHttp, wanted: dict[str, list[str]]) -> dict[str, Any]:
    return await client.request("POST", f"{V3}/keys/query", {"device_keys": wanted})


async def claim(client: MatrixHttp, wanted: dict[str, dict[str, str]]) -> dict[str, Any]:
    return await client.request("POST", f"{V3}/keys/claim", {"one_time_keys": wanted})


async def test_upload_answers_one_time_key_counts(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    response = await upload_device(alice, OlmAccount.create(), one_time=5)
    assert response == {"one_time_key_counts": {"signed_curve25519": 5}}
    empty = await alice.request("POST", f"{V3}/keys/upload", {})
    assert empty == {"one_time_key_counts": {"signed_curve25519": 5}}


async def test_query_returns_signed_device_keys_with_display_name(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    await alice.request("PUT", f"{V3}/devices/{alice.device_id}", {"display_name": "Alice's phone"})
    account = OlmAccount.create()
    await upload_device(alice, account)
    result = await query(bob, {alice.user_id: []})
    device = result["device_keys"][alice.user_id][alice.device_id]
    assert device["keys"][f"ed25519:{alice.device_id}"] == account.ed25519_key
    assert device["keys"][f"curve25519:{alice.device_id}"] == account.curve25519_key
    assert device["unsigned"] == {"device_display_name": "Alice's phone"}
    verify_signature(device, alice.user_id, f"ed25519:{alice.device_id}", account.ed25519_key)
    assert result["failures"] == {}
    only = await query(bob, {alice.user_id: ["NOSUCHDEVICE"]})
    assert only["device_keys"][alice.user_id] == {}


async def test_device_keys_for_another_device_are_rejected(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    assert alice.user_id
    keys = OlmAccount.create().device_keys(alice.user_id, "OTHERDEVICE")
    status, body = await alice.status_of("POST", f"{V3}/keys/upload", body={"device_keys": keys})
    assert status == 400 and body["errcode"] == "M_INVALID_PARAM"
    keys = OlmAccount.create().device_keys("@mallory:localhost", alice.device_id or "")
    status, body = await alice.status_of("POST", f"{V3}/keys/upload", body={"device_keys": keys})
    assert status == 400 and body["errcode"] == "M_INVALID_PARAM"


async def test_device_keys_with_a_bad_self_signature_are_rejected(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    assert alice.user_id and alice.device_id
    keys = OlmAccount.create().device_keys(alice.user_id, alice.device_id)
    keys["keys"][f"curve25519:{alice.device_id}"] = OlmAccount.create().curve25519_key  # signed data changed
    status, body = await alice.status_of("POST", f"{V3}/keys/upload", body={"device_keys": keys})
    assert status == 400 and body["errcode"] == "M_INVALID_SIGNATURE"
    unsigned = {k: v for k, v in OlmAccount.create().device_keys(alice.user_id, alice.device_id).items()
                if k != "signatures"}
    status, body = await alice.status_of("POST", f"{V3}/keys/upload", body={"device_keys": unsigned})
    assert status == 400 and body["errcode"] == "M_INVALID_SIGNATURE"
    # Nothing was stored.
    assert (await query(alice, {alice.user_id: []}))["device_keys"][alice.user_id] == {}


async def test_one_time_key_signed_by_another_key_is_rejected(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    assert alice.user_id and alice.device_id
    await upload_device(alice, OlmAccount.create())
    stranger = OlmAccount.create()
    stranger.generate_one_time_keys(1)
    body = {"one_time_keys": stranger.signed_one_time_keys(alice.user_id, alice.device_id)}
    status, error = await alice.status_of("POST", f"{V3}/keys/upload", body=body)
    assert status == 400 and error["errcode"] == "M_INVALID_SIGNATURE"


async def test_reuploading_a_one_time_key_id_with_other_contents_is_an_error(
    homeserver: RunningHomeserver,
) -> None:
    alice = await homeserver.register("alice")
    await alice.request("POST", f"{V3}/keys/upload", {"one_time_keys": {"curve25519:AAAA": "a2V5MQ"}})
    same = await alice.request("POST", f"{V3}/keys/upload", {"one_time_keys": {"curve25519:AAAA": "a2V5MQ"}})
    assert same["one_time_key_counts"] == {"curve25519": 1}
    status, body = await alice.status_of(
        "POST", f"{V3}/keys/upload", body={"one_time_keys": {"curve25519:AAAA": "a2V5Mg"}}
    )
    assert status == 400 and body["errcode"] == "M_INVALID_PARAM"


async def test_malformed_uploads_are_4xx(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    for body in ({"device_keys": "x"}, {"one_time_keys": []}, {"one_time_keys": {"nocolon": "k"}},
                 {"one_time_keys": {"signed_curve25519:A": {"no": "key"}}}, {"fallback_keys": 3}):
        status, error = await alice.status_of("POST", f"{V3}/keys/upload", body=body)
        assert status == 400, (body, error)
    for path, body in ((f"{V3}/keys/query", {}), (f"{V3}/keys/query", {"device_keys": {"@a:b": "x"}}),
                       (f"{V3}/keys/claim", {}), (f"{V3}/keys/claim", {"one_time_keys": {"@a:b": ["x"]}})):
        status, error = await alice.status_of("POST", path, body=body)
        assert status == 400, (path, body, error)


async def test_claim_hands_out_each_one_time_key_once(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    assert alice.user_id and alice.device_id
    account = OlmAccount.create()
    await upload_device(alice, account, one_time=4)
    wanted = {alice.user_id: {alice.device_id: "signed_curve25519"}}
    results = await asyncio.gather(*(claim(bob, wanted) for _ in range(4)))
    claimed = [next(iter(r["one_time_keys"][alice.user_id][alice.device_id])) for r in results]
    assert len(set(claimed)) == 4
    counts = await alice.request("POST", f"{V3}/keys/upload", {})
    assert counts["one_time_key_counts"].get("signed_curve25519", 0) == 0
    # The claimed key is the signed object that was uploaded.
    key_obj = results[0]["one_time_keys"][alice.user_id][alice.device_id][claimed[0]]
    assert set(key_obj) == {"key", "signatures"}
    assert (await claim(bob, wanted))["one_time_keys"] == {}


async def test_claim_falls_back_to_the_fallback_key_and_sync_reports_it_used(
    homeserver: RunningHomeserver,
) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    assert alice.user_id and alice.device_id
    await upload_device(alice, OlmAccount.create(), one_time=1, fallback=True)
    first = await alice.sync()
    assert first["device_one_time_keys_count"] == {"signed_curve25519": 1}
    assert first["device_unused_fallback_key_types"] == ["signed_curve25519"]
    wanted = {alice.user_id: {alice.device_id: "signed_curve25519"}}
    one = (await claim(bob, wanted))["one_time_keys"][alice.user_id][alice.device_id]
    fb1 = (await claim(bob, wanted))["one_time_keys"][alice.user_id][alice.device_id]
    fb2 = (await claim(bob, wanted))["one_time_keys"][alice.user_id][alice.device_id]
    assert "fallback" not in next(iter(one.values()))
    assert next(iter(fb1.values()))["fallback"] is True
    assert fb1 == fb2  # the fallback key is not deleted once used
    after = await alice.sync(since=first["next_batch"])
    assert after["device_one_time_keys_count"] == {"signed_curve25519": 0}
    assert after["device_unused_fallback_key_types"] == []


async def test_uploading_device_keys_is_a_device_list_change_for_room_mates(
    homeserver: RunningHomeserver,
) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(invite=[bob.user_id])
    await bob.join(room_id)
    since = (await bob.sync())["next_batch"]
    await upload_device(alice, OlmAccount.create())
    response, _ = await sync_until(
        bob, since, lambda r: alice.user_id in r.get("device_lists", {}).get("changed", [])
    )
    changes = await bob.request("GET", f"{V3}/keys/changes", params={"from": since, "to": response["next_batch"]})
    assert alice.user_id in changes["changed"]
    assert changes["left"] == []


async def test_keys_changes_lists_users_we_no_longer_share_a_room_with(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(invite=[bob.user_id])
    await bob.join(room_id)
    since = (await alice.sync())["next_batch"]
    await bob.leave(room_id)
    upto = (await alice.sync(since=since))["next_batch"]
    changes = await alice.request("GET", f"{V3}/keys/changes", params={"from": since, "to": upto})
    assert changes["left"] == [bob.user_id]
    status, body = await alice.status_of("GET", f"{V3}/keys/changes", params={"from": since})
    assert status == 400 and body["errcode"] == "M_MISSING_PARAM"
    status, body = await alice.status_of("GET", f"{V3}/keys/changes", params={"from": "x", "to": upto})
    assert status == 400


async def test_deleting_a_device_deletes_its_keys(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    assert alice.user_id and alice.device_id
    await upload_device(alice, OlmAccount.create(), one_time=2)
    second = homeserver.api()
    await second.login("alice")
    await upload_device(second, OlmAccount.create(), one_time=2)
    assert len((await query(bob, {alice.user_id: []}))["device_keys"][alice.user_id]) == 2
    await second.request("POST", f"{V3}/logout", {})
    devices = (await query(bob, {alice.user_id: []}))["device_keys"][alice.user_id]
    assert list(devices) == [alice.device_id]
    claimed = await claim(bob, {alice.user_id: {second.device_id or "": "signed_curve25519"}})
    assert claimed["one_time_keys"] == {}


async def test_remote_users_are_listed_as_failures(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    result = await alice.request("POST", f"{V3}/keys/query",
                                 {"device_keys": {"@bob:unreachable.invalid": []}, "timeout": 2000})
    assert "unreachable.invalid" in result["failures"]
    assert "@bob:unreachable.invalid" not in result["device_keys"]
    claimed = await alice.request("POST", f"{V3}/keys/claim", {
        "one_time_keys": {"@bob:unreachable.invalid": {"DEV": "signed_curve25519"}}, "timeout": 2000})
    assert "unreachable.invalid" in claimed["failures"]


async def test_malformed_ids_and_signatures_are_4xx_not_500(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    assert alice.user_id and alice.device_id
    for path, body in ((f"{V3}/keys/query", {"device_keys": {"not-a-user": []}}),
                       (f"{V3}/keys/claim", {"one_time_keys": {"bob": {"D": "signed_curve25519"}}}),
                       (f"{V3}/keys/query", {"device_keys": {}, "timeout": "soon"})):
        status, error = await alice.status_of("POST", path, body=body)
        assert status == 400, (path, body, error)
    # Extra signatures of odd shapes beside a valid self-signature are stored and served safely.
    keys = OlmAccount.create().device_keys(alice.user_id, alice.device_id)
    keys["signatures"]["@someone:else"] = "not an object"
    await alice.request("POST", f"{V3}/keys/upload", {"device_keys": keys})
    shown = (await query(bob, {alice.user_id: []}))["device_keys"][alice.user_id][alice.device_id]
    assert "@someone:else" not in shown["signatures"]
    for bad in ({"device_keys": {**keys, "signatures": []}},
                {"device_keys": {**keys, "keys": {f"ed25519:{alice.device_id}": "!!"}}}):
        status, error = await alice.status_of("POST", f"{V3}/keys/upload", body=bad)
        assert status == 400, (bad, error)
    for bad_signed in ({alice.device_id: {"signatures": ["x"]}}, {alice.device_id: "x"}):
        status, result = await alice.status_of("POST", f"{V3}/keys/signatures/upload",
                                               body={alice.user_id: bad_signed})
        assert status in (200, 400), result
        if status == 200:
            assert alice.device_id in result["failures"][alice.user_id]
    master = {"user_id": alice.user_id, "usage": ["master"], "keys": {"ed25519:bad": "bad"}}
    status, _ = await alice.status_of("POST", f"{V3}/keys/device_signing/upload", body={"master_key": master})
    assert status == 400


async def test_one_time_keys_per_device_are_bounded(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    for batch in range(2):
        keys = {f"curve25519:K{batch}_{n}": f"a2V5{batch}{n}" for n in range(500)}
        await alice.request("POST", f"{V3}/keys/upload", {"one_time_keys": keys})
    status, error = await alice.status_of("POST", f"{V3}/keys/upload",
                                          body={"one_time_keys": {"curve25519:one_more": "a2V5"}})
    assert status == 400 and error["errcode"] == "M_INVALID_PARAM"
    status, error = await alice.status_of("POST", f"{V3}/keys/upload", body={
        "one_time_keys": {f"curve25519:X{n}": "a2V5" for n in range(501)}})
    assert status == 400
