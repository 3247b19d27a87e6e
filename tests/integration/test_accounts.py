"""Registration, login, logout, password, deactivation and devices over real HTTP.

spec: client-server-api/_index.md, "Client Authentication", "Account registration",
"Account management", "Device management"; cases mirror Complement's apidoc_* tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientSession

from homeserver.config import Config
from tests.conftest import RunningHomeserver, start_homeserver
from tests.http_client import MatrixHttp

V3 = "/_matrix/client/v3"
PASSWORD = "correct horse"


def password_auth(user: str, password: str = PASSWORD, session: str | None = None) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }
    if session is not None:
        auth["session"] = session
    return auth


async def login_again(homeserver: RunningHomeserver, user: str, **extra: Any) -> MatrixHttp:
    api = homeserver.api()
    await api.login(user, PASSWORD, **extra)
    return api


StartServer = Callable[..., Awaitable[RunningHomeserver]]


@pytest.fixture
async def custom_server(config_factory: Any) -> AsyncIterator[StartServer]:
    """Start a homeserver with config overrides (registration, rate limits)."""
    servers = []
    session = ClientSession()

    async def start(**overrides: Any) -> RunningHomeserver:
        config: Config = config_factory(f"hs{len(servers)}", **overrides)
        hs, server = await start_homeserver(config)
        servers.append(server)
        return RunningHomeserver(hs, server, session)

    yield start
    await session.close()
    for server in servers:
        await server.close()


# --- registration ------------------------------------------------------------------------
async def test_register_without_auth_returns_flows(homeserver: RunningHomeserver) -> None:
    body = await homeserver.api().request("POST", f"{V3}/register", {}, expect=401)
    assert body["flows"] == [{"stages": ["m.login.dummy"]}]
    assert isinstance(body["session"], str) and body["session"]
    assert body["params"] == {}
    assert "errcode" not in body


async def test_register_with_dummy_auth_in_two_steps(homeserver: RunningHomeserver) -> None:
    api = homeserver.api()
    first = await api.request("POST", f"{V3}/register", {"username": "alice", "password": PASSWORD}, expect=401)
    result = await api.request(
        "POST",
        f"{V3}/register",
        {"username": "alice", "password": PASSWORD,
         "auth": {"type": "m.login.dummy", "session": first["session"]}},
    )
    assert result["user_id"] == f"@alice:{homeserver.server_name}"
    assert isinstance(result["access_token"], str)
    assert isinstance(result["device_id"], str)


async def test_register_with_dummy_auth_without_session(homeserver: RunningHomeserver) -> None:
    result = await homeserver.api().request(
        "POST", f"{V3}/register",
        {"username": "bob", "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
    )
    assert result["user_id"] == f"@bob:{homeserver.server_name}"


async def test_register_downcases_capitals(homeserver: RunningHomeserver) -> None:
    result = await homeserver.api().register("user-UPPER")
    assert result["user_id"] == f"@user-upper:{homeserver.server_name}"


async def test_register_returns_requested_device_id(homeserver: RunningHomeserver) -> None:
    api = homeserver.api()
    result = await api.register("carol", device_id="MYDEVICE", initial_device_display_name="Phone")
    assert result["device_id"] == "MYDEVICE"
    device = await api.request("GET", f"{V3}/devices/MYDEVICE")
    assert device["display_name"] == "Phone"


@pytest.mark.parametrize("char", list('!":?\\@[]{|}£é\n\'') + [" ", ","])
async def test_register_rejects_usernames_with_special_characters(
    homeserver: RunningHomeserver, char: str
) -> None:
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/register",
        body={"username": f"user{char}name", "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
    )
    assert status == 400
    assert body["errcode"] == "M_INVALID_USERNAME"


@pytest.mark.parametrize("char", ["q", "3", ".", "_", "=", "-", "/", "+"])
async def test_register_allows_usernames_with_grammar_characters(
    homeserver: RunningHomeserver, char: str
) -> None:
    result = await homeserver.api().register(f"chars{char}user")
    assert result["user_id"] == f"@chars{char}user:{homeserver.server_name}"


async def test_register_rejects_user_id_longer_than_255_bytes(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/register", body={"username": "a" * 250, "password": PASSWORD}
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_USERNAME")


async def test_register_rejects_taken_username_before_auth(homeserver: RunningHomeserver) -> None:
    await homeserver.api().register("dave")
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/register", body={"username": "dave", "password": PASSWORD}
    )
    assert (status, body["errcode"]) == (400, "M_USER_IN_USE")


async def test_register_without_username_generates_one(homeserver: RunningHomeserver) -> None:
    result = await homeserver.api().request(
        "POST", f"{V3}/register", {"password": PASSWORD, "auth": {"type": "m.login.dummy"}}
    )
    assert result["user_id"].startswith("@")
    assert result["user_id"].endswith(f":{homeserver.server_name}")
    me = await MatrixHttp(homeserver.session, homeserver.base_url, result["access_token"]).request(
        "GET", f"{V3}/account/whoami"
    )
    assert me["user_id"] == result["user_id"]


async def test_register_inhibit_login_returns_no_token(homeserver: RunningHomeserver) -> None:
    result = await homeserver.api().request(
        "POST", f"{V3}/register",
        {"username": "erin", "password": PASSWORD, "inhibit_login": True,
         "auth": {"type": "m.login.dummy"}},
    )
    assert result["user_id"] == f"@erin:{homeserver.server_name}"
    assert "access_token" not in result and "device_id" not in result
    await login_again(homeserver, "erin")


async def test_register_accepts_non_ascii_password(homeserver: RunningHomeserver) -> None:
    api = homeserver.api()
    await api.register("frank", password="übersecret")
    await homeserver.api().login("frank", "übersecret")


async def test_register_guest_is_forbidden(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/register", body={}, params={"kind": "guest"}
    )
    assert (status, body["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")


async def test_register_get_is_not_allowed(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of("GET", f"{V3}/register")
    assert (status, body["errcode"]) == (405, "M_UNRECOGNIZED")


async def test_register_works_on_r0_prefix(homeserver: RunningHomeserver) -> None:
    result = await homeserver.api().request(
        "POST", "/_matrix/client/r0/register",
        {"username": "legacy", "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
    )
    assert result["user_id"] == f"@legacy:{homeserver.server_name}"


async def test_register_rejects_invalid_utf8(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/register", raw=b'{"username": "\xff"}',
        headers={"Content-Type": "application/json"},
    )
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")


@pytest.mark.parametrize(
    "body",
    [
        {"username": 123, "password": PASSWORD},
        {"username": "typed", "password": ["x"]},
        {"username": "typed", "inhibit_login": "yes"},
        {"username": "typed", "auth": "m.login.dummy"},
    ],
)
async def test_register_rejects_wrong_types(homeserver: RunningHomeserver, body: dict[str, Any]) -> None:
    status, resp = await homeserver.api().status_of("POST", f"{V3}/register", body=body)
    assert (status, resp["errcode"]) == (400, "M_BAD_JSON")


async def test_register_rejects_non_object_body(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of("POST", f"{V3}/register", body=["x"])
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


async def test_register_rejects_unknown_uia_session(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/register",
        body={"username": "gina", "auth": {"type": "m.login.dummy", "session": "nope"}},
    )
    assert status == 400


async def test_register_rejects_unoffered_stage(homeserver: RunningHomeserver) -> None:
    body = await homeserver.api().request(
        "POST", f"{V3}/register",
        {"username": "hank", "auth": {"type": "m.login.recaptcha", "response": "x"}}, expect=401,
    )
    assert body["errcode"] == "M_UNRECOGNIZED"
    assert body["flows"] == [{"stages": ["m.login.dummy"]}]


async def test_register_available(homeserver: RunningHomeserver) -> None:
    api = homeserver.api()
    assert await api.request("GET", f"{V3}/register/available", params={"username": "ivy"}) == {
        "available": True
    }
    await api.register("ivy")
    status, body = await api.status_of("GET", f"{V3}/register/available", params={"username": "ivy"})
    assert (status, body["errcode"]) == (400, "M_USER_IN_USE")
    status, body = await api.status_of("GET", f"{V3}/register/available", params={"username": "i,vy"})
    assert (status, body["errcode"]) == (400, "M_INVALID_USERNAME")
    status, body = await api.status_of("GET", f"{V3}/register/available")
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")


async def test_closed_registration_is_forbidden(custom_server: StartServer) -> None:
    server = await custom_server(registration={"enabled": False})
    status, body = await server.api().status_of(
        "POST", f"{V3}/register", body={"username": "nobody", "auth": {"type": "m.login.dummy"}}
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await server.api().status_of(
        "GET", "/_matrix/client/v1/register/m.login.registration_token/validity",
        params={"token": "x"},
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_registration_token_flow(custom_server: StartServer) -> None:
    server = await custom_server(registration={"tokens": ["s3cr3t-Token"]})
    api = server.api()
    first = await api.request("POST", f"{V3}/register", {"username": "tina", "password": PASSWORD}, expect=401)
    assert first["flows"] == [{"stages": ["m.login.registration_token"]}]

    # Dummy auth is not offered when tokens are required.
    body = await api.request(
        "POST", f"{V3}/register",
        {"username": "tina", "password": PASSWORD, "auth": {"type": "m.login.dummy", "session": first["session"]}},
        expect=401,
    )
    assert body["errcode"] == "M_UNRECOGNIZED"

    wrong = await api.request(
        "POST", f"{V3}/register",
        {"username": "tina", "password": PASSWORD,
         "auth": {"type": "m.login.registration_token", "token": "guess", "session": first["session"]}},
        expect=401,
    )
    assert wrong["errcode"] == "M_FORBIDDEN"
    assert wrong["session"] == first["session"]

    result = await api.request(
        "POST", f"{V3}/register",
        {"username": "tina", "password": PASSWORD,
         "auth": {"type": "m.login.registration_token", "token": "s3cr3t-Token", "session": first["session"]}},
    )
    assert result["user_id"] == f"@tina:{server.server_name}"

    # The completed session does not authorise another registration.
    status, _ = await api.status_of(
        "POST", f"{V3}/register",
        body={"username": "tina2", "password": PASSWORD, "auth": {"session": first["session"]}},
    )
    assert status == 400


async def test_registration_token_validity(custom_server: StartServer) -> None:
    server = await custom_server(registration={"tokens": ["good"]})
    path = "/_matrix/client/v1/register/m.login.registration_token/validity"
    api = server.api()
    assert await api.request("GET", path, params={"token": "good"}) == {"valid": True}
    assert await api.request("GET", path, params={"token": "bad"}) == {"valid": False}
    status, body = await api.status_of("GET", path)
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")


# --- login ------------------------------------------------------------------------------------
async def test_get_login_lists_password_flow(homeserver: RunningHomeserver) -> None:
    body = await homeserver.api().request("GET", f"{V3}/login")
    assert {"type": "m.login.password"} in body["flows"]
    assert all("type" in flow for flow in body["flows"])


async def test_login_with_localpart(homeserver: RunningHomeserver) -> None:
    await homeserver.register("judy")
    result = await homeserver.api().login("judy")
    assert result["user_id"] == f"@judy:{homeserver.server_name}"
    assert isinstance(result["access_token"], str)
    assert result["home_server"] == homeserver.server_name
    assert result["well_known"]["m.homeserver"]["base_url"]


async def test_login_with_full_user_id(homeserver: RunningHomeserver) -> None:
    await homeserver.register("kim")
    result = await homeserver.api().login(f"@kim:{homeserver.server_name}")
    assert result["user_id"] == f"@kim:{homeserver.server_name}"


async def test_login_with_uppercase_user_id_then_whoami(homeserver: RunningHomeserver) -> None:
    await homeserver.register("lena")
    api = homeserver.api()
    await api.login(f"@LENA:{homeserver.server_name}")
    me = await api.request("GET", f"{V3}/account/whoami")
    assert me["user_id"] == f"@lena:{homeserver.server_name}"


async def test_login_with_deprecated_user_field(homeserver: RunningHomeserver) -> None:
    await homeserver.register("mike")
    result = await homeserver.api().request(
        "POST", f"{V3}/login", {"type": "m.login.password", "user": "mike", "password": PASSWORD}
    )
    assert result["user_id"] == f"@mike:{homeserver.server_name}"


async def test_login_returns_requested_device_id(homeserver: RunningHomeserver) -> None:
    await homeserver.register("nina")
    api = homeserver.api()
    result = await api.login("nina", device_id="NINADEV", initial_device_display_name="Laptop")
    assert result["device_id"] == "NINADEV"
    device = await api.request("GET", f"{V3}/devices/NINADEV")
    assert device == {**device, "device_id": "NINADEV", "display_name": "Laptop"}


async def test_login_reusing_device_id_keeps_both_sessions(homeserver: RunningHomeserver) -> None:
    await homeserver.register("olga")
    first = await login_again(homeserver, "olga", device_id="SHARED")
    second = await login_again(homeserver, "olga", device_id="SHARED")
    for api in (first, second):
        me = await api.request("GET", f"{V3}/account/whoami")
        assert me["device_id"] == "SHARED"


async def test_login_wrong_password_is_forbidden(homeserver: RunningHomeserver) -> None:
    await homeserver.register("paul")
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/login",
        body={"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "paul"},
              "password": "wrong"},
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_login_unknown_user_is_forbidden(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/login",
        body={"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ghost"},
              "password": PASSWORD},
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_login_unknown_type_is_bad_request(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/login", body={"type": "m.login.carrier_pigeon"}
    )
    assert (status, body["errcode"]) == (400, "M_UNKNOWN")


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"identifier": {"type": "m.id.user", "user": "x"}, "password": "p"}, "M_MISSING_PARAM"),
        ({"type": "m.login.password", "password": "p"}, "M_MISSING_PARAM"),
        ({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "x"}}, "M_MISSING_PARAM"),
        ({"type": 1, "password": "p"}, "M_BAD_JSON"),
        ({"type": "m.login.password", "identifier": "x", "password": "p"}, "M_BAD_JSON"),
        ({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": 5}, "password": "p"},
         "M_BAD_JSON"),
        ({"type": "m.login.password", "user": "x", "password": 12345}, "M_BAD_JSON"),
    ],
)
async def test_login_rejects_malformed_bodies(
    homeserver: RunningHomeserver, body: dict[str, Any], errcode: str
) -> None:
    status, resp = await homeserver.api().status_of("POST", f"{V3}/login", body=body)
    assert (status, resp["errcode"]) == (400, errcode)


async def test_login_with_unknown_third_party_id_is_forbidden(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/login",
        body={"type": "m.login.password",
              "identifier": {"type": "m.id.thirdparty", "medium": "email", "address": "a@b.c"},
              "password": PASSWORD},
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_put_login_is_method_not_allowed(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of("PUT", f"{V3}/login", body={})
    assert (status, body["errcode"]) == (405, "M_UNRECOGNIZED")


# --- whoami and logout -----------------------------------------------------------------------------
async def test_whoami(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("quinn")
    me = await api.request("GET", f"{V3}/account/whoami")
    assert me == {"user_id": f"@quinn:{homeserver.server_name}", "device_id": api.device_id, "is_guest": False}


async def test_logout_invalidates_token_and_removes_device(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("rita")
    other = await login_again(homeserver, "rita")
    await other.request("POST", f"{V3}/logout", {})
    status, body = await other.status_of("GET", f"{V3}/account/whoami")
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    devices = await api.request("GET", f"{V3}/devices")
    assert [d["device_id"] for d in devices["devices"]] == [api.device_id]


async def test_logout_without_token_is_rejected(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of("POST", f"{V3}/logout", body={})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_logout_with_invalid_token_is_rejected(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api("not-a-token").status_of("POST", f"{V3}/logout", body={})
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_logout_all_invalidates_every_token(homeserver: RunningHomeserver) -> None:
    first = await homeserver.register("sam")
    second = await login_again(homeserver, "sam")
    await second.request("POST", f"{V3}/logout/all", {})
    for api in (first, second):
        status, body = await api.status_of("GET", f"{V3}/account/whoami")
        assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    fresh = await login_again(homeserver, "sam")
    devices = await fresh.request("GET", f"{V3}/devices")
    assert [d["device_id"] for d in devices["devices"]] == [fresh.device_id]


# --- password change ---------------------------------------------------------------------------------
async def test_password_change_requires_password_auth(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("tom")
    body = await api.request("POST", f"{V3}/account/password", {"new_password": "new"}, expect=401)
    assert {"stages": ["m.login.password"]} in body["flows"]
    wrong = await api.request(
        "POST", f"{V3}/account/password",
        {"new_password": "new", "auth": password_auth("tom", "wrong", body["session"])}, expect=401,
    )
    assert wrong["errcode"] == "M_FORBIDDEN"
    assert wrong["session"] == body["session"]


async def test_password_change_logs_out_other_devices(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("uma")
    other = await login_again(homeserver, "uma")
    await api.request(
        "POST", f"{V3}/account/password",
        {"new_password": "new password", "auth": password_auth(api.user_id or "")},
    )
    # The session that changed the password still works; the other does not.
    await api.request("GET", f"{V3}/account/whoami")
    status, body = await other.status_of("GET", f"{V3}/account/whoami")
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    devices = await api.request("GET", f"{V3}/devices")
    assert [d["device_id"] for d in devices["devices"]] == [api.device_id]
    # Old password no longer works, new one does.
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/login",
        body={"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "uma"},
              "password": PASSWORD},
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    result = await homeserver.api().login("uma", "new password")
    assert result["user_id"] == api.user_id


async def test_password_change_can_keep_other_devices(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("vic")
    other = await login_again(homeserver, "vic")
    await api.request(
        "POST", f"{V3}/account/password",
        {"new_password": "new password", "logout_devices": False, "auth": password_auth("vic")},
    )
    await other.request("GET", f"{V3}/account/whoami")


async def test_password_change_validates_body(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("walt")
    status, body = await api.status_of("POST", f"{V3}/account/password", body={"auth": password_auth("walt")})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await api.status_of(
        "POST", f"{V3}/account/password", body={"new_password": 5, "auth": password_auth("walt")}
    )
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = await api.status_of(
        "POST", f"{V3}/account/password",
        body={"new_password": "x", "logout_devices": "no", "auth": password_auth("walt")},
    )
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


async def test_password_change_cannot_use_another_users_credentials(homeserver: RunningHomeserver) -> None:
    await homeserver.register("xena")
    api = await homeserver.register("yuri")
    status, body = await api.status_of(
        "POST", f"{V3}/account/password", body={"new_password": "pwned", "auth": password_auth("xena")}
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


# --- deactivation -----------------------------------------------------------------------------------------
async def test_deactivate_offers_password_flow(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("zack")
    body = await api.request("POST", f"{V3}/account/deactivate", {}, expect=401)
    assert {"stages": ["m.login.password"]} in body["flows"]


async def test_deactivate_with_wrong_password_fails(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("amy")
    body = await api.request(
        "POST", f"{V3}/account/deactivate", {"auth": password_auth("amy", "wrong")}, expect=401
    )
    assert body["errcode"] == "M_FORBIDDEN"
    await api.request("GET", f"{V3}/account/whoami")


async def test_deactivated_account_cannot_log_in(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("ben")
    result = await api.request("POST", f"{V3}/account/deactivate", {"auth": password_auth("ben")})
    assert result == {"id_server_unbind_result": "no-support"}
    status, body = await api.status_of("GET", f"{V3}/account/whoami")
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, body = await homeserver.api().status_of(
        "POST", f"{V3}/login",
        body={"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ben"},
              "password": PASSWORD},
    )
    assert (status, body["errcode"]) == (403, "M_USER_DEACTIVATED")
    # The user ID stays taken.
    status, body = await homeserver.api().status_of(
        "GET", f"{V3}/register/available", params={"username": "ben"}
    )
    assert (status, body["errcode"]) == (400, "M_USER_IN_USE")


async def test_deactivation_leaves_rooms(homeserver: RunningHomeserver) -> None:
    owner = await homeserver.register("dina")
    leaver = await homeserver.register("earl")
    room_id = await owner.create_room(preset="public_chat")
    await leaver.join(room_id)
    await leaver.request("POST", f"{V3}/account/deactivate", {"auth": password_auth("earl")})
    member = await owner.get_state(room_id, "m.room.member", leaver.user_id or "")
    assert member["membership"] == "leave"


async def test_password_change_without_token_uses_password_stage(homeserver: RunningHomeserver) -> None:
    await homeserver.register("finn")
    anonymous = homeserver.api()
    await anonymous.request(
        "POST", f"{V3}/account/password", {"new_password": "fresh", "auth": password_auth("finn")}
    )
    result = await homeserver.api().login("finn", "fresh")
    assert result["user_id"] == f"@finn:{homeserver.server_name}"


async def test_uia_session_is_bound_to_its_operation(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("cleo")
    other = await login_again(homeserver, "cleo")
    challenge = await api.request("DELETE", f"{V3}/devices/{other.device_id}", {}, expect=401)
    status, body = await api.status_of(
        "POST", f"{V3}/account/deactivate",
        body={"auth": password_auth("cleo", session=challenge["session"])},
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    await api.request("GET", f"{V3}/account/whoami")


# --- devices ---------------------------------------------------------------------------------------------------
async def test_list_devices(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("dora")
    other = await login_again(homeserver, "dora")
    devices = await api.request("GET", f"{V3}/devices")
    ids = {d["device_id"] for d in devices["devices"]}
    assert ids == {api.device_id, other.device_id}
    for device in devices["devices"]:
        assert isinstance(device["last_seen_ts"], int)


async def test_get_unknown_device_is_not_found(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("ed")
    status, body = await api.status_of("GET", f"{V3}/devices/NOSUCHDEVICE")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_other_users_devices_are_not_visible(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("fay")
    bob = await homeserver.register("gus")
    status, body = await bob.status_of("GET", f"{V3}/devices/{alice.device_id}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_rename_device(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("hal")
    await api.request("PUT", f"{V3}/devices/{api.device_id}", {"display_name": "Work laptop"})
    device = await api.request("GET", f"{V3}/devices/{api.device_id}")
    assert device["display_name"] == "Work laptop"
    # Omitting display_name leaves it unchanged.
    await api.request("PUT", f"{V3}/devices/{api.device_id}", {})
    device = await api.request("GET", f"{V3}/devices/{api.device_id}")
    assert device["display_name"] == "Work laptop"


async def test_rename_unknown_device_is_not_found(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("ian")
    status, body = await api.status_of("PUT", f"{V3}/devices/NOSUCHDEVICE", body={"display_name": "x"})
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_rename_device_rejects_wrong_type(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("jan")
    status, body = await api.status_of("PUT", f"{V3}/devices/{api.device_id}", body={"display_name": 7})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


async def test_delete_device_with_user_interactive_auth(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("kai")
    other = await login_again(homeserver, "kai")
    path = f"{V3}/devices/{other.device_id}"
    challenge = await api.request("DELETE", path, expect=401)
    assert {"stages": ["m.login.password"]} in challenge["flows"]
    assert "params" in challenge and challenge["session"]
    wrong = await api.request(
        "DELETE", path, {"auth": password_auth("kai", "wrong", challenge["session"])}, expect=401
    )
    assert wrong["errcode"] == "M_FORBIDDEN"
    await api.request("DELETE", path, {"auth": password_auth("kai", session=challenge["session"])})
    status, body = await api.status_of("GET", path)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await other.status_of("GET", f"{V3}/account/whoami")
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_delete_device_requires_owner_credentials(homeserver: RunningHomeserver) -> None:
    owner = await homeserver.register("lou")
    await homeserver.register("max")
    path = f"{V3}/devices/{owner.device_id}"
    challenge = await owner.request("DELETE", path, {}, expect=401)
    status, body = await owner.status_of(
        "DELETE", path, body={"auth": password_auth("max", session=challenge["session"])}
    )
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    await owner.request("GET", path)
    challenge = await owner.request("DELETE", path, {}, expect=401)
    await owner.request("DELETE", path, {"auth": password_auth("lou", session=challenge["session"])})


async def test_bulk_delete_devices(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("ned")
    second = await login_again(homeserver, "ned")
    third = await login_again(homeserver, "ned")
    body = {"devices": [second.device_id, third.device_id, "UNKNOWN"]}
    challenge = await api.request("POST", f"{V3}/delete_devices", body, expect=401)
    await api.request(
        "POST", f"{V3}/delete_devices", {**body, "auth": password_auth("ned", session=challenge["session"])}
    )
    devices = await api.request("GET", f"{V3}/devices")
    assert [d["device_id"] for d in devices["devices"]] == [api.device_id]
    for gone in (second, third):
        status, _ = await gone.status_of("GET", f"{V3}/account/whoami")
        assert status == 401


async def test_bulk_delete_devices_requires_device_list(homeserver: RunningHomeserver) -> None:
    api = await homeserver.register("ola")
    status, body = await api.status_of("POST", f"{V3}/delete_devices", body={})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await api.status_of("POST", f"{V3}/delete_devices", body={"devices": "ABC"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


async def test_device_endpoints_need_a_token(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of("GET", f"{V3}/devices")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


# --- rate limiting ---------------------------------------------------------------------------------------------
async def test_login_is_rate_limited_per_ip(custom_server: StartServer) -> None:
    server = await custom_server(registration={"rate_per_minute": 1, "burst": 3})
    api = server.api()
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "x"}, "password": "p"}
    statuses = [(await api.status_of("POST", f"{V3}/login", body=body))[0] for _ in range(3)]
    assert statuses == [403, 403, 403]
    status, resp = await api.status_of("POST", f"{V3}/login", body=body)
    assert (status, resp["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert isinstance(resp["retry_after_ms"], int) and resp["retry_after_ms"] > 0


async def test_register_is_rate_limited_per_ip(custom_server: StartServer) -> None:
    server = await custom_server(registration={"rate_per_minute": 1, "burst": 2})
    api = server.api()
    for _ in range(2):
        await api.request("POST", f"{V3}/register", {}, expect=401)
    status, resp = await api.status_of("POST", f"{V3}/register", body={})
    assert (status, resp["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert resp["retry_after_ms"] > 0


# --- an independent client library ------------------------------------------------------------------------------
async def test_matrix_nio_can_register_and_log_in(homeserver: RunningHomeserver) -> None:
    nio = pytest.importorskip("nio")
    client = nio.AsyncClient(homeserver.base_url, "niouser")
    try:
        registered = await client.register("niouser", PASSWORD, device_name="nio device")
        assert isinstance(registered, nio.RegisterResponse), registered
        assert registered.user_id == f"@niouser:{homeserver.server_name}"
    finally:
        await client.close()

    client = nio.AsyncClient(homeserver.base_url, f"@niouser:{homeserver.server_name}")
    try:
        logged_in = await client.login(PASSWORD, device_name="second")
        assert isinstance(logged_in, nio.LoginResponse), logged_in
        assert logged_in.user_id == f"@niouser:{homeserver.server_name}"
        whoami = await client.whoami()
        assert isinstance(whoami, nio.WhoamiResponse), whoami
        assert whoami.device_id == logged_in.device_id
    finally:
        await client.close()
