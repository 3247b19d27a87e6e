"""Notification counts in /sync, receipts clearing them, GET /notifications, and counts
surviving a restart.

spec: client-server-api/modules/push.md ("Receiving notifications", "Marking notifications
as read", "Server behaviour"); data/api/client-server/notifications.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from tests.conftest import RunningHomeserver, make_config, start_homeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import joined_room, sync_until

V3 = "/_matrix/client/v3"
RULES = f"{V3}/pushrules/global"


def counts(response: dict[str, Any], room_id: str) -> dict[str, int] | None:
    return joined_room(response, room_id).get("unread_notifications")


async def group_room(homeserver: RunningHomeserver) -> tuple[MatrixHttp, MatrixHttp, str]:
    """alice, bob and carol in one room (three members: no one-to-one rules)."""
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    carol = await homeserver.register("carol")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await carol.join(room_id)
    return alice, bob, room_id


async def read_up_to(client: MatrixHttp, room_id: str, event_id: str, receipt_type: str = "m.read") -> None:
    await client.request("POST", f"{V3}/rooms/{q(room_id)}/receipt/{receipt_type}/{q(event_id)}", {})


async def test_message_raises_notification_count_in_the_same_sync_as_the_event(
    homeserver: RunningHomeserver,
) -> None:
    alice, bob, room_id = await group_room(homeserver)
    since = (await bob.sync())["next_batch"]
    event_id = await alice.send(room_id, "hello")
    # The long-poll woken by the event already carries its count (spec: "Server behaviour").
    response, _ = await sync_until(
        bob, since, lambda r: any(e["event_id"] == event_id
                                  for e in joined_room(r, room_id).get("timeline", {}).get("events", []))
    )
    assert counts(response, room_id) == {"notification_count": 1, "highlight_count": 0}


async def test_mention_highlights_and_receipt_clears_it(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await group_room(homeserver)
    await alice.send(room_id, "nothing to see")
    mention = await alice.send(room_id, {"msgtype": "m.text", "body": "look",
                                         "m.mentions": {"user_ids": [bob.user_id]}})
    response = await bob.sync()
    assert counts(response, room_id) == {"notification_count": 2, "highlight_count": 1}
    await read_up_to(bob, room_id, mention)
    response, _ = await sync_until(
        bob, response["next_batch"], lambda r: counts(r, room_id) is not None
    )
    assert counts(response, room_id) == {"notification_count": 0, "highlight_count": 0}


async def test_receipt_keeps_later_notifications(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await group_room(homeserver)
    first = await alice.send(room_id, "one")
    await alice.send(room_id, {"msgtype": "m.text", "body": "two", "m.mentions": {"user_ids": [bob.user_id]}})
    await read_up_to(bob, room_id, first, "m.read.private")
    assert counts(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 1}


async def test_empty_mentions_with_display_name_does_not_highlight(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await group_room(homeserver)
    await bob.request("PUT", f"{V3}/profile/{q(bob.user_id or '')}/displayname", {"displayname": "Bobby"})
    await alice.send(room_id, {"msgtype": "m.text", "body": "Bobby!", "m.mentions": {}})
    assert counts(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 0}
    await alice.send(room_id, "Bobby!")  # no m.mentions: the legacy display-name rule applies
    assert counts(await bob.sync(), room_id) == {"notification_count": 2, "highlight_count": 1}


async def test_notices_and_sender_do_not_notify(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await group_room(homeserver)
    await alice.send(room_id, {"msgtype": "m.notice", "body": "bot says"})
    await alice.send(room_id, "mine")
    assert counts(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 0}
    assert counts(await alice.sync(), room_id) == {"notification_count": 0, "highlight_count": 0}


async def test_disabled_rule_stops_notifications(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await group_room(homeserver)
    await bob.request("PUT", f"{RULES}/underride/.m.rule.message/enabled", {"enabled": False})
    await alice.send(room_id, "quiet")
    assert counts(await bob.sync(), room_id) == {"notification_count": 0, "highlight_count": 0}
    await bob.request("PUT", f"{RULES}/underride/.m.rule.message/enabled", {"enabled": True})
    await alice.send(room_id, "loud")
    assert counts(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 0}


async def test_custom_room_rule_silences_a_room(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await group_room(homeserver)
    await bob.request("PUT", f"{RULES}/room/{q(room_id)}", {"actions": []})
    await alice.send(room_id, {"msgtype": "m.text", "body": "x", "m.mentions": {"user_ids": [bob.user_id]}})
    # Override rules outrank room rules: the mention still highlights.
    assert counts(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 1}
    await alice.send(room_id, "plain")
    assert counts(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 1}


async def test_notifications_lists_notified_events(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await group_room(homeserver)
    plain = await alice.send(room_id, "plain")
    mention = await alice.send(room_id, {"msgtype": "m.text", "body": "hey",
                                         "m.mentions": {"user_ids": [bob.user_id]}})
    await alice.send(room_id, {"msgtype": "m.notice", "body": "not notified"})
    await read_up_to(bob, room_id, plain)
    body = await bob.request("GET", f"{V3}/notifications")
    assert "next_token" not in body
    listed = body["notifications"]
    assert [n["event"]["event_id"] for n in listed] == [mention, plain]
    newest, oldest = listed
    assert newest["room_id"] == room_id and newest["read"] is False
    assert oldest["read"] is True
    assert {"set_tweak": "highlight"} in newest["actions"] and "notify" in newest["actions"]
    assert newest["event"]["content"]["body"] == "hey" and isinstance(newest["ts"], int)
    only = await bob.request("GET", f"{V3}/notifications", params={"only": "highlight"})
    assert [n["event"]["event_id"] for n in only["notifications"]] == [mention]


async def test_notifications_paginate(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await group_room(homeserver)
    sent = [await alice.send(room_id, f"m{i}") for i in range(3)]
    page = await bob.request("GET", f"{V3}/notifications", params={"limit": "2"})
    assert [n["event"]["event_id"] for n in page["notifications"]] == [sent[2], sent[1]]
    rest = await bob.request("GET", f"{V3}/notifications", params={"limit": "2", "from": page["next_token"]})
    assert [n["event"]["event_id"] for n in rest["notifications"]] == [sent[0]]
    assert "next_token" not in rest
    status, err = await bob.status_of("GET", f"{V3}/notifications", params={"from": "garbage"})
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")
    status, err = await bob.status_of("GET", f"{V3}/notifications", params={"limit": "x"})
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")


async def test_invite_notifies_the_invitee(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room()
    await alice.invite(room_id, bob.user_id or "")
    listed = (await bob.request("GET", f"{V3}/notifications"))["notifications"]
    assert [(n["event"]["type"], n["room_id"]) for n in listed] == [("m.room.member", room_id)]


async def test_counts_and_rules_survive_a_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path / "hs")
    async with ClientSession() as session:
        hs, server = await start_homeserver(config)
        running = RunningHomeserver(hs, server, session)
        alice, bob, room_id = await group_room(running)
        await bob.request("PUT", f"{RULES}/sender/{q(alice.user_id or '')}",
                          {"actions": ["notify", {"set_tweak": "highlight"}]})
        await alice.send(room_id, "one")
        await alice.send(room_id, "two")
        before = await bob.sync()
        assert counts(before, room_id) == {"notification_count": 2, "highlight_count": 2}
        await server.close()

        hs, server = await start_homeserver(config)
        try:
            bob = RunningHomeserver(hs, server, session).api()
            await bob.login("bob")
            assert counts(await bob.sync(), room_id) == {"notification_count": 2, "highlight_count": 2}
            rule = await bob.request("GET", f"{RULES}/sender/{q('@alice:localhost')}")
            assert rule["actions"] == ["notify", {"set_tweak": "highlight"}]
            listed = (await bob.request("GET", f"{V3}/notifications"))["notifications"]
            assert len(listed) == 2
            # Unchanged rules are not sent again after the restart.
            since_restart = await bob.sync(since=before["next_batch"])
            types = [e["type"] for e in since_restart.get("account_data", {}).get("events", [])]
            assert "m.push_rules" not in types
        finally:
            await server.close()


async def test_sending_an_event_marks_the_room_read(tmp_path: Path) -> None:
    # spec: push.md, "Marking notifications as read" — "either by using the API or by sending an event".
    config = make_config(tmp_path / "hs")
    async with ClientSession() as session:
        hs, server = await start_homeserver(config)
        running = RunningHomeserver(hs, server, session)
        alice, bob, room_id = await group_room(running)
        await alice.send(room_id, "one")
        assert counts(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 0}
        await bob.send(room_id, "reply")
        await alice.send(room_id, "two")
        assert counts(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 0}
        await server.close()
        # After a restart the position comes from storage: still read up to bob's reply.
        hs, server = await start_homeserver(config)
        try:
            bob = RunningHomeserver(hs, server, session).api()
            await bob.login("bob")
            assert counts(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 0}
        finally:
            await server.close()


async def test_redacted_event_stops_counting(homeserver: RunningHomeserver) -> None:
    alice, bob, room_id = await group_room(homeserver)
    await alice.send(room_id, "keep")
    spam = await alice.send(room_id, {"msgtype": "m.text", "body": "spam", "m.mentions": {"user_ids": [bob.user_id]}})
    assert counts(await bob.sync(), room_id) == {"notification_count": 2, "highlight_count": 1}
    await alice.request("PUT", f"{V3}/rooms/{q(room_id)}/redact/{q(spam)}/r1", {})
    assert counts(await bob.sync(), room_id) == {"notification_count": 1, "highlight_count": 0}
    listed = (await bob.request("GET", f"{V3}/notifications"))["notifications"]
    assert [n["event"]["content"].get("body") for n in listed] == ["keep"]


async def test_historical_dont_notify_is_kept_but_ignored(homeserver: RunningHomeserver) -> None:
    # Complement TestPushRuleCacheHealth reads the action back; spec: "Historical Actions".
    alice, bob, room_id = await group_room(homeserver)
    await bob.request("PUT", f"{RULES}/sender/{q(alice.user_id or '')}", {"actions": ["dont_notify"]})
    for _ in range(2):
        ruleset = (await bob.request("GET", f"{V3}/pushrules/"))["global"]
        assert ruleset["sender"][0]["actions"] == ["dont_notify"]
    await alice.send(room_id, "hello")
    assert counts(await bob.sync(), room_id) == {"notification_count": 0, "highlight_count": 0}


async def test_ignored_users_do_not_count(homeserver: RunningHomeserver) -> None:
    # Their events are hidden from the ignorer (spec: modules/ignore_users.md), so they do not notify.
    alice, bob, room_id = await group_room(homeserver)
    await alice.send(room_id, "before")
    await bob.request("PUT", f"{V3}/user/{q(bob.user_id or '')}/account_data/m.ignored_user_list",
                      {"ignored_users": {alice.user_id: {}}})
    await alice.send(room_id, {"msgtype": "m.text", "body": "x", "m.mentions": {"user_ids": [bob.user_id]}})
    assert counts(await bob.sync(), room_id) == {"notification_count": 0, "highlight_count": 0}
    assert (await bob.request("GET", f"{V3}/notifications"))["notifications"] == []
    await bob.request("PUT", f"{V3}/user/{q(bob.user_id or '')}/account_data/m.ignored_user_list",
                      {"ignored_users": {}})
    assert counts(await bob.sync(), room_id) == {"notification_count": 2, "highlight_count": 1}
