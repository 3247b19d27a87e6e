"""Server-side key backup over real HTTP.

spec: client-server-api/modules/end_to_end_encryption.md, "Server-side key backups";
data/api/client-server/key_backup.yaml.
"""

from __future__ import annotations

from typing import Any

import pytest

from homeserver.services.e2ee.key_backup import should_replace
from homeserver.storage.key_backup import BackedUpSession
from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp

V3 = "/_matrix/client/v3"
ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!room:localhost"


def key_data(first_index: int = 0, forwarded: int = 0, verified: bool = False, tag: str = "a") -> dict[str, Any]:
    return {
        "first_message_index": first_index, "forwarded_count": forwarded, "is_verified": verified,
        "session_data": {"ephemeral": tag, "ciphertext": tag, "mac": tag},
    }


async def create_backup(client: MatrixHttp, public_key: str = "pk") -> str:
    body = {"algorithm": ALGORITHM, "auth_data": {"public_key": public_key}}
    return (await client.request("POST", f"{V3}/room_keys/version", body))["version"]


async def put_session(client: MatrixHttp, version: str, session_id: str, data: dict[str, Any],
                      expect: int = 200) -> Any:
    return await client.request("PUT", f"{V3}/room_keys/keys/{ROOM}/{session_id}", data,
                                params={"version": version}, expect=expect)


