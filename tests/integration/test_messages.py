"""Sending and reading room events over real HTTP.

spec: client-server-api/_index.md "Transaction identifiers", "Room events",
"Syncing" (pagination), "Redactions", modules/event_replacements.md, rich_replies.md,
event_annotations.md; data/api/client-server/{room_send,message_pagination,
event_context,rooms,redaction,relations}.yaml. Cases mirror Complement's
room_messages, txnid, redact, invalid_test (TestJson, TestEvent) tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixError, MatrixHttp, q

V3 = "/_matrix/client/v3"


async def expect_error(call: Any, status: int, errcode: str) -> MatrixError:
    with pytest.raises(MatrixError) as info:
        await call
    assert info.value.status == status, info.value.body
    assert info.value.errcode == errcode, info.value.body
    return info.value


async def get_event(api: MatrixHttp, room_id: str, event_id: str) -> dict[str, Any]:
    return await api.request("GET", f"{V3}/rooms/{q(room_id)}/event/{q(event_id)}")


async def redact(api: MatrixHttp, room_id: str, event_id: str, txn: str, reason: str | None = None) -> str:
    body = {"reason": reason} if reason else {}
    result = await api.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/redact/{q(event_id)}/{q(txn)}", body
    )
    return result["event_id"]


async def put_raw(api: MatrixHttp, room_id: str, txn: str, content: dict[str, Any] | bytes,
                  event_type: str = "m.room.message") -> tuple[int, Any]:
    path = f"{V3}/rooms/{q(room_id)}/send/{q(event_type)}/{q(txn)}"
    if isinstance(content, bytes):
        return await api.status_of("PUT", path, raw=content, headers={"Content-Type": "application/json"})
    return await api.status_of("PUT", path, body=content)


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("alice")


@pytest.fixture
async def bob(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("bob")


@pytest.fixture
async def room(alice: MatrixHttp, bob: MatrixHttp) -> str:
    """A public room Alice created and Bob joined."""
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    return room_id


# --- sending and transaction IDs ----------------------------------------------------------
async def test_sent_message_can_be_fetched_by_id(alice: MatrixHttp, room: str) -> None:
    event_id = await alice.send(room, "hello")
    event = await get_event(alice, room, event_id)
    assert event["event_id"] == event_id
    assert event["room_id"] == room
    assert event["sender"] == alice.user_id
    assert event["type"] == "m.room.message"
    assert event["content"] == {"msgtype": "m.text", "body": "hello"}
    assert isinstance(event["origin_server_ts"], int)


async def test_same_txn_id_returns_same_event_id(alice: MatrixHttp, room: str) -> None:
    first = await alice.send(room, "once", txn_id="txn-1")
    again = await alice.send(room, "once", txn_id="txn-1")
    assert first == again
    chunk = (await alice.messages(room, dir="b", limit=20))["chunk"]
    assert [e["event_id"] for e in chunk if e["content"].get("body") == "once"] == [first]


async def test_same_txn_id_with_different_content_is_still_deduplicated(alice: MatrixHttp, room: str) -> None:
    first = await alice.send(room, "first", txn_id="txn-2")
    again = await alice.send(room, "second", txn_id="txn-2")
    assert first == again
    assert (await get_event(alice, room, first))["content"]["body"] == "first"


async def test_same_txn_id_in_another_room_is_a_new_event(alice: MatrixHttp, room: str) -> None:
    other = await alice.create_room()
    first = await alice.send(room, "here", txn_id="txn-3")
    second = await alice.send(other, "there", txn_id="txn-3")
    assert first != second
    assert (await get_event(alice, other, second))["content"]["body"] == "there"


async def test_same_txn_id_from_another_device_is_a_new_event(
    homeserver: RunningHomeserver, alice: MatrixHttp, room: str
) -> None:
    other_device = homeserver.api()
    await other_device.login("alice")
    assert other_device.device_id != alice.device_id
    first = await alice.send(room, "phone", txn_id="txn-4")
    second = await other_device.send(room, "laptop", txn_id="txn-4")
    assert first != second


async def test_same_txn_id_from_same_device_on_new_login_is_deduplicated(
    homeserver: RunningHomeserver, alice: MatrixHttp, room: str
) -> None:
    same_device = homeserver.api()
    await same_device.login("alice", device_id=alice.device_id)
    first = await alice.send(room, "one", txn_id="txn-5")
    second = await same_device.send(room, "one", txn_id="txn-5")
    assert first == second


async def test_redaction_txn_id_is_distinct_from_send_txn_id(alice: MatrixHttp, room: str) -> None:
    message = await alice.send(room, "bye", txn_id="shared-txn")
    redaction = await redact(alice, room, message, "shared-txn")
    assert redaction != message
    assert (await get_event(alice, room, message))["content"] == {}


async def test_event_carries_transaction_id_for_the_sending_device(alice: MatrixHttp, room: str) -> None:
    event_id = await alice.send(room, "mine", txn_id="echo-me")
    assert (await get_event(alice, room, event_id))["unsigned"]["transaction_id"] == "echo-me"


async def test_sync_local_echo_carries_transaction_id(alice: MatrixHttp, room: str) -> None:
    since = (await alice.sync())["next_batch"]
    event_id = await alice.send(room, "mine", txn_id="echo-sync")
    timeline = (await alice.sync(since=since, timeout=5000))["rooms"]["join"][room]["timeline"]["events"]
    mine = [e for e in timeline if e["event_id"] == event_id]
    assert mine[0]["unsigned"]["transaction_id"] == "echo-sync"


async def test_other_users_do_not_see_transaction_id(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    event_id = await alice.send(room, "mine", txn_id="private")
    assert "transaction_id" not in (await get_event(bob, room, event_id)).get("unsigned", {})


async def test_sending_to_room_not_joined_is_forbidden(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(preset="public_chat")
    await expect_error(bob.send(room_id, "let me in"), 403, "M_FORBIDDEN")


async def test_sending_after_leaving_is_forbidden(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    await bob.leave(room)
    await expect_error(bob.send(room, "still here?"), 403, "M_FORBIDDEN")


async def test_message_event_too_large_is_rejected(alice: MatrixHttp, room: str) -> None:
    status, body = await put_raw(alice, room, "big", {"msgtype": "m.text", "body": "x" * 70_000})
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")


async def test_state_event_too_large_is_rejected(alice: MatrixHttp, room: str) -> None:
    body = await alice.send_state(room, "org.example.big", {"v": "x" * 70_000}, expect=413)
    assert body["errcode"] == "M_TOO_LARGE"


@pytest.mark.parametrize("number", [b"9007199254740992", b"-9007199254740992", b"1.5", b"1e3"])
async def test_non_canonical_numbers_in_content_are_bad_json(alice: MatrixHttp, room: str, number: bytes) -> None:
    status, body = await put_raw(alice, room, f"num-{number.decode()}", b'{"body": "n", "n": ' + number + b"}")
    assert (status, body.get("errcode")) == (400, "M_BAD_JSON")


@pytest.mark.parametrize("special", [b"NaN", b"Infinity", b"-Infinity"])
async def test_json_special_values_are_rejected(alice: MatrixHttp, room: str, special: bytes) -> None:
    status, body = await put_raw(alice, room, f"sp-{special.decode()}", b'{"body": "n", "n": ' + special + b"}")
    assert status == 400 and body["errcode"] in ("M_NOT_JSON", "M_BAD_JSON")


# --- /messages pagination ------------------------------------------------------------------
async def send_numbered(api: MatrixHttp, room_id: str, count: int) -> list[str]:
    return [await api.send(room_id, f"message {i}") for i in range(count)]


def bodies(chunk: list[dict[str, Any]]) -> list[str]:
    return [e["content"]["body"] for e in chunk if e["type"] == "m.room.message"]


async def paginate(api: MatrixHttp, room_id: str, direction: str, start: str | None, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Follow `end` tokens until the server says there is no more; return events and pages."""
    events: list[dict[str, Any]] = []
    token = start
    pages = 0
    while True:
        params: dict[str, Any] = {"dir": direction, "limit": limit}
        if token is not None:
            params["from"] = token
        page = await api.messages(room_id, **params)
        pages += 1
        assert pages < 100, "pagination does not terminate"
        events.extend(page["chunk"])
        if "end" not in page:
            return events, pages
        assert page["chunk"], "a page with an `end` token must not be empty"
        token = page["end"]


