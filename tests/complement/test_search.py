"""Search cases of Complement not covered in tests/integration/test_search.py.

After Complement's apidoc_search_test.go. spec: client-server-api/modules/search.md,
data/api/client-server/search.yaml.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q
from tests.integration.test_search import search


def bodies(result: dict[str, Any]) -> list[str]:
    return [r["result"]["content"]["body"] for r in result["results"]]


async def test_search_result_context_is_in_order_with_next_batch(homeserver: RunningHomeserver) -> None:
    # Complement: TestSearch / Can get context around search results
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    for i in range(1, 7):
        await alice.send(room_id, f"Message number {i}")
    result = await search(
        alice, "Message number", order_by="recent", filter={"limit": 1},
        event_context={"before_limit": 2, "after_limit": 2},
    )
    assert result["count"] == 6 and "next_batch" in result
    [hit] = result["results"]
    assert hit["result"]["content"]["body"] == "Message number 6"
    context = hit["context"]
    # events_before is newest first (as in /context); events_after oldest first.
    assert [e["content"]["body"] for e in context["events_before"]] == ["Message number 5", "Message number 4"]
    assert context["events_after"] == []

    second = await search(
        alice, "Message number", result["next_batch"], order_by="recent", filter={"limit": 1},
        event_context={"before_limit": 2, "after_limit": 2},
    )
    [hit] = second["results"]
    assert hit["result"]["content"]["body"] == "Message number 5"
    assert [e["content"]["body"] for e in hit["context"]["events_after"]] == ["Message number 6"]


async def test_search_back_paginates_twenty_results_in_pages_of_ten(homeserver: RunningHomeserver) -> None:
    # Complement: TestSearch / Can back-paginate search results
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    for i in range(20):
        await alice.send(room_id, f"Message number {i}")
    first = await search(alice, "Message", order_by="recent", filter={"limit": 10})
    assert first["count"] == 20
    assert bodies(first) == [f"Message number {i}" for i in range(19, 9, -1)]
    second = await search(alice, "Message", first["next_batch"], order_by="recent", filter={"limit": 10})
    assert second["count"] == 20
    assert bodies(second) == [f"Message number {i}" for i in range(9, -1, -1)]
    if "next_batch" in second:
        third = await search(alice, "Message", second["next_batch"], order_by="recent", filter={"limit": 10})
        assert third["results"] == [] and "next_batch" not in third


async def test_search_spans_an_upgraded_room_and_its_predecessor(homeserver: RunningHomeserver) -> None:
    # Complement: TestSearch / Search works across an upgraded room and its predecessor
    alice = await homeserver.register("alice")
    old_room = await alice.create_room(room_version="10")
    await alice.send(room_id=old_room, body="Message before upgrade")
    upgraded = await alice.request(
        "POST", f"/_matrix/client/v3/rooms/{q(old_room)}/upgrade", {"new_version": "11"}
    )
    new_room = upgraded["replacement_room"]
    await alice.send(new_room, "Message after upgrade")
    result = await search(alice, "upgrade", order_by="recent", filter={"rooms": [old_room, new_room]})
    assert bodies(result) == ["Message after upgrade", "Message before upgrade"]
    assert [r["result"]["room_id"] for r in result["results"]] == [new_room, old_room]


@pytest.mark.parametrize("order_by", ["rank", "recent"])
async def test_search_results_exclude_redacted_events(homeserver: RunningHomeserver, order_by: str) -> None:
    # Complement: TestSearch / Search results with rank|recent ordering do not include redacted events
    alice: MatrixHttp = await homeserver.register("alice")
    room_id = await alice.create_room()
    kept = await alice.send(room_id, "This message is not redacted")
    redacted = await alice.send(room_id, "This message is going to be redacted")
    await alice.request("PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/redact/{q(redacted)}/r1", {})
    result = await search(alice, "message", order_by=order_by)
    assert [r["result"]["event_id"] for r in result["results"]] == [kept]
