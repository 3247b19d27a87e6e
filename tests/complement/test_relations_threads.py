"""Relations and threads, after Complement's room_relations_test.go and room_threads_test.go.

spec: client-server-api/modules/threading.md, data/api/client-server/relations.yaml,
threads_list.yaml.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q

V1 = "/_matrix/client/v1"


def thread_reply(root_id: str, body: str) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body, "m.relates_to": {"rel_type": "m.thread", "event_id": root_id}}


async def relations(client: MatrixHttp, room_id: str, event_id: str, suffix: str = "", **params: Any) -> Any:
    return await client.request(
        "GET", f"{V1}/rooms/{q(room_id)}/relations/{q(event_id)}{suffix}",
        params={k: str(v) for k, v in params.items()},
    )


async def thread_list(client: MatrixHttp, room_id: str, **params: Any) -> Any:
    return await client.request(
        "GET", f"{V1}/rooms/{q(room_id)}/threads", params={k: str(v) for k, v in params.items()}
    )


async def test_relations_are_listed_and_filtered_by_type(homeserver: RunningHomeserver) -> None:
    # Complement: TestRelations
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(preset="public_chat")
    root = await alice.send(room_id, "root")
    reply = await alice.send(room_id, thread_reply(root, "reply"))
    dummy = await alice.send(room_id, {"m.relates_to": {"rel_type": "m.thread", "event_id": root}}, "m.dummy")
    edit = await alice.send(room_id, {
        "msgtype": "m.text", "body": "* edited", "m.new_content": {"msgtype": "m.text", "body": "edited"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": root},
    })
    everything = await relations(alice, room_id, root)
    assert [e["event_id"] for e in everything["chunk"]] == [edit, dummy, reply]
    threaded = await relations(alice, room_id, root, "/m.thread")
    assert [e["event_id"] for e in threaded["chunk"]] == [dummy, reply]
    messages = await relations(alice, room_id, root, "/m.thread/m.room.message")
    assert [e["event_id"] for e in messages["chunk"]] == [reply]


async def test_relations_paginate_newest_first_backwards_and_oldest_first_forwards(
    homeserver: RunningHomeserver,
) -> None:
    # Complement: TestRelationsPagination
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(preset="public_chat")
    root = await alice.send(room_id, "root")
    replies = [await alice.send(room_id, thread_reply(root, f"reply {i}")) for i in range(10)]

    backwards: list[str] = []
    token: str | None = None
    for _ in range(4):
        params: dict[str, Any] = {"limit": 3}
        if token is not None:
            params["from"] = token
        page = await relations(alice, room_id, root, "/m.thread", **params)
        backwards += [e["event_id"] for e in page["chunk"]]
        token = page.get("next_batch")
        if token is None:
            break
    assert backwards == list(reversed(replies))
    assert token is None

    first = await relations(alice, room_id, root, "/m.thread", limit=3, dir="f")
    assert [e["event_id"] for e in first["chunk"]] == replies[:3]
    second = await relations(alice, room_id, root, "/m.thread", limit=3, dir="f", **{"from": first["next_batch"]})
    assert [e["event_id"] for e in second["chunk"]] == replies[3:6]


async def test_relations_from_a_sync_token_forwards_returns_only_later_relations(
    homeserver: RunningHomeserver,
) -> None:
    # Complement: TestRelationsPaginationSync
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(preset="public_chat")
    root = await alice.send(room_id, "root")
    await alice.send(room_id, thread_reply(root, "before the sync"))
    since = (await alice.sync())["next_batch"]
    later = [await alice.send(room_id, thread_reply(root, f"after {i}")) for i in range(5)]

    first = await relations(alice, room_id, root, "/m.thread", limit=3, dir="f", **{"from": since})
    assert [e["event_id"] for e in first["chunk"]] == later[:3]
    second = await relations(alice, room_id, root, "/m.thread", limit=3, dir="f", **{"from": first["next_batch"]})
    assert [e["event_id"] for e in second["chunk"]] == later[3:]
    assert "next_batch" not in second


async def test_thread_root_bundles_latest_event_count_and_participation(homeserver: RunningHomeserver) -> None:
    # Complement: TestThreadsEndpoint (bundled m.thread aggregation)
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    carol = await homeserver.register("carol")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await carol.join(room_id)
    root = await alice.send(room_id, "root")
    await bob.send(room_id, thread_reply(root, "first"))
    latest = await bob.send(room_id, thread_reply(root, "second"))

    async def bundled(client: MatrixHttp) -> dict[str, Any]:
        event = await client.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/event/{q(root)}")
        thread: dict[str, Any] = event["unsigned"]["m.relations"]["m.thread"]
        return thread

    for_bob = await bundled(bob)
    assert for_bob["count"] == 2
    assert for_bob["latest_event"]["event_id"] == latest
    assert for_bob["latest_event"]["content"]["body"] == "second"
    assert for_bob["current_user_participated"] is True
    assert (await bundled(alice))["current_user_participated"] is True  # the root's sender
    assert (await bundled(carol))["current_user_participated"] is False

    timeline = (await carol.messages(room_id, dir="b", limit=10))["chunk"]
    root_in_timeline = next(e for e in timeline if e["event_id"] == root)
    assert root_in_timeline["unsigned"]["m.relations"]["m.thread"]["count"] == 2


async def test_thread_latest_event_carries_its_own_edit(homeserver: RunningHomeserver) -> None:
    # spec: threading.md — child events of latest_event are aggregated too.
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(preset="public_chat")
    root = await alice.send(room_id, "root")
    reply = await alice.send(room_id, thread_reply(root, "typo"))
    edit = await alice.send(room_id, {
        "msgtype": "m.text", "body": "* fixed", "m.new_content": {"msgtype": "m.text", "body": "fixed"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": reply},
    })
    event = await alice.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/event/{q(root)}")
    latest = event["unsigned"]["m.relations"]["m.thread"]["latest_event"]
    assert latest["event_id"] == reply
    assert latest["unsigned"]["m.relations"]["m.replace"]["event_id"] == edit


async def test_threads_endpoint_orders_roots_by_latest_activity(homeserver: RunningHomeserver) -> None:
    # Complement: TestThreadsEndpoint
    alice = await homeserver.register("alice")
    room_id = await alice.create_room(preset="public_chat")
    first_root = await alice.send(room_id, "first thread")
    await alice.send(room_id, thread_reply(first_root, "in the first"))
    second_root = await alice.send(room_id, "second thread")
    second_reply = await alice.send(room_id, thread_reply(second_root, "in the second"))
    await alice.send(room_id, "not a thread")

    listed = await thread_list(alice, room_id)
    assert [e["event_id"] for e in listed["chunk"]] == [second_root, first_root]
    assert listed["chunk"][0]["unsigned"]["m.relations"]["m.thread"]["latest_event"]["event_id"] == second_reply
    assert "next_batch" not in listed

    newest = await alice.send(room_id, thread_reply(first_root, "the first again"))
    reordered = await thread_list(alice, room_id)
    assert [e["event_id"] for e in reordered["chunk"]] == [first_root, second_root]
    assert reordered["chunk"][0]["unsigned"]["m.relations"]["m.thread"]["latest_event"]["event_id"] == newest


async def test_threads_endpoint_paginates_and_filters_participated(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    roots = []
    for i in range(5):
        root = await alice.send(room_id, f"root {i}")
        await alice.send(room_id, thread_reply(root, f"reply {i}"))
        roots.append(root)
    bobs_root = await bob.send(room_id, "bob's own thread")
    await alice.send(room_id, thread_reply(bobs_root, "answer"))
    await bob.send(room_id, thread_reply(roots[1], "bob chimes in"))

    seen: list[str] = []
    page = await thread_list(alice, room_id, limit=2)
    seen += [e["event_id"] for e in page["chunk"]]
    while "next_batch" in page:
        page = await thread_list(alice, room_id, limit=2, **{"from": page["next_batch"]})
        seen += [e["event_id"] for e in page["chunk"]]
    assert seen == [roots[1], bobs_root, roots[4], roots[3], roots[2], roots[0]]

    participated = await thread_list(bob, room_id, include="participated")
    assert [e["event_id"] for e in participated["chunk"]] == [roots[1], bobs_root]


async def test_threads_endpoint_is_forbidden_to_non_members_and_checks_parameters(
    homeserver: RunningHomeserver,
) -> None:
    alice = await homeserver.register("alice")
    eve = await homeserver.register("eve")
    room_id = await alice.create_room(preset="private_chat")
    status, body = await eve.status_of("GET", f"{V1}/rooms/{q(room_id)}/threads")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await alice.status_of("GET", f"{V1}/rooms/{q(room_id)}/threads", params={"include": "x"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await alice.status_of("GET", f"{V1}/rooms/{q(room_id)}/threads", params={"limit": "0"})
    assert status == 400
    status, body = await alice.status_of("GET", f"{V1}/rooms/{q(room_id)}/threads", params={"from": "junk"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def test_thread_aggregation_leaves_out_ignored_users(homeserver: RunningHomeserver) -> None:
    # spec: threading.md — count and latest_event do not include events by ignored users.
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    root = await alice.send(room_id, "root")
    mine = await alice.send(room_id, thread_reply(root, "from alice"))
    await bob.send(room_id, thread_reply(root, "from bob"))
    await alice.request(
        "PUT", f"/_matrix/client/v3/user/{q(alice.user_id or '')}/account_data/m.ignored_user_list",
        {"ignored_users": {bob.user_id: {}}},
    )
    event = await alice.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/event/{q(root)}")
    thread = event["unsigned"]["m.relations"]["m.thread"]
    assert thread["count"] == 1 and thread["latest_event"]["event_id"] == mine
    for_bob = await bob.request("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/event/{q(root)}")
    assert for_bob["unsigned"]["m.relations"]["m.thread"]["count"] == 2


async def test_threads_endpoint_skips_roots_the_reader_may_not_see(homeserver: RunningHomeserver) -> None:
    # spec: threads_list.yaml — paginates "from the most recent event visible to the user".
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat", initial_state=[
        {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}},
    ])
    hidden = await alice.send(room_id, "before bob")
    await bob.join(room_id)
    visible = await alice.send(room_id, "after bob")
    await alice.send(room_id, thread_reply(visible, "reply"))
    await alice.send(room_id, thread_reply(hidden, "late reply to an old root"))

    seen: list[str] = []
    page = await thread_list(bob, room_id, limit=1)
    seen += [e["event_id"] for e in page["chunk"]]
    for _ in range(5):
        if "next_batch" not in page:
            break
        page = await thread_list(bob, room_id, limit=1, **{"from": page["next_batch"]})
        seen += [e["event_id"] for e in page["chunk"]]
    assert seen == [visible]
    assert [e["event_id"] for e in (await thread_list(alice, room_id))["chunk"]] == [hidden, visible]