async def test_paginate_150_messages_backwards_from_sync_prev_batch(alice: MatrixHttp, room: str) -> None:
    sent = await send_numbered(alice, room, 150)
    timeline = (await alice.sync())["rooms"]["join"][room]["timeline"]
    assert timeline["limited"] is True
    seen_in_sync = [e["event_id"] for e in timeline["events"]]
    assert seen_in_sync == sent[-len(seen_in_sync):]
    older, _ = await paginate(alice, room, "b", timeline["prev_batch"], 40)
    messages = [e["event_id"] for e in older if e["type"] == "m.room.message"]
    assert list(reversed(messages)) + seen_in_sync == sent
    assert older[-1]["type"] == "m.room.create"


async def test_paginate_150_messages_backwards_without_from(alice: MatrixHttp, room: str) -> None:
    sent = await send_numbered(alice, room, 150)
    events, pages = await paginate(alice, room, "b", None, 25)
    assert [e["event_id"] for e in events if e["type"] == "m.room.message"] == list(reversed(sent))
    assert pages >= 150 // 25


async def test_paginate_150_messages_forwards_from_the_start(alice: MatrixHttp, room: str) -> None:
    sent = await send_numbered(alice, room, 150)
    events, _ = await paginate(alice, room, "f", None, 33)
    assert events[0]["type"] == "m.room.create"
    assert [e["event_id"] for e in events if e["type"] == "m.room.message"] == sent


