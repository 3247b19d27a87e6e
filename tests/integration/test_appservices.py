"""Application services over HTTP: a real small service on loopback and a real homeserver.

spec: application-service-api.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from homeserver.config import ConfigError
from tests.appservice_fake import AS_TOKEN, FakeAppService, registration, write_registration
from tests.conftest import RunningHomeserver, make_config, start_homeserver
from tests.http_client import MatrixError, MatrixHttp, q

FAST_RETRY = {"retry_initial_ms": 20, "retry_max_ms": 200, "timeout_seconds": 5}


class Setup:
    def __init__(self, hs: RunningHomeserver, service: FakeAppService) -> None:
        self.hs = hs
        self.service = service

    def bot(self, user_id: str | None = None) -> MatrixHttp:
        api = self.hs.api(AS_TOKEN)
        api.user_id = user_id
        return api

    async def as_request(self, method: str, path: str, user_id: str | None = None, **kw: Any) -> Any:
        params = {"user_id": user_id} if user_id else None
        return await self.hs.api(AS_TOKEN).request(method, path, params=params, **kw)

    async def as_request_status(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.hs.api(AS_TOKEN).status_of(method, path, body={}, **kw)

    async def register_puppet(self, localpart: str, **extra: Any) -> dict[str, Any]:
        return await self.hs.api(AS_TOKEN).request(
            "POST", "/_matrix/client/v3/register",
            {"type": "m.login.application_service", "username": localpart, **extra},
        )


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    service = FakeAppService()
    await service.start()
    files = [
        str(write_registration(tmp_path / "bridge.yaml", service.url)),
        str(write_registration(tmp_path / "silent.yaml", None, id="silent", as_token="as-silent",
                               hs_token="hs-silent", sender_localpart="silentbot",
                               namespaces={"users": [{"exclusive": False, "regex": "@_silent_.*"}]})),
    ]
    config = make_config(tmp_path / "hs", app_service_config_files=files, app_service_transactions=FAST_RETRY)
    hs, server = await start_homeserver(config)
    async with ClientSession() as session:
        running = RunningHomeserver(hs, server, session)
        service.homeserver_url = running.base_url
        yield Setup(running, service)
    await server.close()
    await service.stop()


# --- auth and masquerading ------------------------------------------------------------
async def test_as_token_acts_as_the_sender_localpart_user(setup: Setup) -> None:
    whoami = await setup.as_request("GET", "/_matrix/client/v3/account/whoami")
    assert whoami["user_id"] == "@bridgebot:localhost"


async def test_appservice_registers_a_user_in_its_namespace_without_password(setup: Setup) -> None:
    result = await setup.register_puppet("_bridge_alice")
    assert result["user_id"] == "@_bridge_alice:localhost"
    whoami = await setup.as_request("GET", "/_matrix/client/v3/account/whoami", "@_bridge_alice:localhost")
    assert whoami["user_id"] == "@_bridge_alice:localhost"


async def test_appservice_cannot_register_outside_its_namespace(setup: Setup) -> None:
    with pytest.raises(MatrixError) as e:
        await setup.register_puppet("alice")
    assert (e.value.status, e.value.body["errcode"]) == (400, "M_EXCLUSIVE")


async def test_registration_as_appservice_needs_the_as_token(setup: Setup) -> None:
    status, body = await setup.hs.api().status_of(
        "POST", "/_matrix/client/v3/register",
        body={"type": "m.login.application_service", "username": "_bridge_x"},
    )
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_masquerading_outside_the_namespace_is_forbidden(setup: Setup) -> None:
    await setup.hs.register("carol")
    with pytest.raises(MatrixError) as e:
        await setup.as_request("GET", "/_matrix/client/v3/account/whoami", "@carol:localhost")
    assert (e.value.status, e.value.body["errcode"]) == (403, "M_FORBIDDEN")


async def test_masquerading_as_another_services_exclusive_user_is_m_exclusive(setup: Setup) -> None:
    status, body = await setup.hs.api("as-silent").status_of(
        "GET", "/_matrix/client/v3/account/whoami", params={"user_id": "@_bridge_alice:localhost"}
    )
    assert (status, body["errcode"]) == (403, "M_EXCLUSIVE")


async def test_masquerading_as_an_unregistered_namespace_user_is_forbidden(setup: Setup) -> None:
    with pytest.raises(MatrixError) as e:
        await setup.as_request("GET", "/_matrix/client/v3/account/whoami", "@_bridge_nobody:localhost")
    assert (e.value.status, e.value.body["errcode"]) == (403, "M_FORBIDDEN")


async def test_appservice_device_id_is_asserted_with_msc3202(setup: Setup) -> None:
    puppet = await setup.register_puppet("_bridge_dev", device_id="PUPPETDEV")
    whoami = await setup.hs.api(AS_TOKEN).request(
        "GET", "/_matrix/client/v3/account/whoami",
        params={"user_id": puppet["user_id"], "org.matrix.msc3202.device_id": "PUPPETDEV"},
    )
    assert whoami["device_id"] == "PUPPETDEV"


# --- exclusive namespaces ---------------------------------------------------------------
async def test_normal_users_cannot_register_in_an_exclusive_namespace(setup: Setup) -> None:
    with pytest.raises(MatrixError) as e:
        await setup.hs.api().register("_bridge_mallory")
    assert (e.value.status, e.value.body["errcode"]) == (400, "M_EXCLUSIVE")
    status, body = await setup.hs.api().status_of(
        "GET", "/_matrix/client/v3/register/available", params={"username": "_bridge_mallory"}
    )
    assert (status, body["errcode"]) == (400, "M_EXCLUSIVE")


async def test_non_exclusive_namespaces_stay_open_to_normal_users(setup: Setup) -> None:
    result = await setup.hs.api().register("_silent_dave")
    assert result["user_id"] == "@_silent_dave:localhost"


async def test_normal_users_cannot_create_aliases_in_an_exclusive_namespace(setup: Setup) -> None:
    alice = await setup.hs.register("alice")
    room_id = await alice.create_room()
    with pytest.raises(MatrixError) as e:
        await alice.request("PUT", f"/_matrix/client/v3/directory/room/{q('#_bridge_x:localhost')}",
                            {"room_id": room_id})
    assert (e.value.status, e.value.body["errcode"]) == (400, "M_EXCLUSIVE")
    with pytest.raises(MatrixError) as e:
        await alice.create_room(room_alias_name="_bridge_y")
    assert e.value.body["errcode"] == "M_EXCLUSIVE"
    # The service itself may.
    await setup.bot().request("PUT", f"/_matrix/client/v3/directory/room/{q('#_bridge_x:localhost')}",
                              {"room_id": room_id})
    bot_room = await setup.bot().create_room(room_alias_name="_bridge_z")
    assert bot_room.startswith("!")


# --- transactions ------------------------------------------------------------------------
async def test_transactions_carry_the_events_of_rooms_with_namespace_users(setup: Setup) -> None:
    alice = await setup.hs.register("alice")
    elsewhere = await alice.create_room()
    await alice.send(elsewhere, "not for the bridge")
    room_id = await alice.create_room()
    await alice.invite(room_id, "@_bridge_alice:localhost")  # unknown yet: the invite names it
    await setup.register_puppet("_bridge_alice")
    await setup.as_request("POST", f"/_matrix/client/v3/join/{q(room_id)}", "@_bridge_alice:localhost", body={})
    event_id = await alice.send(room_id, "hello bridge")

    invite = await setup.service.wait_for(lambda e: e["type"] == "m.room.member"
                                          and e["content"]["membership"] == "invite")
    assert invite["state_key"] == "@_bridge_alice:localhost" and invite["room_id"] == room_id
    message = await setup.service.wait_for(lambda e: e.get("event_id") == event_id)
    assert message["content"]["body"] == "hello bridge" and message["sender"] == "@alice:localhost"
    assert not setup.service.events(lambda e: e["room_id"] == elsewhere)


async def test_ephemeral_typing_and_receipts_reach_the_service(setup: Setup) -> None:
    alice = await setup.hs.register("alice")
    room_id = await alice.create_room(preset="public_chat")
    await setup.register_puppet("_bridge_eph")
    await setup.as_request("POST", f"/_matrix/client/v3/join/{q(room_id)}", "@_bridge_eph:localhost", body={})
    event_id = await alice.send(room_id, "read me")
    await alice.request("PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/typing/{q(alice.user_id or '')}",
                        {"typing": True, "timeout": 30000})
    await alice.request("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/receipt/m.read/{q(event_id)}", {})

    typing = await setup.service.wait_for(lambda e: e["type"] == "m.typing", key="ephemeral")
    assert typing["room_id"] == room_id and typing["content"]["user_ids"] == ["@alice:localhost"]
    receipt = await setup.service.wait_for(lambda e: e["type"] == "m.receipt", key="ephemeral")
    assert "@alice:localhost" in receipt["content"][event_id]["m.read"]
    unstable = setup.service.events(lambda e: e["type"] == "m.receipt", key="de.sorunome.msc2409.ephemeral")
    assert unstable == [receipt]


async def test_to_device_messages_for_namespace_users_reach_the_service(setup: Setup) -> None:
    await setup.register_puppet("_bridge_td", device_id="TDDEVICE")
    alice = await setup.hs.register("alice")
    await alice.request("PUT", "/_matrix/client/v3/sendToDevice/m.test/txn1",
                        {"messages": {"@_bridge_td:localhost": {"TDDEVICE": {"hello": "device"}}}})
    message = await setup.service.wait_for(lambda e: e["type"] == "m.test", key="de.sorunome.msc2409.to_device")
    assert message == {"type": "m.test", "sender": "@alice:localhost", "content": {"hello": "device"},
                       "to_user_id": "@_bridge_td:localhost", "to_device_id": "TDDEVICE"}


async def test_transactions_are_retried_with_the_same_txn_id_and_kept_in_order(setup: Setup) -> None:
    alice = await setup.hs.register("alice")
    room_id = await alice.create_room()
    await setup.register_puppet("_bridge_r")
    await alice.invite(room_id, "@_bridge_r:localhost")
    await setup.as_request("POST", f"/_matrix/client/v3/join/{q(room_id)}", "@_bridge_r:localhost", body={})
    await setup.service.wait_for(lambda e: e.get("state_key") == "@_bridge_r:localhost"
                                 and e["content"]["membership"] == "join")
    setup.service.failing = True
    failed_before = len(setup.service.attempts)
    sent = [await alice.send(room_id, f"message {i}") for i in range(5)]
    await setup.service.wait_until(lambda: len(setup.service.attempts) >= failed_before + 3)
    first_failed = setup.service.attempts[failed_before]
    assert set(setup.service.attempts[failed_before:]) == {first_failed}  # one transaction, retried
    setup.service.failing = False
    await setup.service.wait_for(lambda e: e.get("event_id") == sent[-1])
    received = [e["event_id"] for e in setup.service.events(lambda e: e.get("event_id") in sent)]
    assert received == sent
    delivered_ids = [txn_id for txn_id, _ in setup.service.transactions]
    assert first_failed in delivered_ids


# --- queries --------------------------------------------------------------------------------
async def test_profile_of_an_unknown_namespace_user_asks_the_service(setup: Setup) -> None:
    alice = await setup.hs.register("alice")
    profile = await alice.request("GET", f"/_matrix/client/v3/profile/{q('@_bridge_known_bob:localhost')}")
    assert profile == {}
    assert setup.service.user_queries == ["@_bridge_known_bob:localhost"]
    status, _ = await alice.status_of("GET", f"/_matrix/client/v3/profile/{q('@_bridge_ghost:localhost')}")
    assert status == 404
    assert setup.service.user_queries[-1] == "@_bridge_ghost:localhost"


async def test_inviting_an_unknown_namespace_user_at_room_creation_asks_the_service(setup: Setup) -> None:
    alice = await setup.hs.register("alice")
    room_id = await alice.create_room(invite=["@_bridge_known_inv:localhost"])
    assert setup.service.user_queries == ["@_bridge_known_inv:localhost"]
    member = await alice.get_state(room_id, "m.room.member", "@_bridge_known_inv:localhost")
    assert member["membership"] == "invite"


async def test_an_unknown_alias_in_the_namespace_resolves_once_the_service_creates_it(setup: Setup) -> None:
    alice = await setup.hs.register("alice")
    found = await alice.request("GET", f"/_matrix/client/v3/directory/room/{q('#_bridge_known_lobby:localhost')}")
    assert found["room_id"].startswith("!")
    assert setup.service.alias_queries == ["#_bridge_known_lobby:localhost"]
    status, body = await alice.status_of("GET", f"/_matrix/client/v3/directory/room/{q('#_bridge_nope:localhost')}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


# --- ping and third-party protocols --------------------------------------------------------
async def test_ping_reaches_the_service_and_reports_the_duration(setup: Setup) -> None:
    result = await setup.as_request("POST", "/_matrix/client/v1/appservice/bridge/ping",
                                    body={"transaction_id": "ping-1"})
    assert isinstance(result["duration_ms"], int)
    assert setup.service.pings == [{"transaction_id": "ping-1"}]


async def test_ping_needs_the_services_own_token(setup: Setup) -> None:
    alice = await setup.hs.register("alice")
    status, body = await alice.status_of("POST", "/_matrix/client/v1/appservice/bridge/ping", body={})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_ping_of_a_service_without_url_is_m_url_not_set(setup: Setup) -> None:
    status, body = await setup.hs.api("as-silent").status_of(
        "POST", "/_matrix/client/v1/appservice/silent/ping", body={})
    assert (status, body["errcode"]) == (400, "M_URL_NOT_SET")


async def test_ping_of_a_service_that_is_down_is_m_connection_failed(setup: Setup) -> None:
    await setup.service.stop()
    status, body = await setup.as_request_status("POST", "/_matrix/client/v1/appservice/bridge/ping")
    assert (status, body["errcode"]) == (502, "M_CONNECTION_FAILED")


async def test_thirdparty_protocols_come_from_the_services(setup: Setup) -> None:
    alice = await setup.hs.register("alice")
    protocols = await alice.request("GET", "/_matrix/client/v3/thirdparty/protocols")
    assert protocols["fakechat"]["user_fields"] == ["nick"]


# --- registration files --------------------------------------------------------------------
@pytest.mark.parametrize(("change", "message"), [
    ({"as_token": "as-token-bridge"}, "as_token is the same"),
    ({"id": "bridge"}, "id is the same"),
    ({"namespaces": {"users": [{"exclusive": True, "regex": "@_x_(.*"}]}}, "not a valid regular expression"),
])
async def test_bad_registrations_are_refused_at_start(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    from homeserver.app.homeserver import Homeserver

    first = write_registration(tmp_path / "one.yaml", "http://127.0.0.1:9")
    second = tmp_path / "two.yaml"
    other = {**registration("http://127.0.0.1:9"), "id": "other", "as_token": "a2", "hs_token": "h2",
             "sender_localpart": "otherbot", **change}
    import yaml
    second.write_text(yaml.safe_dump(other))
    config = make_config(tmp_path / "hs", app_service_config_files=[str(first), str(second)])
    with pytest.raises(ConfigError, match=message):
        Homeserver(config)
