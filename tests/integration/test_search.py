"""Server-side search (spec: client-server-api/modules/search.md) over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixError, MatrixHttp

SEARCH = "/_matrix/client/v3/search"


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("alice")


@pytest.fixture
async def bob(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("bob")


async def search(api: MatrixHttp, term: str, next_batch: str | None = None, **criteria: Any) -> dict[str, Any]:
    body = {"search_categories": {"room_events": {"search_term": term, **criteria}}}
    params = {"next_batch": next_batch} if next_batch else None
    return (await api.request("POST", SEARCH, body, params=params))["search_categories"]["room_events"]


def found(result: dict[str, Any]) -> list[str]:
    return [r["result"]["content"].get("body") for r in result["results"]]


async def test_search_finds_a_message_by_word(alice: MatrixHttp) -> None:
    room = await alice.create_room()
    await alice.send(room, "the martians have landed")
    await alice.send(room, "nothing to see here")
    result = await search(alice, "martians")
    assert found(result) == ["the martians have landed"]
    assert result["count"] == 1
    assert "martians" in result["highlights"]
    assert result["results"][0]["result"]["room_id"] == room


async def test_search_matches_word_prefixes_and_ignores_case(alice: MatrixHttp) -> None:
    room = await alice.create_room()
    await alice.send(room, "Martians everywhere")
    assert found(await search(alice, "MARTIAN")) == ["Martians everywhere"]


async def test_search_syntax_in_the_term_is_plain_text(alice: MatrixHttp) -> None:
    room = await alice.create_room()
    await alice.send(room, "quotes and (parens) AND ors")
    assert found(await search(alice, '"parens) AND(')) == ["quotes and (parens) AND ors"]
    assert (await search(alice, "!!!"))["results"] == []


async def test_search_does_not_see_rooms_the_user_was_never_in(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room = await alice.create_room(preset="public_chat")
    await alice.send(room, "secret plans")
    assert (await search(bob, "secret"))["results"] == []


async def test_search_respects_history_visibility(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room = await alice.create_room(
        preset="public_chat",
        initial_state=[{"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}],
    )
    await alice.send(room, "zebra before bob")
    await bob.join(room)
    await alice.send(room, "zebra after bob")
    assert found(await search(bob, "zebra")) == ["zebra after bob"]


async def test_search_excludes_messages_after_leaving(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    await alice.send(room, "walrus while bob is here")
    await bob.leave(room)
    await alice.send(room, "walrus after bob left")
    assert found(await search(bob, "walrus")) == ["walrus while bob is here"]


async def test_redacted_message_is_not_found(alice: MatrixHttp) -> None:
    room = await alice.create_room()
    event_id = await alice.send(room, "regrettable words")
    await alice.request("PUT", f"/_matrix/client/v3/rooms/{room}/redact/{event_id}/r1", {})
    assert (await search(alice, "regrettable"))["results"] == []


async def test_search_orders_by_recency(alice: MatrixHttp) -> None:
    room = await alice.create_room()
    for i in range(3):
        await alice.send(room, f"llama number {i}")
    assert found(await search(alice, "llama", order_by="recent")) == [
        "llama number 2", "llama number 1", "llama number 0",
    ]


@pytest.mark.parametrize("order_by", ["recent", "rank"])
async def test_search_paginates_without_repeats(alice: MatrixHttp, order_by: str) -> None:
    room = await alice.create_room()
    for i in range(25):
        await alice.send(room, f"pager {i}")
    seen: list[str] = []
    token = None
    for _ in range(10):
        result = await search(alice, "pager", token, order_by=order_by, filter={"limit": 10})
        seen += found(result)
        token = result.get("next_batch")
        if token is None:
            break
    assert sorted(seen) == sorted(f"pager {i}" for i in range(25))


async def test_search_room_names_and_topics_by_key(alice: MatrixHttp) -> None:
    room = await alice.create_room(name="Aardvark club", topic="all about anteaters")
    await alice.send(room, "aardvark in a message")
    names = await search(alice, "aardvark", keys=["content.name"])
    assert [r["result"]["type"] for r in names["results"]] == ["m.room.name"]
    topics = await search(alice, "anteaters", keys=["content.topic"])
    assert [r["result"]["type"] for r in topics["results"]] == ["m.room.topic"]


async def test_search_filter_limits_rooms(alice: MatrixHttp) -> None:
    one = await alice.create_room()
    two = await alice.create_room()
    await alice.send(one, "otter one")
    await alice.send(two, "otter two")
    result = await search(alice, "otter", filter={"rooms": [two]})
    assert found(result) == ["otter two"]


async def test_search_context_groups_and_state(alice: MatrixHttp) -> None:
    room = await alice.create_room(name="Context room")
    await alice.send(room, "before it")
    await alice.send(room, "the needle")
    await alice.send(room, "after it")
    result = await search(
        alice, "needle", event_context={"before_limit": 1, "after_limit": 1, "include_profile": True},
        include_state=True, groupings={"group_by": [{"key": "room_id"}, {"key": "sender"}]},
    )
    ctx = result["results"][0]["context"]
    assert [e["content"]["body"] for e in ctx["events_before"]] == ["before it"]
    assert [e["content"]["body"] for e in ctx["events_after"]] == ["after it"]
    assert alice.user_id in ctx["profile_info"]
    assert list(result["groups"]["room_id"]) == [room]
    assert result["groups"]["sender"][alice.user_id]["results"] == [result["results"][0]["result"]["event_id"]]
    assert any(e["type"] == "m.room.name" for e in result["state"][room])


@pytest.mark.parametrize("body", [
    {}, {"search_categories": []}, {"search_categories": {"room_events": {}}},
    {"search_categories": {"room_events": {"search_term": 5}}},
    {"search_categories": {"room_events": {"search_term": "x", "order_by": "sideways"}}},
    {"search_categories": {"room_events": {"search_term": "x", "keys": ["content.secret"]}}},
])
async def test_malformed_search_is_bad_json(alice: MatrixHttp, body: dict[str, Any]) -> None:
    with pytest.raises(MatrixError) as err:
        await alice.request("POST", SEARCH, body)
    assert err.value.status == 400
    assert err.value.body["errcode"] == "M_BAD_JSON"


async def test_bad_next_batch_is_invalid_param(alice: MatrixHttp) -> None:
    with pytest.raises(MatrixError) as err:
        await search(alice, "x", "garbage")
    assert err.value.body["errcode"] == "M_INVALID_PARAM"


async def test_search_needs_a_token(homeserver: RunningHomeserver) -> None:
    with pytest.raises(MatrixError) as err:
        await homeserver.api().request("POST", SEARCH, {"search_categories": {}})
    assert err.value.status == 401