async def test_paginate_forwards_from_a_backwards_end_token(alice: MatrixHttp, room: str) -> None:
    sent = await send_numbered(alice, room, 30)
    back = await alice.messages(room, dir="b", limit=10)
    assert bodies(back["chunk"]) == [f"message {i}" for i in range(29, 19, -1)]
    forward = await alice.messages(room, dir="f", limit=10, **{"from": back["end"]})
    assert [e["event_id"] for e in forward["chunk"]] == sent[20:30]


async def test_messages_end_is_absent_when_history_is_exhausted(alice: MatrixHttp, room: str) -> None:
    page = await alice.messages(room, dir="b", limit=1000)
    assert "end" not in page
    assert page["chunk"][-1]["type"] == "m.room.create"


async def test_messages_chunk_is_empty_forwards_from_the_latest_token(alice: MatrixHttp, room: str) -> None:
    await alice.send(room, "old")
    since = (await alice.sync())["next_batch"]
    page = await alice.messages(room, dir="f", **{"from": since})
    assert page["chunk"] == [] and "end" not in page


async def test_messages_forward_from_sync_token_sees_new_message(alice: MatrixHttp, room: str) -> None:
    since = (await alice.sync())["next_batch"]
    event_id = await alice.send(room, "new")
    page = await alice.messages(room, dir="f", **{"from": since})
    assert [e["event_id"] for e in page["chunk"]] == [event_id]


async def test_messages_with_to_token_stops_there(alice: MatrixHttp, room: str) -> None:
    await send_numbered(alice, room, 5)
    middle = (await alice.sync())["next_batch"]
    late = await send_numbered(alice, room, 5)
    page = await alice.messages(room, dir="b", limit=100, to=middle)
    assert [e["event_id"] for e in page["chunk"]] == list(reversed(late))


async def test_messages_filter_by_type(alice: MatrixHttp, room: str) -> None:
    await alice.send(room, "text")
    await alice.send_state(room, "m.room.topic", {"topic": "t"})
    page = await alice.messages(room, dir="b", limit=50, filter='{"types":["m.room.topic"]}')
    assert {e["type"] for e in page["chunk"]} == {"m.room.topic"}


