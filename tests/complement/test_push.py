"""Push rules and notification cases of Complement not covered in tests/integration.

After Complement's push_test.go and thread_notifications_test.go. spec:
client-server-api/modules/push.md, receipts.md ("Threaded read receipts"),
data/api/client-server/pushrules.yaml, sync.yaml.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import ephemeral_of, joined_room, sync_until
from tests.integration.test_push_rules_api import RULES, push_rules_event

V3 = "/_matrix/client/v3"
LONG_POLL_MS = 30_000
WAKE_WITHIN_S = 10.0


async def test_a_sender_rule_reads_back_unchanged_twice(homeserver: RunningHomeserver) -> None:
    # Complement: TestPushRuleCacheHealth
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    await alice.request("PUT", f"{RULES}/sender/{q(bob.user_id or '')}", {"actions": ["dont_notify"]})
    reads = [await alice.request("GET", f"{V3}/pushrules/") for _ in range(2)]
    for ruleset in reads:
        rule = next(r for r in ruleset["global"]["sender"] if r["rule_id"] == bob.user_id)
        assert rule["actions"] == ["dont_notify"] and rule["enabled"] is True
    assert reads[0] == reads[1]


async def wakes_long_poll(client: MatrixHttp, change: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    """Start a long-poll /sync, make ``change``; the poll must return with m.push_rules early."""
    since = (await client.sync())["next_batch"]
    poll = asyncio.create_task(client.sync(since=since, timeout=LONG_POLL_MS))
    await change()
    response = await asyncio.wait_for(poll, WAKE_WITHIN_S)
    content = push_rules_event(response)
    assert content is not None, response
    return content


def rule_in(content: dict[str, Any], kind: str, rule_id: str) -> dict[str, Any]:
    rule: dict[str, Any] = next(r for r in content["global"][kind] if r["rule_id"] == rule_id)
    return rule


async def test_adding_a_push_rule_wakes_an_incremental_sync(homeserver: RunningHomeserver) -> None:
    # Complement: TestPushSync / Adding a push rule wakes up an incremental /sync
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    content = await wakes_long_poll(alice, lambda: alice.request(
        "PUT", f"{RULES}/room/{q(room_id)}", {"actions": ["dont_notify"]}
    ))
    assert rule_in(content, "room", room_id)["actions"] == ["dont_notify"]


@pytest.mark.parametrize("enabled", [False, True], ids=["disabling", "enabling"])
async def test_toggling_a_push_rule_wakes_an_incremental_sync(homeserver: RunningHomeserver, enabled: bool) -> None:
    # Complement: TestPushSync / Disabling|Enabling a push rule wakes up an incremental /sync
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    await alice.request("PUT", f"{RULES}/room/{q(room_id)}", {"actions": ["dont_notify"]})
    if enabled:
        await alice.request("PUT", f"{RULES}/room/{q(room_id)}/enabled", {"enabled": False})
    content = await wakes_long_poll(alice, lambda: alice.request(
        "PUT", f"{RULES}/room/{q(room_id)}/enabled", {"enabled": enabled}
    ))
    assert rule_in(content, "room", room_id)["enabled"] is enabled


async def test_setting_push_rule_actions_wakes_an_incremental_sync(homeserver: RunningHomeserver) -> None:
    # Complement: TestPushSync / Setting actions for a push rule wakes up an incremental /sync
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    await alice.request("PUT", f"{RULES}/room/{q(room_id)}", {"actions": ["dont_notify"]})
    content = await wakes_long_poll(alice, lambda: alice.request(
        "PUT", f"{RULES}/room/{q(room_id)}/actions", {"actions": ["notify"]}
    ))
    assert rule_in(content, "room", room_id)["actions"] == ["notify"]


async def test_unthreaded_receipt_wins_over_a_threaded_one_for_the_same_event(
    homeserver: RunningHomeserver,
) -> None:
    # Complement: TestThreadReceiptsInSyncMSC4102 (local user)
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    root = await alice.send(room_id, "root")
    reply = await alice.send(room_id, {
        "msgtype": "m.text", "body": "reply", "m.relates_to": {"rel_type": "m.thread", "event_id": root},
    })
    receipt = f"{V3}/rooms/{q(room_id)}/receipt/m.read/{q(reply)}"
    await bob.request("POST", receipt, {"thread_id": root})
    await bob.request("POST", receipt, {})

    def receipt_of_bob(response: dict[str, Any]) -> dict[str, Any] | None:
        for event in ephemeral_of(response, room_id, "m.receipt"):
            entry = event["content"].get(reply, {}).get("m.read", {}).get(bob.user_id)
            if entry is not None:
                found: dict[str, Any] = entry
                return found
        return None

    response, _ = await sync_until(alice, None, lambda r: receipt_of_bob(r) is not None)
    assert "thread_id" not in (receipt_of_bob(response) or {})


async def test_thread_replies_count_in_unread_thread_notifications(homeserver: RunningHomeserver) -> None:
    # Complement: TestThreadedReceipts
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    root = await bob.send(room_id, "root")
    await bob.send(room_id, {
        "msgtype": "m.text", "body": "in thread", "m.relates_to": {"rel_type": "m.thread", "event_id": root},
    })
    threaded = json.dumps({"room": {"timeline": {"unread_thread_notifications": True}}})
    room = joined_room(await alice.sync(filter=threaded), room_id)
    assert room["unread_notifications"]["notification_count"] == 1  # the root, in the main timeline
    assert room["unread_thread_notifications"][root]["notification_count"] == 1
    plain = joined_room(await alice.sync(), room_id)
    assert "unread_thread_notifications" not in plain
    assert plain["unread_notifications"]["notification_count"] == 2


async def test_remote_users_unthreaded_receipt_wins_over_their_threaded_one(tmp_path: Path) -> None:
    # Complement: TestThreadReceiptsInSyncMSC4102 (remote user, over federation)
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat")
        await bob.request("POST", f"/_matrix/client/v3/join/{q(room_id)}", {},
                          params={"server_name": hs1.server_name})
        root = await alice.send(room_id, "root")
        reply = await alice.send(room_id, {
            "msgtype": "m.text", "body": "reply", "m.relates_to": {"rel_type": "m.thread", "event_id": root},
        })
        await sync_until(bob, None, lambda r: any(
            e["event_id"] == reply for e in joined_room(r, room_id).get("timeline", {}).get("events", [])
        ))
        receipt = f"{V3}/rooms/{q(room_id)}/receipt/m.read/{q(reply)}"
        await bob.request("POST", receipt, {"thread_id": root})
        await bob.request("POST", receipt, {})

        def unthreaded_receipt_of_bob(response: dict[str, Any]) -> bool:
            for event in ephemeral_of(response, room_id, "m.receipt"):
                entry = event["content"].get(reply, {}).get("m.read", {}).get(bob.user_id)
                if entry is not None and "thread_id" not in entry:
                    return True
            return False

        await sync_until(alice, None, unthreaded_receipt_of_bob, within=20.0)
