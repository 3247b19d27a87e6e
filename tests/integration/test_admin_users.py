"""Admin API over real HTTP: authentication, users, rooms, registration tokens, version.

Shapes follow Synapse's admin API (docs/admin_api/*); see docs/admin.md.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixError, MatrixHttp, q

V3 = "/_matrix/client/v3"
S1 = "/_synapse/admin/v1"
S2 = "/_synapse/admin/v2"
P1 = "/_parley/admin/v1"


async def make_admin(homeserver: RunningHomeserver, name: str = "admin") -> MatrixHttp:
    """Register a user and give them the admin flag (the first admin comes from the operator)."""
    api = await homeserver.register(name)
    assert api.user_id is not None
    await homeserver.hs.account_store.set_admin(api.user_id, True)
    homeserver.hs.auth.forget_cached(user_id=api.user_id)
    return api


async def expect_error(call: Any, status: int, errcode: str) -> MatrixError:
    with pytest.raises(MatrixError) as info:
        await call
    assert info.value.status == status, info.value.body
    assert info.value.errcode == errcode, info.value.body
    return info.value


@pytest.fixture
async def admin(homeserver: RunningHomeserver) -> MatrixHttp:
    return await make_admin(homeserver)


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("alice")


ADMIN_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", f"{S2}/users", None),
    ("GET", f"{S2}/users/{q('@alice:localhost')}", None),
    ("PUT", f"{S2}/users/{q('@bob:localhost')}", {"password": "pw"}),
    ("POST", f"{S1}/reset_password/{q('@alice:localhost')}", {"new_password": "x"}),
    ("GET", f"{S1}/users/{q('@alice:localhost')}/admin", None),
    ("PUT", f"{S1}/users/{q('@alice:localhost')}/admin", {"admin": True}),
    ("POST", f"{S1}/deactivate/{q('@alice:localhost')}", {}),
    ("GET", f"{S1}/rooms", None),
    ("GET", f"{S1}/rooms/{q('!r:localhost')}", None),
    ("GET", f"{S1}/rooms/{q('!r:localhost')}/members", None),
    ("GET", f"{S1}/rooms/{q('!r:localhost')}/state", None),
    ("DELETE", f"{S2}/rooms/{q('!r:localhost')}", {}),
    ("DELETE", f"{S1}/rooms/{q('!r:localhost')}", {}),
    ("GET", f"{S2}/rooms/delete_status/x", None),
    ("PUT", f"{S1}/rooms/{q('!r:localhost')}/block", {"block": True}),
    ("GET", f"{S1}/rooms/{q('!r:localhost')}/block", None),
    ("GET", f"{S1}/event_reports", None),
    ("GET", f"{S1}/event_reports/1", None),
    ("DELETE", f"{S1}/event_reports/1", None),
    ("GET", f"{S1}/registration_tokens", None),
    ("POST", f"{S1}/registration_tokens/new", {}),
    ("GET", f"{S1}/registration_tokens/abc", None),
    ("PUT", f"{S1}/registration_tokens/abc", {}),
    ("DELETE", f"{S1}/registration_tokens/abc", None),
    ("POST", f"{S1}/send_server_notice", {"user_id": "@alice:localhost", "content": {}}),
    ("GET", f"{S1}/server_version", None),
    ("POST", f"{P1}/rooms", {}),
    ("GET", f"{P1}/rooms/{q('!r:localhost')}/messages", None),
    ("POST", f"{P1}/rooms/{q('!r:localhost')}/temporary_bans", {"user_id": "@a:localhost", "minutes": 1}),
    ("GET", f"{P1}/rooms/{q('!r:localhost')}/temporary_bans", None),
    ("GET", f"{P1}/temporary_bans", None),
    ("DELETE", f"{P1}/rooms/{q('!r:localhost')}/temporary_bans/{q('@a:localhost')}", None),
    ("POST", f"{P1}/rooms/{q('!r:localhost')}/ban", {"user_id": "@a:localhost"}),
    ("POST", f"{P1}/rooms/{q('!r:localhost')}/unban", {"user_id": "@a:localhost"}),
    ("GET", f"{P1}/rooms/{q('!r:localhost')}/knocks", None),
    ("POST", f"{P1}/rooms/{q('!r:localhost')}/knocks/{q('@a:localhost')}/accept", {}),
    ("GET", f"{P1}/ip_bans", None),
    ("POST", f"{P1}/ip_bans", {"address": "192.0.2.1"}),
    ("DELETE", f"{P1}/ip_bans/192.0.2.1", None),
    ("POST", f"{P1}/shutdown", {}),
]


async def test_every_admin_endpoint_refuses_non_admins(homeserver: RunningHomeserver, alice: MatrixHttp) -> None:
    anonymous = homeserver.api()
    for method, path, body in ADMIN_ENDPOINTS:
        status, error = await alice.status_of(method, path, body=body)
        assert (status, error.get("errcode")) == (403, "M_FORBIDDEN"), (method, path, error)
        status, error = await anonymous.status_of(method, path, body=body)
        assert (status, error.get("errcode")) == (401, "M_MISSING_TOKEN"), (method, path, error)


async def test_server_version(admin: MatrixHttp) -> None:
    body = await admin.request("GET", f"{S1}/server_version")
    assert body["server_version"].startswith("Parley ")


async def test_list_users_paginates_and_filters(
    homeserver: RunningHomeserver, admin: MatrixHttp, alice: MatrixHttp
) -> None:
    await homeserver.register("alfred")
    everyone = await admin.request("GET", f"{S2}/users")
    names = [u["name"] for u in everyone["users"]]
    assert {"@admin:localhost", "@alice:localhost", "@alfred:localhost"} <= set(names)
    assert everyone["total"] == len(names)
    first = await admin.request("GET", f"{S2}/users", params={"limit": "1"})
    assert len(first["users"]) == 1 and first["next_token"] == "1"
    second = await admin.request("GET", f"{S2}/users", params={"limit": "1", "from": first["next_token"]})
    assert second["users"][0]["name"] != first["users"][0]["name"]
    filtered = await admin.request("GET", f"{S2}/users", params={"name": "alf"})
    assert [u["name"] for u in filtered["users"]] == ["@alfred:localhost"]
    admins = await admin.request("GET", f"{S2}/users", params={"admins": "true"})
    assert [u["name"] for u in admins["users"]] == ["@admin:localhost"]


async def test_get_user_and_unknown_user(admin: MatrixHttp, alice: MatrixHttp) -> None:
    user = await admin.request("GET", f"{S2}/users/{q('@alice:localhost')}")
    assert user["name"] == "@alice:localhost" and user["admin"] is False and user["deactivated"] is False
    await expect_error(admin.request("GET", f"{S2}/users/{q('@nobody:localhost')}"), 404, "M_NOT_FOUND")


async def test_put_user_creates_then_modifies(homeserver: RunningHomeserver, admin: MatrixHttp) -> None:
    path = f"{S2}/users/{q('@bob:localhost')}"
    created = await admin.request("PUT", path, {"password": "first pw", "displayname": "Bob"}, expect=201)
    assert created["name"] == "@bob:localhost" and created["displayname"] == "Bob"
    bob = homeserver.api()
    await bob.login("bob", "first pw")
    modified = await admin.request("PUT", path, {"displayname": "Robert", "admin": True}, expect=200)
    assert modified["displayname"] == "Robert" and modified["admin"] is True
    await admin.request("PUT", path, {"password": "second pw"}, expect=200)
    # logout_devices defaults to true: bob's old token is revoked.
    await expect_error(bob.request("GET", f"{V3}/account/whoami"), 401, "M_UNKNOWN_TOKEN")
    await homeserver.api().login("bob", "second pw")


async def test_reset_password_logs_out_and_changes_login(
    homeserver: RunningHomeserver, admin: MatrixHttp, alice: MatrixHttp
) -> None:
    await admin.request("POST", f"{S1}/reset_password/{q('@alice:localhost')}", {"new_password": "new pw"})
    await expect_error(alice.request("GET", f"{V3}/account/whoami"), 401, "M_UNKNOWN_TOKEN")
    await expect_error(homeserver.api().login("alice"), 403, "M_FORBIDDEN")
    await homeserver.api().login("alice", "new pw")


async def test_admin_flag_read_and_set(homeserver: RunningHomeserver, admin: MatrixHttp, alice: MatrixHttp) -> None:
    path = f"{S1}/users/{q('@alice:localhost')}/admin"
    assert await admin.request("GET", path) == {"admin": False}
    await admin.request("PUT", path, {"admin": True})
    assert await admin.request("GET", path) == {"admin": True}
    # The new admin's existing token now passes admin checks.
    await alice.request("GET", f"{S1}/server_version")
    await expect_error(admin.request("PUT", f"{S1}/users/{q('@admin:localhost')}/admin", {"admin": False}),
                       403, "M_FORBIDDEN")


async def test_deactivate_logs_out_everywhere_and_leaves_rooms(
    homeserver: RunningHomeserver, admin: MatrixHttp, alice: MatrixHttp
) -> None:
    room_id = await admin.create_room(preset="public_chat")
    await alice.join(room_id)
    second_device = homeserver.api()
    await second_device.login("alice")
    result = await admin.request("POST", f"{S1}/deactivate/{q('@alice:localhost')}", {"erase": False})
    assert result == {"id_server_unbind_result": "success"}
    for device in (alice, second_device):
        await expect_error(device.request("GET", f"{V3}/account/whoami"), 401, "M_UNKNOWN_TOKEN")
    await expect_error(homeserver.api().login("alice"), 403, "M_USER_DEACTIVATED")
    member = await admin.get_state(room_id, "m.room.member", "@alice:localhost")
    assert member["membership"] == "leave"
    user = await admin.request("GET", f"{S2}/users/{q('@alice:localhost')}")
    assert user["deactivated"] is True
    listed = await admin.request("GET", f"{S2}/users")
    assert "@alice:localhost" not in [u["name"] for u in listed["users"]]
    with_deactivated = await admin.request("GET", f"{S2}/users", params={"deactivated": "true"})
    assert "@alice:localhost" in [u["name"] for u in with_deactivated["users"]]


async def test_registration_tokens_crud(admin: MatrixHttp) -> None:
    created = await admin.request("POST", f"{S1}/registration_tokens/new", {"token": "abcd", "uses_allowed": 2})
    assert created == {"token": "abcd", "uses_allowed": 2, "pending": 0, "completed": 0, "expiry_time": None}
    generated = await admin.request("POST", f"{S1}/registration_tokens/new", {"length": 8})
    assert len(generated["token"]) == 8
    listed = await admin.request("GET", f"{S1}/registration_tokens")
    assert {t["token"] for t in listed["registration_tokens"]} == {"abcd", generated["token"]}
    updated = await admin.request("PUT", f"{S1}/registration_tokens/abcd", {"uses_allowed": 5})
    assert updated["uses_allowed"] == 5
    assert (await admin.request("GET", f"{S1}/registration_tokens/abcd"))["uses_allowed"] == 5
    await admin.request("DELETE", f"{S1}/registration_tokens/abcd")
    await expect_error(admin.request("GET", f"{S1}/registration_tokens/abcd"), 404, "M_NOT_FOUND")
    await expect_error(admin.request("POST", f"{S1}/registration_tokens/new", {"token": "bad token!"}),
                       400, "M_INVALID_PARAM")


async def test_registration_needs_and_uses_an_admin_created_token(
    homeserver: RunningHomeserver, admin: MatrixHttp
) -> None:
    await admin.request("POST", f"{S1}/registration_tokens/new", {"token": "once", "uses_allowed": 1})
    register = f"{V3}/register"
    api = homeserver.api()
    first = await api.request("POST", register, {"username": "carol", "password": "pw"}, expect=401)
    assert first["flows"] == [{"stages": ["m.login.registration_token"]}]
    validity = "/_matrix/client/v1/register/m.login.registration_token/validity"
    assert await api.request("GET", validity, params={"token": "once"}) == {"valid": True}
    done = await api.request("POST", register, {
        "username": "carol", "password": "pw",
        "auth": {"type": "m.login.registration_token", "token": "once", "session": first["session"]},
    })
    assert done["user_id"] == "@carol:localhost"
    token = await admin.request("GET", f"{S1}/registration_tokens/once")
    assert (token["completed"], token["pending"]) == (1, 0)
    # Used up: the next registration with it fails the stage.
    second = await api.request("POST", register, {"username": "dave", "password": "pw"}, expect=401)
    refused = await api.request("POST", register, {
        "username": "dave", "password": "pw",
        "auth": {"type": "m.login.registration_token", "token": "once", "session": second["session"]},
    }, expect=401)
    assert refused["errcode"] == "M_FORBIDDEN"
    assert await api.request("GET", validity, params={"token": "once"}) == {"valid": False}


async def test_admin_endpoints_answer_bad_input_with_4xx(admin: MatrixHttp) -> None:
    bad_bodies: list[bytes] = [b"not json", b"[]", b'{"user_id": 5, "minutes": "x", "block": "yes"}', b"{}"]
    for method, path, body in ADMIN_ENDPOINTS:
        if path.endswith("/shutdown"):
            continue
        for raw in bad_bodies if body is not None else [b""]:
            status, error = await admin.status_of(method, path, raw=raw)
            assert status < 500, (method, path, raw, error)
    for params in ({"from": "-1"}, {"limit": "abc"}, {"dir": "sideways"}, {"deactivated": "maybe"}):
        for path in (f"{S2}/users", f"{S1}/rooms", f"{S1}/event_reports"):
            status, error = await admin.status_of("GET", path, params=params)
            assert 400 <= status < 500 or status == 200, (path, params, error)
            assert status != 500
    status, error = await admin.status_of("GET", f"{S1}/event_reports/abc")
    assert (status, error["errcode"]) == (400, "M_INVALID_PARAM")


async def test_out_of_range_numbers_are_400(admin: MatrixHttp) -> None:
    room_id = await admin.create_room()
    for huge in (2**63, 2**70):
        for path, body in (
            (f"{S1}/registration_tokens/new", {"uses_allowed": huge}),
            (f"{S1}/registration_tokens/new", {"expiry_time": huge}),
            (f"{P1}/rooms/{q(room_id)}/temporary_bans", {"user_id": "@x:localhost", "duration_ms": huge}),
            (f"{P1}/rooms/{q(room_id)}/temporary_bans", {"user_id": "@x:localhost", "minutes": 1e300}),
        ):
            status, error = await admin.status_of("POST", path, body=body)
            assert status == 400 and error["errcode"] in ("M_INVALID_PARAM", "M_BAD_JSON"), (path, body, error)