async def test_messages_lazy_load_members_returns_senders_member_events(
    alice: MatrixHttp, bob: MatrixHttp, room: str
) -> None:
    await bob.send(room, "only bob speaks")
    page = await alice.messages(room, dir="b", limit=1, filter='{"lazy_load_members":true}')
    assert bodies(page["chunk"]) == ["only bob speaks"]
    assert [(e["type"], e["state_key"]) for e in page["state"]] == [("m.room.member", bob.user_id)]


async def test_messages_rejects_bad_dir(alice: MatrixHttp, room: str) -> None:
    await expect_error(alice.messages(room, dir="x"), 400, "M_INVALID_PARAM")


async def test_messages_rejects_malformed_from_token(alice: MatrixHttp, room: str) -> None:
    status, _ = await alice.status_of("GET", f"{V3}/rooms/{q(room)}/messages", params={"from": "garbage"})
    assert status == 400


async def test_messages_of_unknown_room_is_forbidden(alice: MatrixHttp) -> None:
    await expect_error(alice.messages("!unknown:localhost", dir="b"), 403, "M_FORBIDDEN")


async def test_non_member_cannot_read_messages_of_shared_room(alice: MatrixHttp, room: str, homeserver: RunningHomeserver) -> None:
    carol = await homeserver.register("carol")
    await alice.send(room, "secret")
    await expect_error(carol.messages(room, dir="b"), 403, "M_FORBIDDEN")


async def test_world_readable_room_messages_are_readable_by_non_members(
    alice: MatrixHttp, homeserver: RunningHomeserver
) -> None:
    room_id = await alice.create_room(
        preset="public_chat",
        initial_state=[{"type": "m.room.history_visibility", "content": {"history_visibility": "world_readable"}}],
    )
    await alice.send(room_id, "for everyone")
    carol = await homeserver.register("carol")
    assert "for everyone" in bodies((await carol.messages(room_id, dir="b"))["chunk"])


