"""The persist listener's bulk evaluation in a room mixing default and customised rulesets.

One event is evaluated for all members through one shared ``RoomEvaluation``: members with
the default rules share the compiled template, customised members get their own compiled
ruleset, and a rule change replaces it. Runs a homeserver in-process on loopback.

spec: client-server-api/modules/push.md, "Push Rules", "Receiving notifications".
"""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import joined_room

V3 = "/_matrix/client/v3"
RULES = f"{V3}/pushrules/global"


async def counts(client: MatrixHttp, room_id: str) -> dict[str, int] | None:
    return joined_room(await client.sync(), room_id).get("unread_notifications")


async def test_one_event_gets_each_members_own_outcome(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    members: dict[str, MatrixHttp] = {
        name: await homeserver.register(name) for name in ("bob", "carol", "dave", "erin", "frank")
    }
    room_id = await alice.create_room(preset="public_chat")
    for client in members.values():
        await client.join(room_id)
    bob, carol, dave, erin, frank = members.values()
    await bob.request("PUT", f"{V3}/profile/{q(bob.user_id or '')}/displayname", {"displayname": "Bobby"})
    await carol.request("PUT", f"{RULES}/room/{q(room_id)}", {"actions": []})
    await erin.request("PUT", f"{RULES}/content/urgent",
                       {"pattern": "urgent", "actions": ["notify", {"set_tweak": "highlight"}]})
    await frank.request("PUT", f"{RULES}/underride/.m.rule.message/enabled", {"enabled": False})

    first = await alice.send(room_id, "hi Bobby, urgent")  # no m.mentions: legacy name rules apply
    await alice.send(room_id, {"msgtype": "m.text", "body": "x", "m.mentions": {"user_ids": [dave.user_id]}})
    reaction: dict[str, Any] = {"m.relates_to": {"rel_type": "m.annotation", "event_id": first, "key": "+1"}}
    await alice.send(room_id, reaction, event_type="m.reaction")

    assert await counts(bob, room_id) == {"notification_count": 2, "highlight_count": 1}
    assert await counts(carol, room_id) == {"notification_count": 0, "highlight_count": 0}
    assert await counts(dave, room_id) == {"notification_count": 2, "highlight_count": 1}
    assert await counts(erin, room_id) == {"notification_count": 2, "highlight_count": 1}
    assert await counts(frank, room_id) == {"notification_count": 0, "highlight_count": 0}
    assert await counts(alice, room_id) == {"notification_count": 0, "highlight_count": 0}


async def test_changed_rule_applies_to_the_next_event(homeserver: RunningHomeserver) -> None:
    alice, bob = await homeserver.register("alice"), await homeserver.register("bob")
    carol = await homeserver.register("carol")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await carol.join(room_id)
    await alice.send(room_id, "one")  # bob still has the shared default ruleset
    await bob.request("PUT", f"{RULES}/sender/{q(alice.user_id or '')}",
                      {"actions": ["notify", {"set_tweak": "highlight"}]})
    await alice.send(room_id, "two")  # bob's own compiled ruleset
    await bob.request("DELETE", f"{RULES}/sender/{q(alice.user_id or '')}")
    await alice.send(room_id, "three")  # recompiled without the rule
    assert await counts(bob, room_id) == {"notification_count": 3, "highlight_count": 1}
    assert await counts(carol, room_id) == {"notification_count": 3, "highlight_count": 0}