async def test_create_and_read_back_versions(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    status, error = await alice.status_of("GET", f"{V3}/room_keys/version")
    assert status == 404 and error["errcode"] == "M_NOT_FOUND"
    first = await create_backup(alice, "pk1")
    second = await create_backup(alice, "pk2")
    assert first != second
    latest = await alice.request("GET", f"{V3}/room_keys/version")
    assert latest == {"algorithm": ALGORITHM, "auth_data": {"public_key": "pk2"}, "count": 0,
                      "etag": latest["etag"], "version": second}
    by_version = await alice.request("GET", f"{V3}/room_keys/version/{first}")
    assert by_version["auth_data"] == {"public_key": "pk1"}
    for bad in ("999", "abc"):
        status, error = await alice.status_of("GET", f"{V3}/room_keys/version/{bad}")
        assert status == 404 and error["errcode"] == "M_NOT_FOUND"


async def test_versions_are_private_to_their_user(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    await create_backup(alice)
    status, _ = await bob.status_of("GET", f"{V3}/room_keys/version")
    assert status == 404


async def test_update_checks_the_version_and_algorithm(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    version = await create_backup(alice)
    await alice.request("PUT", f"{V3}/room_keys/version/{version}",
                        {"algorithm": ALGORITHM, "auth_data": {"public_key": "new"}, "version": version})
    assert (await alice.request("GET", f"{V3}/room_keys/version"))["auth_data"] == {"public_key": "new"}
    status, error = await alice.status_of("PUT", f"{V3}/room_keys/version/{version}", body={
        "algorithm": ALGORITHM, "auth_data": {}, "version": "77"})
    assert status == 400 and error["errcode"] == "M_INVALID_PARAM"
    status, error = await alice.status_of("PUT", f"{V3}/room_keys/version/77", body={
        "algorithm": ALGORITHM, "auth_data": {}})
    assert status == 404
    status, error = await alice.status_of("POST", f"{V3}/room_keys/version", body={"algorithm": "x", "auth_data": {}})
    assert status == 400


async def test_delete_version(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    version = await create_backup(alice)
    await put_session(alice, version, "s1", key_data())
    await alice.request("DELETE", f"{V3}/room_keys/version/{version}")
    status, _ = await alice.status_of("GET", f"{V3}/room_keys/version/{version}")
    assert status == 404
    status, _ = await alice.status_of("DELETE", f"{V3}/room_keys/version/{version}")
    assert status == 404
    # A new version never reuses the deleted number.
    assert await create_backup(alice) != version


async def test_keys_round_trip_with_count_and_etag(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    version = await create_backup(alice)
    first = await put_session(alice, version, "s1", key_data())
    assert first["count"] == 1
    body = {"rooms": {ROOM: {"sessions": {"s2": key_data(tag="b")}}, "!other:localhost": {"sessions": {"s3": key_data()}}}}
    second = await alice.request("PUT", f"{V3}/room_keys/keys", body, params={"version": version})
    assert second["count"] == 3 and second["etag"] != first["etag"]
    everything = await alice.request("GET", f"{V3}/room_keys/keys", params={"version": version})
    assert set(everything["rooms"][ROOM]["sessions"]) == {"s1", "s2"}
    room = await alice.request("GET", f"{V3}/room_keys/keys/{ROOM}", params={"version": version})
    assert room["sessions"]["s2"] == key_data(tag="b")
    one = await alice.request("GET", f"{V3}/room_keys/keys/{ROOM}/s1", params={"version": version})
    assert one == key_data()
    status, error = await alice.status_of("GET", f"{V3}/room_keys/keys/{ROOM}/nope", params={"version": version})
    assert status == 404 and error["errcode"] == "M_NOT_FOUND"
    assert (await alice.request("GET", f"{V3}/room_keys/version"))["count"] == 3
    deleted = await alice.request("DELETE", f"{V3}/room_keys/keys/{ROOM}/s1", params={"version": version})
    assert deleted["count"] == 2
    deleted = await alice.request("DELETE", f"{V3}/room_keys/keys", params={"version": version})
    assert deleted["count"] == 0


async def test_writing_to_an_old_version_is_wrong_room_keys_version(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    old = await create_backup(alice)
    current = await create_backup(alice)
    error = await put_session(alice, old, "s1", key_data(), expect=403)
    assert error["errcode"] == "M_WRONG_ROOM_KEYS_VERSION" and error["current_version"] == current
    status, error = await alice.status_of("PUT", f"{V3}/room_keys/keys/{ROOM}/s1", body=key_data())
    assert status == 400 and error["errcode"] == "M_MISSING_PARAM"


async def test_replacement_rules(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    version = await create_backup(alice)

    async def stored() -> dict[str, Any]:
        return await alice.request("GET", f"{V3}/room_keys/keys/{ROOM}/s", params={"version": version})

    await put_session(alice, version, "s", key_data(first_index=5, forwarded=2, tag="start"))
    await put_session(alice, version, "s", key_data(first_index=9, tag="later index"))
    assert (await stored())["session_data"]["ciphertext"] == "start"
    await put_session(alice, version, "s", key_data(first_index=5, forwarded=1, tag="fewer forwards"))
    assert (await stored())["session_data"]["ciphertext"] == "fewer forwards"
    await put_session(alice, version, "s", key_data(first_index=20, forwarded=9, verified=True, tag="verified"))
    assert (await stored())["session_data"]["ciphertext"] == "verified"
    await put_session(alice, version, "s", key_data(first_index=0, forwarded=0, tag="unverified"))
    assert (await stored())["session_data"]["ciphertext"] == "verified"


async def test_malformed_key_data_is_400(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    version = await create_backup(alice)
    for bad in ({}, {**key_data(), "is_verified": "yes"}, {**key_data(), "first_message_index": -1},
                {**key_data(), "session_data": "x"}):
        status, _ = await alice.status_of("PUT", f"{V3}/room_keys/keys/{ROOM}/s", body=bad, params={"version": version})
        assert status == 400, bad
    status, _ = await alice.status_of("PUT", f"{V3}/room_keys/keys", body={"rooms": []}, params={"version": version})
    assert status == 400


# The replacement rules as a table (pure function, no server).
REPLACEMENT_CASES = [
    # (old (verified, first index, forwarded), new, new replaces old?)
    ((False, 0, 0), (True, 9, 9), True),     # verified beats unverified, whatever the rest
    ((True, 0, 0), (False, 0, 0), False),
    ((False, 5, 0), (False, 4, 9), True),    # then the lower first_message_index
    ((False, 4, 0), (False, 5, 0), False),
    ((False, 4, 3), (False, 4, 2), True),    # then the lower forwarded_count
    ((False, 4, 2), (False, 4, 3), False),
    ((True, 4, 2), (True, 4, 2), False),     # identical: keep what is stored
]


@pytest.mark.parametrize(("old", "new", "replaces"), REPLACEMENT_CASES)
def test_replacement_rule_table(old: tuple[bool, int, int], new: tuple[bool, int, int], replaces: bool) -> None:
    def session(values: tuple[bool, int, int]) -> BackedUpSession:
        return BackedUpSession(ROOM, "s", values[1], values[2], values[0], {})

    assert should_replace(session(old), session(new)) is replaces