async def test_departed_member_paginates_only_until_their_leave(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    await alice.send(room, "before")
    await bob.leave(room)
    await alice.send(room, "after")
    chunk = (await bob.messages(room, dir="b", limit=50))["chunk"]
    assert "after" not in bodies(chunk) and "before" in bodies(chunk)
    assert chunk[0]["type"] == "m.room.member" and chunk[0]["state_key"] == bob.user_id


# --- /event and /context ---------------------------------------------------------------
async def test_unknown_event_is_not_found(alice: MatrixHttp, room: str) -> None:
    await expect_error(get_event(alice, room, "$doesnotexist"), 404, "M_NOT_FOUND")


async def test_event_from_another_room_is_not_found(alice: MatrixHttp, room: str) -> None:
    other = await alice.create_room()
    event_id = await alice.send(other, "elsewhere")
    await expect_error(get_event(alice, room, event_id), 404, "M_NOT_FOUND")


async def test_context_returns_events_around_the_event(alice: MatrixHttp, room: str) -> None:
    sent = await send_numbered(alice, room, 9)
    ctx = await alice.request(
        "GET", f"{V3}/rooms/{q(room)}/context/{q(sent[4])}", params={"limit": "4"}
    )
    assert ctx["event"]["event_id"] == sent[4]
    assert [e["event_id"] for e in ctx["events_before"]] == [sent[3], sent[2]]
    assert [e["event_id"] for e in ctx["events_after"]] == [sent[5], sent[6]]
    state_types = {e["type"] for e in ctx["state"]}
    assert {"m.room.create", "m.room.power_levels", "m.room.member"} <= state_types
    # The tokens continue pagination on each side.
    older = await alice.messages(room, dir="b", limit=2, **{"from": ctx["start"]})
    assert [e["event_id"] for e in older["chunk"]] == [sent[1], sent[0]]
    newer = await alice.messages(room, dir="f", limit=2, **{"from": ctx["end"]})
    assert [e["event_id"] for e in newer["chunk"]] == [sent[7], sent[8]]


async def test_context_of_unknown_event_is_not_found(alice: MatrixHttp, room: str) -> None:
    status, body = await alice.status_of("GET", f"{V3}/rooms/{q(room)}/context/{q('$nope')}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


# --- relations: edits, replies, reactions ---------------------------------------------------
async def test_edit_is_stored_and_bundled_with_the_original(alice: MatrixHttp, room: str) -> None:
    original = await alice.send(room, "helo")
    edit = await alice.send(room, {
        "msgtype": "m.text", "body": "* hello",
        "m.new_content": {"msgtype": "m.text", "body": "hello"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    })
    fetched_edit = await get_event(alice, room, edit)
    assert fetched_edit["content"]["m.relates_to"] == {"rel_type": "m.replace", "event_id": original}
    fetched = await get_event(alice, room, original)
    # spec: the original keeps its content; the latest edit is bundled in unsigned.
    assert fetched["content"]["body"] == "helo"
    assert fetched["unsigned"]["m.relations"]["m.replace"]["event_id"] == edit
    chunk = (await alice.messages(room, dir="b", limit=5))["chunk"]
    in_page = [e for e in chunk if e["event_id"] == original][0]
    assert in_page["unsigned"]["m.relations"]["m.replace"]["event_id"] == edit


async def test_edit_by_another_user_is_not_bundled(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    original = await alice.send(room, "mine")
    await bob.send(room, {
        "msgtype": "m.text", "body": "* yours",
        "m.new_content": {"msgtype": "m.text", "body": "yours"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    })
    assert "m.relations" not in (await get_event(alice, room, original)).get("unsigned", {})


async def test_reply_relation_is_returned_intact(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    question = await alice.send(room, "tea?")
    answer = await bob.send(room, {
        "msgtype": "m.text", "body": "> tea?\n\nyes",
        "m.relates_to": {"m.in_reply_to": {"event_id": question}},
    })
    chunk = (await alice.messages(room, dir="b", limit=1))["chunk"]
    assert chunk[0]["event_id"] == answer
    assert chunk[0]["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": question}}


async def test_reactions_are_listed_by_relations(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    target = await alice.send(room, "react to me")
    reactions = [
        await api.send(room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}},
                       event_type="m.reaction")
        for api, key in ((alice, "👍"), (bob, "🍵"))
    ]
    page = await alice.request(
        "GET", f"/_matrix/client/v1/rooms/{q(room)}/relations/{q(target)}/m.annotation"
    )
    assert {e["event_id"] for e in page["chunk"]} == set(reactions)
    assert {e["content"]["m.relates_to"]["key"] for e in page["chunk"]} == {"👍", "🍵"}


# --- redactions ---------------------------------------------------------------------------
async def test_redacted_message_has_empty_content_everywhere(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    since = (await bob.sync())["next_batch"]
    message = await alice.send(room, "oops")
    redaction = await redact(alice, room, message, "r1", reason="typo")
    fetched = await get_event(bob, room, message)
    assert fetched["content"] == {}
    assert fetched["unsigned"]["redacted_because"]["event_id"] == redaction
    assert fetched["unsigned"]["redacted_because"]["content"].get("reason") == "typo"
    in_page = [e for e in (await bob.messages(room, dir="b", limit=5))["chunk"] if e["event_id"] == message]
    assert in_page[0]["content"] == {} and "redacted_because" in in_page[0]["unsigned"]
    timeline = (await bob.sync(since=since))["rooms"]["join"][room]["timeline"]["events"]
    in_sync = [e for e in timeline if e["event_id"] == message]
    assert in_sync[0]["content"] == {} and "redacted_because" in in_sync[0]["unsigned"]
    redaction_event = [e for e in timeline if e["event_id"] == redaction][0]
    assert redaction_event["redacts"] == message


async def test_redacted_message_is_empty_in_initial_sync(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    message = await alice.send(room, "oops")
    await redact(alice, room, message, "r2")
    timeline = (await bob.sync())["rooms"]["join"][room]["timeline"]["events"]
    assert [e["content"] for e in timeline if e["event_id"] == message] == [{}]


@pytest.mark.parametrize(("version", "keeps_invite"), [("10", False), ("11", True), ("12", True)])
async def test_redaction_keeps_content_keys_per_room_version(alice: MatrixHttp, version: str, keeps_invite: bool) -> None:
    room_id = await alice.create_room(room_version=version)
    power = await alice.get_state(room_id, "m.room.power_levels")
    power["invite"] = 0
    power["org.example.extra"] = "dropped"
    pl_event = (await alice.send_state(room_id, "m.room.power_levels", power))["event_id"]
    await redact(alice, room_id, pl_event, "r-pl")
    content = (await get_event(alice, room_id, pl_event))["content"]
    assert "org.example.extra" not in content
    assert "ban" in content and "users" in content
    assert ("invite" in content) is keeps_invite


@pytest.mark.parametrize(("version", "redacts_in_content"), [("10", False), ("11", True)])
async def test_redaction_event_places_redacts_per_room_version(alice: MatrixHttp, version: str, redacts_in_content: bool) -> None:
    room_id = await alice.create_room(room_version=version)
    message = await alice.send(room_id, "gone")
    redaction = await get_event(alice, room_id, await redact(alice, room_id, message, "r-v"))
    assert redaction["redacts"] == message
    assert (redaction["content"].get("redacts") == message) is redacts_in_content


async def test_user_without_power_cannot_redact_others_message(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    message = await alice.send(room, "not yours")
    await expect_error(redact(bob, room, message, "r3"), 403, "M_FORBIDDEN")
    assert (await get_event(alice, room, message))["content"]["body"] == "not yours"


async def test_user_can_redact_own_message_without_power(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    message = await bob.send(room, "mine to remove")
    await redact(bob, room, message, "r4")
    assert (await get_event(alice, room, message))["content"] == {}


async def test_moderator_can_redact_others_message(alice: MatrixHttp, bob: MatrixHttp, room: str) -> None:
    message = await bob.send(room, "rude")
    await redact(alice, room, message, "r5")
    assert (await get_event(bob, room, message))["content"] == {}


async def test_redacting_unknown_event_is_not_found(alice: MatrixHttp, room: str) -> None:
    await expect_error(redact(alice, room, "$nothing", "r6"), 404, "M_NOT_FOUND")


async def test_redacted_edit_is_no_longer_bundled(alice: MatrixHttp, room: str) -> None:
    original = await alice.send(room, "v1")
    edit = await alice.send(room, {
        "msgtype": "m.text", "body": "* v2", "m.new_content": {"msgtype": "m.text", "body": "v2"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    })
    await redact(alice, room, edit, "r7")
    assert "m.relations" not in (await get_event(alice, room, original)).get("unsigned", {})


# --- history visibility on /event ------------------------------------------------------------
async def room_with_visibility(alice: MatrixHttp, visibility: str) -> str:
    return await alice.create_room(
        preset="public_chat",
        initial_state=[{"type": "m.room.history_visibility", "content": {"history_visibility": visibility}}],
    )


async def test_joined_visibility_hides_events_from_before_join(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with_visibility(alice, "joined")
    early = await alice.send(room_id, "before bob")
    await bob.join(room_id)
    await expect_error(get_event(bob, room_id, early), 404, "M_NOT_FOUND")


async def test_shared_visibility_shows_events_from_before_join(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with_visibility(alice, "shared")
    early = await alice.send(room_id, "before bob")
    await bob.join(room_id)
    assert (await get_event(bob, room_id, early))["content"]["body"] == "before bob"


async def test_non_member_fetching_event_of_shared_room_is_not_found(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with_visibility(alice, "shared")
    event_id = await alice.send(room_id, "members only")
    # spec: GET /event — 404 "not found or you do not have permission to read this event".
    await expect_error(get_event(bob, room_id, event_id), 404, "M_NOT_FOUND")


async def test_non_member_can_fetch_event_of_world_readable_room(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await room_with_visibility(alice, "world_readable")
    event_id = await alice.send(room_id, "for all")
    assert (await get_event(bob, room_id, event_id))["content"]["body"] == "for all"
