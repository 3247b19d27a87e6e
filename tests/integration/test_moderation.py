"""Moderation over real HTTP: temporary kicks, bans, knocks, IP bans, default rooms, server notices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.conftest import RunningHomeserver, make_config, start_homeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import joined_room, sync_until, timeline_of
from tests.integration.test_admin_users import P1, S1, V3, expect_error, make_admin


@pytest.fixture
async def admin(homeserver: RunningHomeserver) -> MatrixHttp:
    return await make_admin(homeserver)


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("alice")


@pytest.fixture
async def bob(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("bob")


def unban_of(user_id: str, room_id: str) -> Any:
    """A /sync predicate: the room's timeline holds the event lifting user_id's ban."""
    def found(response: dict[str, Any]) -> bool:
        return any(
            e["type"] == "m.room.member" and e["state_key"] == user_id and e["content"]["membership"] == "leave"
            and e.get("unsigned", {}).get("prev_content", {}).get("membership") == "ban"
            for e in timeline_of(response, room_id)
        )
    return found


async def membership_of(api: MatrixHttp, room_id: str, user_id: str) -> str:
    return (await api.get_state(room_id, "m.room.member", user_id))["membership"]


async def shared_room(alice: MatrixHttp, bob: MatrixHttp) -> str:
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    return room_id


# --- temporary kicks -----------------------------------------------------------------------------
async def test_temporary_kick_lifts_itself(admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await shared_room(alice, bob)
    _, since = await sync_until(alice, None, lambda r: bool(joined_room(r, room_id)))
    ban = await admin.request("POST", f"{P1}/rooms/{q(room_id)}/temporary_bans",
                              {"user_id": "@bob:localhost", "duration_ms": 400, "reason": "cool off"})
    assert ban["banned_by"] == "@alice:localhost"  # the room's own moderator acts
    assert await membership_of(alice, room_id, "@bob:localhost") == "ban"
    await expect_error(bob.join(room_id), 403, "M_FORBIDDEN")
    await sync_until(alice, since, unban_of("@bob:localhost", room_id), within=10)
    assert await membership_of(alice, room_id, "@bob:localhost") == "leave"
    await bob.join(room_id)
    assert (await admin.request("GET", f"{P1}/temporary_bans"))["temporary_bans"] == []


async def test_a_sooner_temporary_kick_wakes_the_expiry_task(
    homeserver: RunningHomeserver, admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp
) -> None:
    room_id = await shared_room(alice, bob)
    carol = await homeserver.register("carol")
    await carol.join(room_id)
    _, since = await sync_until(alice, None, lambda r: bool(joined_room(r, room_id)))
    # The task is asleep until carol's expiry in an hour; bob's must wake it.
    await admin.request("POST", f"{P1}/rooms/{q(room_id)}/temporary_bans", {"user_id": "@carol:localhost", "minutes": 60})
    await admin.request("POST", f"{P1}/rooms/{q(room_id)}/temporary_bans",
                        {"user_id": "@bob:localhost", "duration_ms": 300})
    await sync_until(alice, since, unban_of("@bob:localhost", room_id), within=10)
    remaining = await admin.request("GET", f"{P1}/temporary_bans")
    assert [b["user_id"] for b in remaining["temporary_bans"]] == ["@carol:localhost"]
    assert await membership_of(alice, room_id, "@carol:localhost") == "ban"


async def test_unkick_lifts_a_temporary_kick_early(admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await shared_room(alice, bob)
    await admin.request("POST", f"{P1}/rooms/{q(room_id)}/temporary_bans", {"user_id": "@bob:localhost", "minutes": 60})
    listed = await admin.request("GET", f"{P1}/rooms/{q(room_id)}/temporary_bans")
    assert [b["user_id"] for b in listed["temporary_bans"]] == ["@bob:localhost"]
    await admin.request("DELETE", f"{P1}/rooms/{q(room_id)}/temporary_bans/{q('@bob:localhost')}")
    assert await membership_of(alice, room_id, "@bob:localhost") == "leave"
    assert (await admin.request("GET", f"{P1}/temporary_bans"))["temporary_bans"] == []
    await expect_error(
        admin.request("DELETE", f"{P1}/rooms/{q(room_id)}/temporary_bans/{q('@bob:localhost')}"), 404, "M_NOT_FOUND"
    )


async def test_temporary_kick_needs_a_local_moderator(admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await shared_room(alice, bob)
    # Alice is the only one with power; she cannot be kicked by anyone local.
    await expect_error(admin.request("POST", f"{P1}/rooms/{q(room_id)}/temporary_bans",
                                     {"user_id": "@alice:localhost", "minutes": 1}), 403, "M_FORBIDDEN")
    await expect_error(admin.request("POST", f"{P1}/rooms/{q(room_id)}/temporary_bans",
                                     {"user_id": "@bob:localhost"}), 400, "M_INVALID_PARAM")


async def test_temporary_kick_survives_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path / "hs")
    hs, server = await start_homeserver(config)
    async with ClientSession() as session:
        running = RunningHomeserver(hs, server, session)
        admin = await make_admin(running)
        alice = await running.register("alice")
        bob = await running.register("bob")
        room_id = await shared_room(alice, bob)
        _, since = await sync_until(alice, None, lambda r: bool(joined_room(r, room_id)))
        await admin.request("POST", f"{P1}/rooms/{q(room_id)}/temporary_bans",
                            {"user_id": "@bob:localhost", "duration_ms": 2500})
        await server.close()

        hs, server = await start_homeserver(config)
        try:
            restarted = RunningHomeserver(hs, server, session)
            alice_again = restarted.api(alice.access_token)
            await sync_until(alice_again, since, unban_of("@bob:localhost", room_id), within=15)
            assert await membership_of(alice_again, room_id, "@bob:localhost") == "leave"
        finally:
            await server.close()


# --- bans and knocks -------------------------------------------------------------------------------
async def test_admin_ban_and_unban(admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await shared_room(alice, bob)
    await admin.request("POST", f"{P1}/rooms/{q(room_id)}/ban", {"user_id": "@bob:localhost", "reason": "spam"})
    member = await alice.get_state(room_id, "m.room.member", "@bob:localhost")
    assert member == {"membership": "ban", "reason": "spam"}
    await admin.request("POST", f"{P1}/rooms/{q(room_id)}/unban", {"user_id": "@bob:localhost"})
    await bob.join(room_id)
    await expect_error(admin.request("POST", f"{P1}/rooms/{q(room_id)}/unban", {"user_id": "@bob:localhost"}),
                       404, "M_NOT_FOUND")


async def test_pending_knocks_listed_and_accepted(admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(initial_state=[
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}
    ])
    await bob.request("POST", f"{V3}/knock/{q(room_id)}", {"reason": "let me in"})
    knocks = await admin.request("GET", f"{P1}/rooms/{q(room_id)}/knocks")
    assert [(k["user_id"], k["reason"]) for k in knocks["knocks"]] == [("@bob:localhost", "let me in")]
    await admin.request("POST", f"{P1}/rooms/{q(room_id)}/knocks/{q('@bob:localhost')}/accept", {})
    assert await membership_of(alice, room_id, "@bob:localhost") == "invite"
    await bob.join(room_id)
    assert (await admin.request("GET", f"{P1}/rooms/{q(room_id)}/knocks"))["knocks"] == []


# --- IP bans -------------------------------------------------------------------------------------------
BANNED = "203.0.113.7"


async def test_ip_ban_refuses_a_client_behind_a_trusted_proxy(config_factory: Any) -> None:
    hs, server = await start_homeserver(config_factory(trusted_proxies=["127.0.0.1"]))
    try:
        async with ClientSession() as session:
            running = RunningHomeserver(hs, server, session)
            admin = await make_admin(running)
            await admin.request("POST", f"{P1}/ip_bans", {"address": BANNED, "reason": "abuse"})
            listed = await admin.request("GET", f"{P1}/ip_bans")
            assert [(b["address"], b["reason"]) for b in listed["ip_bans"]] == [(BANNED, "abuse")]
            from_banned = {"X-Forwarded-For": f"198.51.100.9, {BANNED}"}
            await expect_error(
                admin.request("GET", f"{V3}/account/whoami", headers=from_banned), 403, "M_FORBIDDEN"
            )
            await expect_error(
                running.api().request("GET", "/_matrix/client/versions", headers=from_banned), 403, "M_FORBIDDEN"
            )
            await admin.request("GET", f"{V3}/account/whoami", headers={"X-Forwarded-For": "198.51.100.9"})
            await admin.request("GET", f"{V3}/account/whoami")  # the proxy itself
            await admin.request("DELETE", f"{P1}/ip_bans/{BANNED}")
            await admin.request("GET", f"{V3}/account/whoami", headers=from_banned)
    finally:
        await server.close()


async def test_forwarded_for_is_ignored_without_trusted_proxies(
    homeserver: RunningHomeserver, admin: MatrixHttp
) -> None:
    await admin.request("POST", f"{P1}/ip_bans", {"address": BANNED})
    await admin.request("GET", f"{V3}/account/whoami", headers={"X-Forwarded-For": BANNED})


async def test_ip_ban_of_the_peer_address(homeserver: RunningHomeserver, admin: MatrixHttp) -> None:
    await admin.request("POST", f"{P1}/ip_bans", {"address": "127.0.0.1"})
    await expect_error(admin.request("GET", f"{V3}/account/whoami"), 403, "M_FORBIDDEN")
    await expect_error(homeserver.api().request("GET", "/_matrix/client/versions"), 403, "M_FORBIDDEN")
    await homeserver.hs.ip_bans.unban("127.0.0.1")  # the operator's way back in: parleyd admin ipunban
    await admin.request("GET", f"{V3}/account/whoami")


async def test_ip_ban_of_a_cidr_range(config_factory: Any) -> None:
    hs, server = await start_homeserver(config_factory(trusted_proxies=["127.0.0.1"]))
    try:
        async with ClientSession() as session:
            running = RunningHomeserver(hs, server, session)
            admin = await make_admin(running)
            await admin.request("POST", f"{P1}/ip_bans", {"address": "203.0.113.0/24", "reason": "spam net"})
            await admin.request("POST", f"{P1}/ip_bans", {"address": "2001:db8::/32"})
            await admin.request("POST", f"{P1}/ip_bans", {"address": "192.0.2.9/32"})  # one address
            listed = await admin.request("GET", f"{P1}/ip_bans")
            assert sorted(b["address"] for b in listed["ip_bans"]) == [
                "192.0.2.9", "2001:db8::/32", "203.0.113.0/24"]
            for inside in ("203.0.113.1", "203.0.113.254", "2001:db8::1", "192.0.2.9"):
                await expect_error(admin.request("GET", f"{V3}/account/whoami",
                                                 headers={"X-Forwarded-For": inside}), 403, "M_FORBIDDEN")
            for outside in ("203.0.114.1", "2001:db9::1", "192.0.2.10"):
                await admin.request("GET", f"{V3}/account/whoami", headers={"X-Forwarded-For": outside})
            await admin.request("DELETE", f"{P1}/ip_bans/{q('203.0.113.0/24')}")
            await admin.request("GET", f"{V3}/account/whoami", headers={"X-Forwarded-For": "203.0.113.1"})
    finally:
        await server.close()
    # Bans survive a restart, ranges included.
    hs, server = await start_homeserver(config_factory(trusted_proxies=["127.0.0.1"]))
    try:
        assert hs.ip_bans.is_banned("2001:db8:ffff::5") and not hs.ip_bans.is_banned("203.0.113.1")
    finally:
        await server.close()


async def test_ip_ban_rejects_ranges_with_host_bits(admin: MatrixHttp) -> None:
    await expect_error(admin.request("POST", f"{P1}/ip_bans", {"address": "10.0.0.1/8"}), 400, "M_INVALID_PARAM")
    await expect_error(admin.request("POST", f"{P1}/ip_bans", {"address": "10.0.0.0/33"}), 400, "M_INVALID_PARAM")


async def test_ip_ban_rejects_non_addresses(admin: MatrixHttp) -> None:
    await expect_error(admin.request("POST", f"{P1}/ip_bans", {"address": "not-an-ip"}), 400, "M_INVALID_PARAM")
    await expect_error(admin.request("DELETE", f"{P1}/ip_bans/192.0.2.55"), 404, "M_NOT_FOUND")


# --- default rooms ---------------------------------------------------------------------------------------
async def test_new_user_lands_in_default_rooms(config_factory: Any) -> None:
    config = config_factory(default_rooms=["#welcome:localhost", "#lobby:localhost"])
    hs, server = await start_homeserver(config)
    try:
        async with ClientSession() as session:
            running = RunningHomeserver(hs, server, session)
            carol = await running.register("carol")
            joined = set((await carol.request("GET", f"{V3}/joined_rooms"))["joined_rooms"])
            for alias in ("#welcome:localhost", "#lobby:localhost"):
                room_id = (await carol.request("GET", f"{V3}/directory/room/{q(alias)}"))["room_id"]
                assert room_id in joined
                create = await carol.get_state(room_id, "m.room.create")
                assert create is not None
                members = await carol.request("GET", f"{V3}/rooms/{q(room_id)}/joined_members")
                assert set(members["joined"]) == {"@notices:localhost", "@carol:localhost"}
    finally:
        await server.close()


# --- server notices ----------------------------------------------------------------------------------------
async def test_server_notice_arrives_in_a_room_tagged_server_notice(admin: MatrixHttp, alice: MatrixHttp) -> None:
    content = {"msgtype": "m.server_notice", "body": "Maintenance at 18:00"}
    sent = await admin.request("POST", f"{S1}/send_server_notice", {"user_id": "@alice:localhost", "content": content})
    invited, since = await sync_until(alice, None, lambda r: bool(r.get("rooms", {}).get("invite")))
    (room_id,) = invited["rooms"]["invite"].keys()
    # spec: the invite to the server notices room cannot be rejected.
    await expect_error(alice.leave(room_id), 403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM")
    await alice.join(room_id)

    def has_notice(response: dict[str, Any]) -> bool:
        return any(e["event_id"] == sent["event_id"] for e in timeline_of(response, room_id))

    response, since = await sync_until(alice, since, has_notice)
    room = joined_room(response, room_id)
    notice = next(e for e in room["timeline"]["events"] if e["event_id"] == sent["event_id"])
    assert notice["sender"] == "@notices:localhost" and notice["content"] == content
    tags = [e for e in room["account_data"]["events"] if e["type"] == "m.tag"]
    assert "m.server_notice" in tags[0]["content"]["tags"]
    # One room per user: the next notice goes to the same room.
    again = await admin.request("POST", f"{S1}/send_server_notice",
                                {"user_id": "@alice:localhost", "content": {"msgtype": "m.text", "body": "Done"}})
    event = await alice.request("GET", f"{V3}/rooms/{q(room_id)}/event/{q(again['event_id'])}")
    assert event["content"]["body"] == "Done"
    # Users cannot post in their notices room.
    await expect_error(alice.send(room_id, "reply"), 403, "M_FORBIDDEN")


async def test_server_notice_to_unknown_user_is_404(admin: MatrixHttp) -> None:
    await expect_error(admin.request("POST", f"{S1}/send_server_notice",
                                     {"user_id": "@ghost:localhost", "content": {"msgtype": "m.text", "body": "x"}}),
                       404, "M_NOT_FOUND")
