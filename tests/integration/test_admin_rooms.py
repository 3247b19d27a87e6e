"""Admin API over real HTTP: room listing, details, members, shutdown, blocking,
messages since a time, rooms created by an admin, and content reports."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q
from tests.integration.test_admin_users import P1, S1, S2, V3, expect_error, make_admin


@pytest.fixture
async def admin(homeserver: RunningHomeserver) -> MatrixHttp:
    return await make_admin(homeserver)


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("alice")


@pytest.fixture
async def bob(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("bob")


async def test_room_list_counts_members_orders_and_searches(
    admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp
) -> None:
    busy = await alice.create_room(preset="public_chat", name="Busy", room_alias_name="busy")
    await bob.join(busy)
    quiet = await alice.create_room(name="Archive")
    listing = await admin.request("GET", f"{S1}/rooms")
    by_id = {r["room_id"]: r for r in listing["rooms"]}
    assert by_id[busy]["joined_members"] == 2 and by_id[busy]["joined_local_members"] == 2
    assert by_id[busy]["canonical_alias"] == "#busy:localhost" and by_id[busy]["join_rules"] == "public"
    assert by_id[quiet]["joined_members"] == 1 and by_id[quiet]["name"] == "Archive"
    assert listing["total_rooms"] == len(listing["rooms"]) and listing["offset"] == 0
    names = [r["name"] for r in listing["rooms"] if r["name"]]
    assert names == sorted(names)  # order_by=name is the default
    by_members = await admin.request("GET", f"{S1}/rooms", params={"order_by": "joined_members"})
    assert by_members["rooms"][0]["room_id"] == busy
    searched = await admin.request("GET", f"{S1}/rooms", params={"search_term": "arch"})
    assert [r["room_id"] for r in searched["rooms"]] == [quiet]
    page = await admin.request("GET", f"{S1}/rooms", params={"limit": "1"})
    assert len(page["rooms"]) == 1 and page["next_batch"] == 1
    await expect_error(admin.request("GET", f"{S1}/rooms", params={"order_by": "nonsense"}), 400, "M_INVALID_PARAM")


async def test_room_details_members_and_state(admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat", name="Details", topic="A topic")
    await bob.join(room_id)
    details = await admin.request("GET", f"{S1}/rooms/{q(room_id)}")
    assert details["room_id"] == room_id and details["topic"] == "A topic" and details["joined_members"] == 2
    assert details["creator"] == "@alice:localhost"
    members = await admin.request("GET", f"{S1}/rooms/{q(room_id)}/members")
    assert members == {"members": ["@alice:localhost", "@bob:localhost"], "total": 2}
    state = await admin.request("GET", f"{S1}/rooms/{q(room_id)}/state")
    assert ("m.room.name", "") in {(e["type"], e["state_key"]) for e in state["state"]}
    await expect_error(admin.request("GET", f"{S1}/rooms/{q('!missing:localhost')}"), 404, "M_NOT_FOUND")


async def test_delete_room_removes_everyone_and_blocks_rejoins(
    homeserver: RunningHomeserver, admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp
) -> None:
    room_id = await alice.create_room(preset="public_chat", room_alias_name="doomed")
    await bob.join(room_id)
    # Without purge the room's history stays (purging: tests/integration/test_admin_room_purge.py).
    started = await admin.request(
        "DELETE", f"{S2}/rooms/{q(room_id)}", {"block": True, "message": "Closed", "purge": False}
    )
    await asyncio.wait_for(homeserver.hs.room_purge.wait_idle(), 30)
    status = await admin.request("GET", f"{S2}/rooms/delete_status/{started['delete_id']}")
    assert status["status"] == "complete"
    assert sorted(status["shutdown_room"]["kicked_users"]) == ["@alice:localhost", "@bob:localhost"]
    assert status["shutdown_room"]["local_aliases"] == ["#doomed:localhost"]
    members = await admin.request("GET", f"{S1}/rooms/{q(room_id)}/members")
    assert members["total"] == 0
    # No local member is left, so a join would go over federation: the block still refuses it.
    status, body = await bob.status_of("POST", f"{V3}/rooms/{q(room_id)}/join", body={})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    assert (await admin.request("GET", f"{S1}/rooms/{q(room_id)}/members"))["total"] == 0
    assert await admin.request("GET", f"{S1}/rooms/{q(room_id)}/block") == {
        "block": True, "user_id": "@admin:localhost"
    }
    await expect_error(admin.request("GET", f"{V3}/directory/room/{q('#doomed:localhost')}"), 404, "M_NOT_FOUND")


async def test_block_and_unblock_room(admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    assert await admin.request("GET", f"{S1}/rooms/{q(room_id)}/block") == {"block": False}
    assert await admin.request("PUT", f"{S1}/rooms/{q(room_id)}/block", {"block": True}) == {"block": True}
    await expect_error(bob.join(room_id), 403, "M_FORBIDDEN")
    await expect_error(alice.invite(room_id, "@bob:localhost"), 403, "M_FORBIDDEN")
    await admin.request("PUT", f"{S1}/rooms/{q(room_id)}/block", {"block": False})
    await bob.join(room_id)


async def test_messages_since_a_time(homeserver: RunningHomeserver, admin: MatrixHttp, alice: MatrixHttp) -> None:
    room_id = await alice.create_room()
    await alice.send(room_id, "before")
    cutoff = homeserver.hs.clock.time_ms() + 1
    # Messages sent after the cutoff millisecond: wait for the clock to pass it, not for a fixed time.
    while homeserver.hs.clock.time_ms() <= cutoff:
        await alice.request("GET", f"{V3}/account/whoami")
    first = await alice.send(room_id, "after 1")
    second = await alice.send(room_id, "after 2")
    found = await admin.request("GET", f"{P1}/rooms/{q(room_id)}/messages", params={"since": str(cutoff)})
    assert [e["event_id"] for e in found["chunk"]] == [first, second]
    assert found["chunk"][0]["content"]["body"] == "after 1"
    await expect_error(admin.request("GET", f"{P1}/rooms/{q(room_id)}/messages"), 400, "M_MISSING_PARAM")


async def test_admin_creates_room_owned_by_system_user(admin: MatrixHttp, alice: MatrixHttp) -> None:
    created = await admin.request("POST", f"{P1}/rooms", {"name": "Announcements", "preset": "public_chat"})
    assert created["creator"] == "@notices:localhost"
    await alice.join(created["room_id"])
    name = await alice.get_state(created["room_id"], "m.room.name")
    assert name == {"name": "Announcements"}
    owned = await admin.request("POST", f"{P1}/rooms", {"creator": "@alice:localhost", "name": "Hers"})
    details = await admin.request("GET", f"{S1}/rooms/{q(owned['room_id'])}")
    assert details["creator"] == "@alice:localhost"
    await expect_error(admin.request("POST", f"{P1}/rooms", {"creator": "@ghost:localhost"}), 400, "M_INVALID_PARAM")


async def test_reported_event_is_listed_by_admin_api(admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat", name="Reported")
    await bob.join(room_id)
    event_id = await alice.send(room_id, "offensive")
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/report/{q(event_id)}", {"reason": "rude", "score": -100})
    listed = await admin.request("GET", f"{S1}/event_reports")
    assert listed["total"] == 1
    report = listed["event_reports"][0]
    assert (report["room_id"], report["event_id"], report["user_id"]) == (room_id, event_id, "@bob:localhost")
    assert (report["reason"], report["score"], report["sender"], report["name"]) == (
        "rude", -100, "@alice:localhost", "Reported"
    )
    detail = await admin.request("GET", f"{S1}/event_reports/{report['id']}")
    assert detail["event_json"]["content"]["body"] == "offensive"
    await admin.request("DELETE", f"{S1}/event_reports/{report['id']}")
    assert (await admin.request("GET", f"{S1}/event_reports"))["total"] == 0


async def test_report_needs_membership_and_an_existing_event(
    homeserver: RunningHomeserver, alice: MatrixHttp, bob: MatrixHttp
) -> None:
    room_id = await alice.create_room(preset="public_chat")
    event_id = await alice.send(room_id, "hello")
    path = f"{V3}/rooms/{q(room_id)}/report/{q(event_id)}"
    await expect_error(bob.request("POST", path, {"reason": "x"}), 404, "M_NOT_FOUND")
    await bob.join(room_id)
    await expect_error(
        bob.request("POST", f"{V3}/rooms/{q(room_id)}/report/{q('$nope')}", {"reason": "x"}), 404, "M_NOT_FOUND"
    )
    await expect_error(bob.request("POST", path, {"score": 5}), 400, "M_INVALID_PARAM")
    await expect_error(homeserver.api().request("POST", path, {}), 401, "M_MISSING_TOKEN")


async def test_room_and_user_reports(admin: MatrixHttp, alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room()
    # spec: the caller need not be joined to report a room.
    await bob.request("POST", f"{V3}/rooms/{q(room_id)}/report", {"reason": "spam room"})
    await bob.request("POST", f"{V3}/users/{q('@alice:localhost')}/report", {"reason": "spammer"})
    await expect_error(bob.request("POST", f"{V3}/rooms/{q('!nope:localhost')}/report", {"reason": "x"}),
                       404, "M_NOT_FOUND")
    await expect_error(bob.request("POST", f"{V3}/rooms/{q(room_id)}/report", {}), 400, "M_BAD_JSON")
    assert (await admin.request("GET", f"{S1}/event_reports"))["total"] == 0  # events only by default
    everything = await admin.request("GET", f"{S1}/event_reports", params={"include_room_and_user_reports": "true"})
    assert {(r["room_id"], r["reported_user_id"], r["reason"]) for r in everything["event_reports"]} == {
        (room_id, None, "spam room"), (None, "@alice:localhost", "spammer"),
    }
