"""Account data, room tags, m.direct and ignored users over real HTTP.

spec: client-server-api/modules/{account_data,tags,dm,ignore_users}.md; cases
follow Complement's TestAddAccountData, TestWriteMDirectAccountData and
TestInviteFromIgnoredUsersDoesNotAppearInSync.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import joined_room, sync_until, timeline_of

V3 = "/_matrix/client/v3"


def global_path(client: MatrixHttp, data_type: str, user_id: str | None = None) -> str:
    return f"{V3}/user/{q(user_id or client.user_id or '')}/account_data/{q(data_type)}"


def room_path(client: MatrixHttp, room_id: str, data_type: str) -> str:
    return f"{V3}/user/{q(client.user_id or '')}/rooms/{q(room_id)}/account_data/{q(data_type)}"


def global_events(response: dict[str, Any], data_type: str) -> list[dict[str, Any]]:
    return [e["content"] for e in response.get("account_data", {}).get("events", []) if e["type"] == data_type]


def room_events(response: dict[str, Any], room_id: str, data_type: str) -> list[dict[str, Any]]:
    events = joined_room(response, room_id).get("account_data", {}).get("events", [])
    return [e["content"] for e in events if e["type"] == data_type]


async def test_global_account_data_round_trip_and_overwrite(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    path = global_path(alice, "com.example.settings")
    await alice.request("PUT", path, {"theme": "dark"})
    assert await alice.request("GET", path) == {"theme": "dark"}
    await alice.request("PUT", path, {"theme": "light"})
    assert await alice.request("GET", path) == {"theme": "light"}


async def test_room_account_data_round_trip(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    path = room_path(alice, room_id, "com.example.room")
    await alice.request("PUT", path, {"pinned": True})
    assert await alice.request("GET", path) == {"pinned": True}
    # Room account data is not global account data.
    err = await alice.request("GET", global_path(alice, "com.example.room"), expect=404)
    assert err["errcode"] == "M_NOT_FOUND"


async def test_missing_account_data_is_not_found(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    err = await alice.request("GET", global_path(alice, "com.example.nothing"), expect=404)
    assert err["errcode"] == "M_NOT_FOUND"


async def test_cannot_touch_other_users_account_data(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    path = global_path(alice, "com.example.x", user_id=bob.user_id)
    assert (await alice.request("PUT", path, {"a": 1}, expect=403))["errcode"] == "M_FORBIDDEN"
    assert (await alice.request("GET", path, expect=403))["errcode"] == "M_FORBIDDEN"


@pytest.mark.parametrize("data_type", ["m.fully_read", "m.push_rules"])
async def test_server_controlled_types_cannot_be_set(homeserver: RunningHomeserver, data_type: str) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    # spec: account-data.yaml — 405 M_BAD_JSON
    err = await alice.request("PUT", global_path(alice, data_type), {}, expect=405)
    assert err["errcode"] == "M_BAD_JSON"
    err = await alice.request("PUT", room_path(alice, room_id, data_type), {}, expect=405)
    assert err["errcode"] == "M_BAD_JSON"


async def test_account_data_body_must_be_object(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    err = await alice.request("PUT", global_path(alice, "com.example.x"), raw=b"[1]", expect=400)
    assert err["errcode"] == "M_BAD_JSON"
    err = await alice.request("PUT", global_path(alice, "com.example.x"), raw=b"{nope", expect=400)
    assert err["errcode"] == "M_NOT_JSON"


async def test_invalid_room_id_rejected(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    err = await alice.request("PUT", room_path(alice, "not-a-room", "com.example.x"), {}, expect=400)
    assert err["errcode"] == "M_INVALID_PARAM"


async def test_account_data_in_initial_and_incremental_sync(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    await alice.request("PUT", global_path(alice, "com.example.g"), {"v": 1})
    await alice.request("PUT", room_path(alice, room_id, "com.example.r"), {"v": 2})
    initial = await alice.sync()
    assert global_events(initial, "com.example.g") == [{"v": 1}]
    assert room_events(initial, room_id, "com.example.r") == [{"v": 2}]
    await alice.request("PUT", global_path(alice, "com.example.g"), {"v": 3})
    response, since = await sync_until(
        alice, initial["next_batch"], lambda r: bool(global_events(r, "com.example.g"))
    )
    assert global_events(response, "com.example.g") == [{"v": 3}]
    assert room_events(response, room_id, "com.example.r") == []  # unchanged, not repeated
    await alice.request("PUT", room_path(alice, room_id, "com.example.r"), {"v": 4})
    response, _ = await sync_until(alice, since, lambda r: bool(room_events(r, room_id, "com.example.r")))
    assert room_events(response, room_id, "com.example.r") == [{"v": 4}]
    assert global_events(response, "com.example.g") == []


async def test_m_direct_in_sync_and_get(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(invite=[bob.user_id], is_direct=True)
    since = (await alice.sync())["next_batch"]
    direct = {bob.user_id: [room_id]}
    await alice.request("PUT", global_path(alice, "m.direct"), direct)
    response, _ = await sync_until(alice, since, lambda r: bool(global_events(r, "m.direct")))
    assert global_events(response, "m.direct") == [direct]
    assert global_events(await alice.sync(), "m.direct") == [direct]
    assert await alice.request("GET", global_path(alice, "m.direct")) == direct


# --- tags -------------------------------------------------------------------------------


def tags_path(client: MatrixHttp, room_id: str, tag: str | None = None) -> str:
    base = f"{V3}/user/{q(client.user_id or '')}/rooms/{q(room_id)}/tags"
    return base if tag is None else f"{base}/{q(tag)}"


async def test_tags_add_list_remove(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    assert await alice.request("GET", tags_path(alice, room_id)) == {"tags": {}}
    await alice.request("PUT", tags_path(alice, room_id, "m.favourite"), {"order": 0.5})
    await alice.request("PUT", tags_path(alice, room_id, "u.work"), {})
    assert await alice.request("GET", tags_path(alice, room_id)) == {
        "tags": {"m.favourite": {"order": 0.5}, "u.work": {}}
    }
    await alice.request("DELETE", tags_path(alice, room_id, "u.work"))
    assert await alice.request("GET", tags_path(alice, room_id)) == {"tags": {"m.favourite": {"order": 0.5}}}
    await alice.request("DELETE", tags_path(alice, room_id, "u.never-set"))  # idempotent


async def test_tags_appear_in_sync_as_m_tag(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    since = (await alice.sync())["next_batch"]
    await alice.request("PUT", tags_path(alice, room_id, "m.lowpriority"), {"order": 1})
    response, _ = await sync_until(alice, since, lambda r: bool(room_events(r, room_id, "m.tag")))
    assert room_events(response, room_id, "m.tag") == [{"tags": {"m.lowpriority": {"order": 1}}}]


async def test_tag_order_must_be_number(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    err = await alice.request("PUT", tags_path(alice, room_id, "u.x"), {"order": "first"}, expect=400)
    assert err["errcode"] == "M_BAD_JSON"


async def test_newly_joined_room_brings_its_account_data(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.request("PUT", room_path(bob, room_id, "com.example.pre"), {"early": True})
    since = (await bob.sync())["next_batch"]
    await bob.join(room_id)
    response, _ = await sync_until(bob, since, lambda r: bool(joined_room(r, room_id)))
    assert room_events(response, room_id, "com.example.pre") == [{"early": True}]


# --- ignored users ------------------------------------------------------------------------


async def ignore(client: MatrixHttp, *users: str | None) -> None:
    await client.request(
        "PUT", global_path(client, "m.ignored_user_list"), {"ignored_users": {u: {} for u in users}}
    )


async def test_ignored_users_messages_hidden_from_sync(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat", power_level_content_override={"state_default": 0})
    await bob.join(room_id)
    await ignore(alice, bob.user_id)
    since = (await alice.sync())["next_batch"]
    await bob.send(room_id, "you cannot see me")
    await bob.send_state(room_id, "m.room.topic", {"topic": "state still shows"})
    await alice.send(room_id, "marker")

    def has_marker(r: dict[str, Any]) -> bool:
        return any(e["content"].get("body") == "marker" for e in timeline_of(r, room_id))

    response, _ = await sync_until(alice, since, has_marker)
    senders_bodies = [(e["sender"], e["type"]) for e in timeline_of(response, room_id)]
    assert (bob.user_id, "m.room.message") not in senders_bodies
    assert (bob.user_id, "m.room.topic") in senders_bodies  # spec: state events are still sent
    # Unignoring takes effect at once.
    await ignore(alice)
    await bob.send(room_id, "visible again")
    response, _ = await sync_until(
        alice, since, lambda r: any(e["content"].get("body") == "visible again" for e in timeline_of(r, room_id))
    )


async def test_invite_from_ignored_user_not_in_sync(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    chris = await homeserver.register("chris")
    await ignore(alice, bob.user_id)
    since = (await alice.sync())["next_batch"]
    bob_room = await bob.create_room()
    chris_room = await chris.create_room()
    await bob.invite(bob_room, alice.user_id or "")
    await chris.invite(chris_room, alice.user_id or "")
    response, _ = await sync_until(
        alice, since, lambda r: chris_room in r.get("rooms", {}).get("invite", {})
    )
    assert bob_room not in response.get("rooms", {}).get("invite", {})


async def test_cannot_ignore_yourself(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    err = await alice.request(
        "PUT", global_path(alice, "m.ignored_user_list"), {"ignored_users": {alice.user_id: {}}}, expect=400
    )
    assert err["errcode"] == "M_INVALID_PARAM"
