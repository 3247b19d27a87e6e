"""Presence and profiles over real HTTP.

spec: client-server-api/modules/presence.md, presence.yaml, profile.yaml and
"Events on Change of Profile Information"; cases follow Complement's
TestPresence, TestPresenceSyncDifferentRooms, TestMembersLocal,
TestProfileDisplayName, TestProfileAvatarURL, TestDisplayNameUpdate, TestAvatarUrlUpdate.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until, timeline_of

V3 = "/_matrix/client/v3"


def presence_of(response: dict[str, Any], user_id: str | None) -> dict[str, Any] | None:
    found = [e for e in response.get("presence", {}).get("events", []) if e["sender"] == user_id]
    return found[-1]["content"] if found else None


async def put_presence(client: MatrixHttp, presence: str, status_msg: str | None = None, expect: int = 200) -> Any:
    body: dict[str, Any] = {"presence": presence}
    if status_msg is not None:
        body["status_msg"] = status_msg
    return await client.request("PUT", f"{V3}/presence/{q(client.user_id or '')}/status", body, expect=expect)


async def room_with_two(homeserver: RunningHomeserver) -> tuple[MatrixHttp, MatrixHttp, str]:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    return alice, bob, room_id


# --- presence ------------------------------------------------------------------------


async def test_get_own_presence_has_presence_key(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    status = await alice.request("GET", f"{V3}/presence/{q(alice.user_id or '')}/status")
    assert status["presence"] in ("online", "offline", "unavailable")


async def test_put_presence_updates_status_msg(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    await put_presence(alice, "online", "Testing")
    status = await alice.request("GET", f"{V3}/presence/{q(alice.user_id or '')}/status")
    assert status["presence"] == "online"
    assert status["status_msg"] == "Testing"
    assert status["currently_active"] is True
    assert isinstance(status["last_active_ago"], int)


async def test_cannot_set_presence_of_another_user(homeserver: RunningHomeserver) -> None:
    alice, bob, _ = await room_with_two(homeserver)
    err = await alice.request(
        "PUT", f"{V3}/presence/{q(bob.user_id or '')}/status", {"presence": "online"}, expect=403
    )
    assert err["errcode"] == "M_FORBIDDEN"


async def test_invalid_presence_state_rejected(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    err = await put_presence(alice, "sleeping", expect=400)
    assert err["errcode"] == "M_INVALID_PARAM"


async def test_presence_of_stranger_is_forbidden(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    eve = await homeserver.register("eve")
    err = await alice.request("GET", f"{V3}/presence/{q(eve.user_id or '')}/status", expect=403)
    assert err["errcode"] == "M_FORBIDDEN"
    err = await alice.request("GET", f"{V3}/presence/{q('@nobody:localhost')}/status", expect=404)
    assert err["errcode"] == "M_NOT_FOUND"


async def test_presence_change_reported_to_room_member(homeserver: RunningHomeserver) -> None:
    alice, bob, _ = await room_with_two(homeserver)
    _, since = await sync_until(bob, None, lambda r: True)
    await put_presence(alice, "online", "Here")
    response, _ = await sync_until(
        bob, since, lambda r: (presence_of(r, alice.user_id) or {}).get("status_msg") == "Here"
    )
    content = presence_of(response, alice.user_id)
    assert content is not None and content["presence"] == "online"


async def test_presence_unavailable_reported_to_room_member(homeserver: RunningHomeserver) -> None:
    alice, bob, _ = await room_with_two(homeserver)
    _, since = await sync_until(bob, None, lambda r: True)
    await put_presence(alice, "unavailable")
    await alice.sync()  # an ordinary sync does not override an explicit state
    response, _ = await sync_until(
        bob, since, lambda r: (presence_of(r, alice.user_id) or {}).get("presence") == "unavailable"
    )
    assert presence_of(response, alice.user_id)["currently_active"] is False  # type: ignore[index]
    status = await bob.request("GET", f"{V3}/presence/{q(alice.user_id or '')}/status")
    assert status["presence"] == "unavailable"


async def test_presence_set_from_sync(homeserver: RunningHomeserver) -> None:
    alice, bob, _ = await room_with_two(homeserver)
    _, since = await sync_until(bob, None, lambda r: True)
    await alice.sync(set_presence="unavailable")
    await sync_until(
        bob, since, lambda r: (presence_of(r, alice.user_id) or {}).get("presence") == "unavailable"
    )


async def test_sync_marks_user_online(homeserver: RunningHomeserver) -> None:
    alice, bob, _ = await room_with_two(homeserver)
    _, since = await sync_until(bob, None, lambda r: True)
    await alice.sync()
    await sync_until(bob, since, lambda r: (presence_of(r, alice.user_id) or {}).get("presence") == "online")


async def test_set_presence_offline_on_sync_does_not_go_online(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    await alice.sync(set_presence="offline")
    status = await alice.request("GET", f"{V3}/presence/{q(alice.user_id or '')}/status")
    assert status["presence"] == "offline"


async def test_presence_from_users_in_different_rooms(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    charlie = await homeserver.register("charlie")
    room_b = await alice.create_room(preset="public_chat")
    room_c = await alice.create_room(preset="public_chat")
    await bob.join(room_b)
    await charlie.join(room_c)
    _, since = await sync_until(alice, None, lambda r: True)
    await put_presence(bob, "online", "b")
    await put_presence(charlie, "online", "c")

    seen: dict[str, str] = {}

    def both(r: dict[str, Any]) -> bool:
        for user in (bob.user_id, charlie.user_id):
            content = presence_of(r, user)
            if content is not None and "status_msg" in content:
                seen[user or ""] = content["status_msg"]
        return len(seen) == 2

    await sync_until(alice, since, both)
    assert seen == {bob.user_id: "b", charlie.user_id: "c"}


async def test_presence_not_sent_to_users_without_shared_room(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    eve = await homeserver.register("eve")
    await put_presence(alice, "online", "private")
    response = await eve.sync()
    assert presence_of(response, alice.user_id) is None


async def test_existing_members_see_new_member_presence_once(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await put_presence(bob, "online", "joining")
    _, since = await sync_until(alice, None, lambda r: True)
    await bob.join(room_id)
    response, since = await sync_until(alice, since, lambda r: presence_of(r, bob.user_id) is not None)
    assert presence_of(response, bob.user_id)["status_msg"] == "joining"  # type: ignore[index]
    await alice.send(room_id, "welcome")
    response, _ = await sync_until(alice, since, lambda r: bool(r.get("rooms")))
    assert presence_of(response, bob.user_id) is None


async def test_newly_joined_room_includes_existing_member_presence(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await put_presence(alice, "online", "already here")
    _, since = await sync_until(bob, None, lambda r: True)
    await bob.join(room_id)
    response, since = await sync_until(bob, since, lambda r: room_id in r.get("rooms", {}).get("join", {}))
    assert presence_of(response, alice.user_id)["status_msg"] == "already here"  # type: ignore[index]


async def test_idle_user_becomes_unavailable_then_offline(homeserver: RunningHomeserver) -> None:
    alice, bob, _ = await room_with_two(homeserver)
    # Shrink this server's thresholds; its background sweep applies them.
    homeserver.hs.presence.set_timeouts(idle_after_ms=200, offline_after_ms=1500, check_interval_s=0.05)
    await put_presence(alice, "online")
    _, since = await sync_until(bob, None, lambda r: True)
    # Bob syncs with set_presence=offline, so only Alice ages.
    await sync_until(
        bob, since, lambda r: (presence_of(r, alice.user_id) or {}).get("presence") == "unavailable",
        set_presence="offline",
    )
    await sync_until(
        bob, since, lambda r: (presence_of(r, alice.user_id) or {}).get("presence") == "offline",
        set_presence="offline",
    )


async def test_presence_is_written_in_background(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    await put_presence(alice, "unavailable", "away")
    await homeserver.hs.presence.stop()  # flushes what is pending
    records = {r.user_id: r for r in await homeserver.hs.presence_store.load_all()}
    assert records[alice.user_id or ""].state == "unavailable"
    assert records[alice.user_id or ""].status_msg == "away"


# --- profiles ------------------------------------------------------------------------


async def test_set_and_get_displayname_publicly(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    await alice.request("PUT", f"{V3}/profile/{q(alice.user_id or '')}/displayname", {"displayname": "Alice W"})
    anonymous = homeserver.api()
    got = await anonymous.request("GET", f"{V3}/profile/{q(alice.user_id or '')}/displayname")
    assert got == {"displayname": "Alice W"}


async def test_set_and_get_avatar_url_publicly(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    url = "mxc://localhost/SomeMediaID"
    await alice.request("PUT", f"{V3}/profile/{q(alice.user_id or '')}/avatar_url", {"avatar_url": url})
    anonymous = homeserver.api()
    assert await anonymous.request("GET", f"{V3}/profile/{q(alice.user_id or '')}/avatar_url") == {"avatar_url": url}
    profile = await anonymous.request("GET", f"{V3}/profile/{q(alice.user_id or '')}")
    assert profile["avatar_url"] == url


async def test_cannot_set_another_users_profile(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    err = await alice.request(
        "PUT", f"{V3}/profile/{q(bob.user_id or '')}/displayname", {"displayname": "x"}, expect=403
    )
    assert err["errcode"] == "M_FORBIDDEN"


async def test_profile_of_unknown_user_not_found(homeserver: RunningHomeserver) -> None:
    anonymous = homeserver.api()
    err = await anonymous.request("GET", f"{V3}/profile/{q('@ghost:localhost')}", expect=404)
    assert err["errcode"] == "M_NOT_FOUND"
    err = await anonymous.request("GET", f"{V3}/profile/{q('@ghost:localhost')}/displayname", expect=404)
    assert err["errcode"] == "M_NOT_FOUND"


async def test_profile_put_requires_field(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    err = await alice.request("PUT", f"{V3}/profile/{q(alice.user_id or '')}/displayname", {}, expect=400)
    assert err["errcode"] == "M_MISSING_PARAM"
    err = await alice.request(
        "PUT", f"{V3}/profile/{q(alice.user_id or '')}/avatar_url", {"avatar_url": "https://x/y.png"}, expect=400
    )
    assert err["errcode"] == "M_INVALID_PARAM"


async def test_displayname_change_updates_member_events(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    _, since = await sync_until(bob, None, lambda r: True)
    await alice.request("PUT", f"{V3}/profile/{q(alice.user_id or '')}/displayname", {"displayname": "Ally"})
    state = await bob.get_state(room_id, "m.room.member", alice.user_id or "")
    assert state["displayname"] == "Ally"

    def renamed(r: dict[str, Any]) -> bool:
        return any(
            e["type"] == "m.room.member" and e["state_key"] == alice.user_id
            and e["content"].get("displayname") == "Ally"
            for e in timeline_of(r, room_id)
        )

    await sync_until(bob, since, renamed)


async def test_avatar_change_updates_member_events(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    url = "mxc://localhost/avatar"
    await alice.request("PUT", f"{V3}/profile/{q(alice.user_id or '')}/avatar_url", {"avatar_url": url})
    state = await bob.get_state(room_id, "m.room.member", alice.user_id or "")
    assert state["avatar_url"] == url
    assert state["membership"] == "join"


async def test_delete_displayname(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    path = f"{V3}/profile/{q(alice.user_id or '')}/displayname"
    await alice.request("PUT", path, {"displayname": "Temp"})
    await alice.request("DELETE", path)
    err = await alice.request("GET", path, expect=404)
    assert err["errcode"] == "M_NOT_FOUND"


async def test_profile_change_wakes_long_poll(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await room_with_two(homeserver)
    since = (await bob.sync())["next_batch"]
    poll = asyncio.create_task(bob.sync(since=since, timeout=10000))
    await asyncio.sleep(0)  # let the long-poll start; the assertion below does not depend on it
    await alice.request("PUT", f"{V3}/profile/{q(alice.user_id or '')}/displayname", {"displayname": "Woken"})
    response = await asyncio.wait_for(poll, 10)
    assert any(e["type"] == "m.room.member" for e in timeline_of(response, room_id))
