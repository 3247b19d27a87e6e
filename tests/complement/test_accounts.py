"""Accounts, devices & server basics, from Complement's checklist; lines not already covered
in tests/integration/test_accounts.py, test_robustness.py and test_moderation.py.

spec: data/api/client-server/{capabilities,versions,login,registration,device_management,
pusher}.yaml; client-server-api/_index.md "Unknown endpoints" (404/405 M_UNRECOGNIZED).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.conftest import RunningHomeserver, start_homeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until
from tests.integration.test_admin_users import make_admin

V3 = "/_matrix/client/v3"
S1 = "/_synapse/admin/v1"


# Complement: TestServerCapabilities
async def test_capabilities_list_room_versions_and_change_password(homeserver) -> None:
    alice = await homeserver.register("alice")
    caps = (await alice.request("GET", f"{V3}/capabilities"))["capabilities"]
    assert isinstance(caps["m.room_versions"]["default"], str)
    assert caps["m.room_versions"]["available"][caps["m.room_versions"]["default"]] in ("stable", "unstable")
    assert caps["m.change_password"]["enabled"] is True
    status, body = await homeserver.api().status_of("GET", f"{V3}/capabilities")
    assert status == 401 and body["errcode"] == "M_MISSING_TOKEN"


# Complement: TestVersionStructure / Version responds 200 OK with valid structure
async def test_versions_have_valid_structure(homeserver) -> None:
    body = await homeserver.api().request("GET", "/_matrix/client/versions")
    assert body["versions"]
    for version in body["versions"]:
        assert re.fullmatch(r"r\d+\.\d+\.\d+|v\d+\.\d+", version), version
    for key, value in body.get("unstable_features", {}).items():
        assert isinstance(key, str) and isinstance(value, bool)


# Complement: TestUnknownEndpoints / Unknown prefix, Server-server, Key and Media endpoints
async def test_unknown_paths_and_wrong_methods_are_unrecognized(homeserver) -> None:
    api = homeserver.api()
    for method, path, status in [
        ("GET", "/_matrix/unknown/v1/thing", 404),
        ("PUT", "/_matrix/federation/v1/version", 405),
        ("PUT", "/_matrix/key/v2/query", 405),
        ("PATCH", "/_matrix/media/v3/upload", 405),
        ("GET", "/_matrix/federation/v1/unknown_endpoint", 404),
        ("GET", "/_matrix/media/v3/unknown_endpoint", 404),
    ]:
        got, body = await api.status_of(method, path)
        assert (got, body.get("errcode") if isinstance(body, dict) else body) == (status, "M_UNRECOGNIZED"), path


# Complement: TestDeviceManagement / GET /device/{deviceId}
async def test_device_has_login_display_name(homeserver) -> None:
    await homeserver.register("alice")
    alice = homeserver.api()
    await alice.login("alice", device_id="LOGIN_DEVICE", initial_device_display_name="My phone")
    device = await alice.request("GET", f"{V3}/devices/LOGIN_DEVICE")
    assert device["device_id"] == "LOGIN_DEVICE" and device["display_name"] == "My phone"


async def set_pusher(client: MatrixHttp, pushkey: str) -> None:
    await client.request("POST", f"{V3}/pushers/set", {
        "kind": "http", "app_id": "complement", "app_display_name": "Complement", "device_display_name": "d",
        "pushkey": pushkey, "lang": "en", "data": {"url": "http://127.0.0.1:1/_matrix/push/v1/notify"},
    })


async def change_password(client: MatrixHttp) -> None:
    body = {"new_password": "new password", "auth": {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": client.user_id},
        "password": "correct horse"}}
    await client.request("POST", f"{V3}/account/password", body)


# Complement: TestChangePasswordPushers / Pushers created with a different access token are deleted
async def test_password_change_deletes_other_sessions_pushers(homeserver) -> None:
    alice = await homeserver.register("alice")
    other = homeserver.api()
    await other.login("alice")
    await set_pusher(other, "other-session")
    await change_password(alice)
    assert (await alice.request("GET", f"{V3}/pushers"))["pushers"] == []


# Complement: TestChangePasswordPushers / Pushers created with the same access token are not deleted
async def test_password_change_keeps_own_sessions_pushers(homeserver) -> None:
    alice = await homeserver.register("alice")
    await set_pusher(alice, "own-session")
    await change_password(alice)
    pushers = (await alice.request("GET", f"{V3}/pushers"))["pushers"]
    assert [p["pushkey"] for p in pushers] == ["own-session"]


async def notice(admin: MatrixHttp, user_id: str, body: str) -> str:
    sent = await admin.request("POST", f"{S1}/send_server_notice",
                               {"user_id": user_id, "content": {"msgtype": "m.text", "body": body}})
    return str(sent["event_id"])


# Complement: TestServerNotices / /send_server_notice is not allowed as normal user
async def test_server_notice_needs_an_admin(homeserver) -> None:
    alice = await homeserver.register("alice")
    status, body = await alice.status_of("POST", f"{S1}/send_server_notice",
                                         body={"user_id": alice.user_id, "content": {"body": "x"}})
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"


# Complement: TestServerNotices / Alice can leave the alert room, after joining it
# + After leaving the alert room and on re-invitation, no new room is created
async def test_server_notices_room_can_be_left_and_is_reused(homeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    await notice(admin, alice.user_id or "", "first")
    response, since = await sync_until(alice, None, lambda r: bool(r.get("rooms", {}).get("invite")))
    (room_id,) = response["rooms"]["invite"]
    await alice.join(room_id)
    await alice.leave(room_id)
    await notice(admin, alice.user_id or "", "second")
    response, _ = await sync_until(alice, since, lambda r: room_id in r.get("rooms", {}).get("invite", {}))
    assert list(response["rooms"]["invite"]) == [room_id]


# Complement: TestServerNotices / Sending a notice with a transactionID is idempotent
async def test_server_notice_with_transaction_id_is_idempotent(homeserver) -> None:
    admin = await make_admin(homeserver)
    alice = await homeserver.register("alice")
    body = {"user_id": alice.user_id, "content": {"msgtype": "m.text", "body": "once"}}
    first = await admin.request("PUT", f"{S1}/send_server_notice/{q('txn1')}", body)
    again = await admin.request("PUT", f"{S1}/send_server_notice/{q('txn1')}", body)
    assert first["event_id"] == again["event_id"]


# --- Synapse's shared-secret registration (/_synapse/admin/v1/register) -------------------------------
SECRET = "complement-shared-secret"


@pytest.fixture
async def secret_server(config_factory) -> AsyncIterator[RunningHomeserver]:  # type: ignore[no-untyped-def]
    hs, server = await start_homeserver(config_factory(registration={"shared_secret": SECRET}))
    async with ClientSession() as session:
        yield RunningHomeserver(hs, server, session)
    await server.close()


async def shared_secret_register(server: RunningHomeserver, username: str, admin: bool,
                                 expect: int = 200) -> Any:
    api = server.api()
    nonce = (await api.request("GET", f"{S1}/register"))["nonce"]
    mac = hmac.new(SECRET.encode(), "\x00".join(
        [nonce, username, "correct horse", "admin" if admin else "notadmin"]).encode(), hashlib.sha1).hexdigest()
    return await api.request("POST", f"{S1}/register", {
        "nonce": nonce, "username": username, "password": "correct horse", "admin": admin, "mac": mac,
    }, expect=expect)


# Complement: TestRegistration / POST /_synapse/admin/v1/register admin with shared secret + TestCanRegisterAdmin
async def test_shared_secret_registers_an_admin(secret_server: RunningHomeserver) -> None:
    answer = await shared_secret_register(secret_server, "boss", admin=True)
    assert answer["user_id"] == "@boss:localhost"
    boss = secret_server.api(answer["access_token"])
    await boss.request("GET", f"{S1}/server_version")  # an admin-only endpoint


# Complement: TestRegistration / POST /_synapse/admin/v1/register with shared secret
# + ... downcases capitals
async def test_shared_secret_registers_a_user_downcased(secret_server: RunningHomeserver) -> None:
    answer = await shared_secret_register(secret_server, "Jane-UPPER", admin=False)
    assert answer["user_id"] == "@jane-upper:localhost"
    jane = secret_server.api(answer["access_token"])
    status, _ = await jane.status_of("GET", f"{S1}/server_version")
    assert status == 403


# Complement: TestRegistration / POST /_synapse/admin/v1/register with shared secret disallows symbols
async def test_shared_secret_registration_rejects_symbols(secret_server: RunningHomeserver) -> None:
    error = await shared_secret_register(secret_server, "bad,name", admin=False, expect=400)
    assert error["errcode"] == "M_INVALID_USERNAME"


async def test_shared_secret_registration_rejects_a_wrong_mac_and_reused_nonce(
    secret_server: RunningHomeserver,
) -> None:
    api = secret_server.api()
    nonce = (await api.request("GET", f"{S1}/register"))["nonce"]
    body = {"nonce": nonce, "username": "mallory", "password": "x", "admin": True, "mac": "00" * 20}
    assert (await api.request("POST", f"{S1}/register", body, expect=403))["errcode"] == "M_FORBIDDEN"
    assert (await api.request("POST", f"{S1}/register", body, expect=400))["errcode"] == "M_UNKNOWN"


async def test_shared_secret_registration_is_off_without_a_secret(homeserver) -> None:
    status, body = await homeserver.api().status_of("GET", f"{S1}/register")
    assert status == 400 and body["errcode"] == "M_UNKNOWN"
