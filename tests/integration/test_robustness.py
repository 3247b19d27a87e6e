"""Hostile and malformed requests get a spec error, never a 5xx, and the server survives.

spec: client-server-api/_index.md "API Standards" (JSON objects, "Standard error
response", "Common error codes"), "Using access tokens"; appendices "Canonical JSON".
Each test ends by checking the server still serves a normal request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q

V3 = "/_matrix/client/v3"

SPEC_ERRCODES = {
    "M_FORBIDDEN", "M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_BAD_JSON", "M_NOT_JSON",
    "M_NOT_FOUND", "M_LIMIT_EXCEEDED", "M_UNRECOGNIZED", "M_UNKNOWN", "M_UNAUTHORIZED",
    "M_USER_DEACTIVATED", "M_USER_IN_USE", "M_INVALID_USERNAME", "M_ROOM_IN_USE",
    "M_INVALID_ROOM_STATE", "M_THREEPID_IN_USE", "M_THREEPID_NOT_FOUND", "M_SERVER_NOT_TRUSTED",
    "M_UNSUPPORTED_ROOM_VERSION", "M_INCOMPATIBLE_ROOM_VERSION", "M_BAD_STATE", "M_GUEST_ACCESS_FORBIDDEN",
    "M_CAPTCHA_NEEDED", "M_CAPTCHA_INVALID", "M_MISSING_PARAM", "M_INVALID_PARAM", "M_TOO_LARGE",
    "M_EXCLUSIVE", "M_RESOURCE_LIMIT_EXCEEDED", "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM", "M_BAD_ALIAS",
    "M_WEAK_PASSWORD", "M_UNSUPPORTED_MEDIA_TYPE",
}


def assert_client_error(status: int, body: Any, *, expect_status: int | None = None,
                        expect_errcode: str | None = None) -> None:
    assert 400 <= status < 500, f"expected a 4xx, got {status}: {body!r}"[:500]
    assert isinstance(body, dict), f"error body is not JSON: {body!r}"[:500]
    assert body.get("errcode") in SPEC_ERRCODES, body
    assert isinstance(body.get("error", ""), str)
    if expect_status is not None:
        assert status == expect_status, body
    if expect_errcode is not None:
        assert body["errcode"] == expect_errcode, body


@dataclass
class World:
    hs: RunningHomeserver
    alice: MatrixHttp
    bob: MatrixHttp
    room_id: str
    event_id: str


@pytest.fixture
async def world(homeserver: RunningHomeserver) -> AsyncIterator[World]:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat", room_alias_name="robust")
    await bob.join(room_id)
    event_id = await alice.send(room_id, "hello")
    world = World(homeserver, alice, bob, room_id, event_id)
    yield world
    # Whatever the test threw at it, the server still serves ordinary requests.
    assert (await alice.request("GET", f"{V3}/account/whoami"))["user_id"] == alice.user_id
    alive = await alice.send(room_id, "still alive")
    timeline = (await alice.sync())["rooms"]["join"][room_id]["timeline"]["events"]
    assert timeline[-1]["event_id"] == alive


# Endpoints taking a JSON object body, with a valid example body. {room}, {event}, {user},
# {alias} are filled in per test.
BODY_ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/createRoom", {"name": "x", "preset": "public_chat", "invite": [], "is_direct": False}),
    ("POST", "/join/{room}", {"reason": "r"}),
    ("POST", "/rooms/{room}/join", {"reason": "r"}),
    ("POST", "/rooms/{room}/leave", {"reason": "r"}),
    ("POST", "/rooms/{room}/invite", {"user_id": "@carol:localhost", "reason": "r"}),
    ("POST", "/rooms/{room}/kick", {"user_id": "@bob:localhost", "reason": "r"}),
    ("POST", "/rooms/{room}/ban", {"user_id": "@bob:localhost", "reason": "r"}),
    ("POST", "/rooms/{room}/unban", {"user_id": "@bob:localhost", "reason": "r"}),
    ("POST", "/knock/{room}", {"reason": "r"}),
    ("PUT", "/rooms/{room}/send/m.room.message/{txn}", {"msgtype": "m.text", "body": "b"}),
    ("PUT", "/rooms/{room}/state/m.room.topic", {"topic": "t"}),
    ("PUT", "/rooms/{room}/state/org.example.k/key", {"v": 1}),
    ("PUT", "/rooms/{room}/redact/{event}/{txn}", {"reason": "r"}),
    ("POST", "/user/{user}/filter", {"room": {"timeline": {"limit": 1}}}),
    ("PUT", "/directory/room/{alias}", {"room_id": "{room}"}),
    ("PUT", "/directory/list/room/{room}", {"visibility": "public"}),
    ("POST", "/publicRooms", {"limit": 1, "filter": {"generic_search_term": "x"}}),
    ("POST", "/login", {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
                        "password": "correct horse"}),
    ("POST", "/register", {"username": "newbie", "password": "pw pw pw pw"}),
]
# Endpoints whose body is arbitrary event content: any JSON object is fine.
FREE_CONTENT = {"/rooms/{room}/send/m.room.message/{txn}", "/rooms/{room}/state/org.example.k/key"}

_counter = iter(range(10**9))


def fill(world: World, template: str) -> str:
    return (
        template.replace("{room}", q(world.room_id))
        .replace("{event}", q(world.event_id))
        .replace("{user}", q(world.alice.user_id or ""))
        .replace("{alias}", q(f"#a{next(_counter)}:{world.hs.server_name}"))
        .replace("{txn}", f"txn{next(_counter)}")
    )


def fill_body(world: World, body: Any) -> Any:
    if isinstance(body, str):
        return body.replace("{room}", world.room_id)
    if isinstance(body, dict):
        return {k: fill_body(world, v) for k, v in body.items()}
    return body


async def send_raw(world: World, method: str, path: str, raw: bytes, api: MatrixHttp | None = None) -> tuple[int, Any]:
    client = api or world.alice
    return await client.status_of(method, V3 + path, raw=raw, headers={"Content-Type": "application/json"})


def endpoint_id(e: tuple[str, str, dict[str, Any]]) -> str:
    return f"{e[0]} {e[1]}"


# --- bodies that are not JSON objects ------------------------------------------------------
NOT_OBJECTS = [
    pytest.param(b'{"a":', id="truncated"),
    pytest.param(b"{'a': 1}", id="single-quotes"),
    pytest.param(b"not json at all", id="text"),
    pytest.param(b"[]", id="array"),
    pytest.param(b'[{"a": 1}]', id="array-of-object"),
    pytest.param(b'"a string"', id="string"),
    pytest.param(b"42", id="number"),
    pytest.param(b"null", id="null"),
    pytest.param(b"true", id="bool"),
    pytest.param(b'{"a":"\\ud800"}', id="lone-surrogate-escape"),
    pytest.param(b'{"a":"\\udc00\\ud800"}', id="reversed-surrogates"),
    pytest.param(b'{"a":"\xff\xfe"}', id="invalid-utf8"),
    pytest.param(b'{"a":"\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
    pytest.param(b"\xef\xbb\xbf{}", id="bom"),
    pytest.param(b'{"a":1}{"b":2}', id="two-objects"),
    pytest.param(b'{"a":NaN}', id="nan"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-arrays-100k"),
    pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="nested-objects-100k"),
]


@pytest.mark.parametrize("raw", NOT_OBJECTS)
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS, ids=endpoint_id)
async def test_body_that_is_not_a_json_object_is_rejected(world: World, endpoint: tuple[str, str, dict[str, Any]], raw: bytes) -> None:
    method, template, _ = endpoint
    status, body = await send_raw(world, method, fill(world, template), raw)
    assert_client_error(status, body)
    assert body["errcode"] in ("M_NOT_JSON", "M_BAD_JSON"), body


BODY_REQUIRED = [e for e in BODY_ENDPOINTS if e[1] not in {
    "/join/{room}", "/rooms/{room}/join", "/rooms/{room}/leave", "/knock/{room}",
    "/rooms/{room}/redact/{event}/{txn}", "/publicRooms",
}]


@pytest.mark.parametrize("endpoint", BODY_REQUIRED, ids=endpoint_id)
async def test_empty_body_is_rejected_where_a_body_is_required(world: World, endpoint: tuple[str, str, dict[str, Any]]) -> None:
    method, template, _ = endpoint
    status, body = await send_raw(world, method, fill(world, template), b"")
    # register/login answer an empty body with their own 4xx (UIA flows / missing fields).
    assert_client_error(status, body)


# --- fields of the wrong type -----------------------------------------------------------------
WRONG_VALUES = [
    pytest.param(None, id="null"),
    pytest.param([1, "two", None], id="list"),
    pytest.param(12345, id="number"),
    pytest.param(-(2**63), id="huge-negative"),
    pytest.param(True, id="bool"),
    pytest.param({"nested": {"deeper": [{}]}}, id="object"),
    pytest.param("", id="empty-string"),
]


@pytest.mark.parametrize("wrong", WRONG_VALUES)
@pytest.mark.parametrize("endpoint", [e for e in BODY_ENDPOINTS if e[1] not in FREE_CONTENT], ids=endpoint_id)
async def test_fields_of_the_wrong_type_never_cause_a_server_error(world: World, endpoint: tuple[str, str, dict[str, Any]], wrong: Any) -> None:
    method, template, valid = endpoint
    for key in fill_body(world, valid):
        body = {**fill_body(world, valid), key: wrong}
        status, result = await world.bob.status_of(method, V3 + fill(world, template), body=body)
        assert status < 500, f"{key}={wrong!r}: {status} {result!r}"
        if status == 401 and template == "/register" and "flows" in result:
            continue  # the user-interactive auth challenge, not an error
        if status >= 400:
            assert_client_error(status, result)


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", 5), ("topic", ["t"]), ("invite", "@bob:localhost"), ("invite", [1]),
     ("preset", "open"), ("visibility", "secret"), ("is_direct", "yes"), ("room_version", 11),
     ("initial_state", [{"type": 5}]), ("initial_state", [{"type": "m.room.name", "content": "x"}]),
     ("initial_state", {"type": "m.room.name"}), ("power_level_content_override", []),
     ("creation_content", "x"), ("room_alias_name", 7)],
)
async def test_create_room_with_wrong_field_type_is_bad_json(world: World, field: str, value: Any) -> None:
    status, body = await world.alice.status_of("POST", f"{V3}/createRoom", body={field: value})
    assert_client_error(status, body, expect_status=400)
    assert body["errcode"] in ("M_BAD_JSON", "M_INVALID_PARAM"), body


@pytest.mark.parametrize(
    "content",
    [
        pytest.param({"n": 1.5}, id="float"),
        pytest.param({"n": 2**53}, id="int-too-big"),
        pytest.param({"deep": {"er": [{"n": 0.1}]}}, id="nested-float"),
    ],
)
async def test_non_canonical_json_anywhere_in_an_event_is_bad_json(world: World, content: dict[str, Any]) -> None:
    paths = [
        ("PUT", f"/rooms/{q(world.room_id)}/send/m.room.message/{fill(world, '{txn}')}", content),
        ("PUT", f"/rooms/{q(world.room_id)}/state/org.example.n/", content),
        ("POST", "/createRoom", {"initial_state": [{"type": "org.example.n", "content": content}]}),
        ("POST", "/createRoom", {"power_level_content_override": content}),
        ("POST", "/createRoom", {"creation_content": content}),
    ]
    for method, path, body in paths:
        status, result = await world.alice.status_of(method, V3 + path, body=body)
        assert_client_error(status, result, expect_status=400, expect_errcode="M_BAD_JSON")


@pytest.mark.parametrize("depth", [20, 200, 5_000])
async def test_deeply_nested_but_parseable_content_is_handled(world: World, depth: int) -> None:
    raw = b'{"d":' * depth + b'{"body":"deep"}' + b"}" * depth
    status, body = await send_raw(world, "PUT", f"/rooms/{q(world.room_id)}/send/m.room.message/d{depth}", raw)
    assert status == 200 or (400 <= status < 500 and body["errcode"] in SPEC_ERRCODES), body


# --- sizes ---------------------------------------------------------------------------------
async def test_body_over_the_request_limit_is_too_large(world: World) -> None:
    limit = world.hs.hs.config.limits.max_request_body_bytes
    raw = b'{"body":"' + b"x" * (limit + 10) + b'"}'
    status, body = await send_raw(world, "PUT", f"/rooms/{q(world.room_id)}/send/m.room.message/huge", raw)
    assert_client_error(status, body, expect_status=413, expect_errcode="M_TOO_LARGE")


async def test_body_over_the_limit_without_content_length_is_too_large(world: World) -> None:
    limit = world.hs.hs.config.limits.max_request_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"body":"'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    headers = {"Authorization": f"Bearer {world.alice.access_token}", "Content-Type": "application/json"}
    url = f"{world.hs.base_url}{V3}/rooms/{q(world.room_id)}/send/m.room.message/chunked"
    async with world.hs.session.put(url, data=chunks(), headers=headers) as resp:
        body = await resp.json(content_type=None)
        assert_client_error(resp.status, body, expect_status=413, expect_errcode="M_TOO_LARGE")


@pytest.mark.parametrize(
    ("method", "template", "make_body"),
    [
        ("PUT", "/rooms/{room}/send/m.room.message/{txn}", lambda s: {"body": s}),
        ("PUT", "/rooms/{room}/state/m.room.topic", lambda s: {"topic": s}),
        ("POST", "/createRoom", lambda s: {"name": s}),
        ("POST", "/createRoom", lambda s: {"topic": s}),
        ("POST", "/createRoom", lambda s: {"room_alias_name": s}),
        ("POST", "/rooms/{room}/invite", lambda s: {"user_id": "@" + s + ":localhost"}),
        ("POST", "/rooms/{room}/leave", lambda s: {"reason": s}),
        ("POST", "/user/{user}/filter", lambda s: {"room": {"timeline": {"types": [s]}}}),
        ("POST", "/publicRooms", lambda s: {"filter": {"generic_search_term": s}}),
    ],
)
async def test_huge_strings_are_rejected_or_handled(world: World, method: str, template: str, make_body: Any) -> None:
    status, body = await world.bob.status_of(method, V3 + fill(world, template), body=make_body("x" * 500_000))
    assert status < 500, body
    if status >= 400:
        assert_client_error(status, body)
    if "send" in template or "state" in template:
        assert status == 413 and body["errcode"] == "M_TOO_LARGE"


# --- routing and auth ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/_matrix/client/v3/nonexistent", "/_matrix/client/v3/rooms", "/_matrix/client/v9/sync",
     "/_matrix/client/v3/rooms/!a:b/nonsense", "/nothing/here", "/_matrix/", "/_matrix/client/v3/sync/extra"],
)
async def test_unknown_endpoint_is_unrecognized(world: World, path: str) -> None:
    status, body = await world.alice.status_of("GET", path)
    assert_client_error(status, body, expect_status=404, expect_errcode="M_UNRECOGNIZED")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/sync"), ("DELETE", "/createRoom"), ("GET", "/createRoom"), ("PUT", "/joined_rooms"),
     ("PATCH", "/rooms/{room}/state"), ("GET", "/rooms/{room}/send/m.room.message/t")],
)
async def test_wrong_method_is_unrecognized_405(world: World, method: str, path: str) -> None:
    status, body = await world.alice.status_of(method, V3 + fill(world, path), body={})
    assert_client_error(status, body, expect_status=405, expect_errcode="M_UNRECOGNIZED")


AUTHED = [
    ("GET", "/sync"), ("POST", "/createRoom"), ("GET", "/joined_rooms"),
    ("GET", "/rooms/{room}/messages"), ("GET", "/rooms/{room}/state"), ("GET", "/rooms/{room}/members"),
    ("PUT", "/rooms/{room}/send/m.room.message/{txn}"), ("POST", "/rooms/{room}/leave"),
    ("POST", "/join/{room}"), ("GET", "/account/whoami"), ("POST", "/user/{user}/filter"),
    ("PUT", "/rooms/{room}/redact/{event}/{txn}"), ("GET", "/rooms/{room}/event/{event}"),
]


@pytest.mark.parametrize(("method", "path"), AUTHED)
async def test_missing_token_is_missing_token(world: World, method: str, path: str) -> None:
    anonymous = world.hs.api()
    status, body = await anonymous.status_of(method, V3 + fill(world, path), body={})
    assert_client_error(status, body, expect_status=401, expect_errcode="M_MISSING_TOKEN")


@pytest.mark.parametrize(("method", "path"), AUTHED)
@pytest.mark.parametrize("token", ["nonsense", "x" * 5000, "syt_" + "A" * 40, "tok\u00e9n".encode().decode("latin-1")])
async def test_bad_token_is_unknown_token(world: World, method: str, path: str, token: str) -> None:
    stranger = world.hs.api(token)
    status, body = await stranger.status_of(method, V3 + fill(world, path), body={})
    assert_client_error(status, body, expect_status=401, expect_errcode="M_UNKNOWN_TOKEN")


async def test_bad_token_in_query_parameter_is_unknown_token(world: World) -> None:
    status, body = await world.hs.api().status_of("GET", f"{V3}/sync", params={"access_token": "nope"})
    assert_client_error(status, body, expect_status=401, expect_errcode="M_UNKNOWN_TOKEN")


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "bearer", "Token abc"])
async def test_malformed_authorization_header_is_rejected(world: World, header: str) -> None:
    status, body = await world.hs.api().status_of("GET", f"{V3}/sync", headers={"Authorization": header})
    assert status == 401 and body["errcode"] in ("M_MISSING_TOKEN", "M_UNKNOWN_TOKEN")


# --- path parameters ---------------------------------------------------------------------------
WEIRD_ROOMS = [
    pytest.param("!" + "a" * 2_000 + ":localhost", id="very-long-id"),
    pytest.param("not-a-room", id="no-sigil"),
    pytest.param("!", id="bare-sigil"),
    pytest.param("!abc%2F..%2F..%2Fetc:localhost", id="encoded-traversal"),
    pytest.param("!a/b:localhost", id="slash"),
    pytest.param("!nul\x00:localhost", id="nul"),
    pytest.param("!\u202e\U0001f600:localhost", id="unicode"),
    pytest.param("@alice:localhost", id="user-id"),
    pytest.param("#robust", id="alias-without-server"),
    pytest.param("#", id="bare-alias-sigil"),
    pytest.param("#" + "a" * 2_000 + ":localhost", id="very-long-alias"),
    pytest.param("$event:localhost", id="event-id"),
]

ROOM_PATHS = [
    ("GET", "/rooms/{r}/state"), ("GET", "/rooms/{r}/state/m.room.name"), ("GET", "/rooms/{r}/members"),
    ("GET", "/rooms/{r}/joined_members"), ("GET", "/rooms/{r}/messages"), ("GET", "/rooms/{r}/aliases"),
    ("GET", "/rooms/{r}/event/$x"), ("GET", "/rooms/{r}/context/$x"), ("POST", "/rooms/{r}/join"),
    ("POST", "/join/{r}"), ("POST", "/knock/{r}"), ("POST", "/rooms/{r}/leave"), ("POST", "/rooms/{r}/forget"),
    ("PUT", "/rooms/{r}/send/m.room.message/t1"), ("PUT", "/rooms/{r}/state/m.room.topic"),
    ("PUT", "/rooms/{r}/redact/$x/t2"), ("POST", "/rooms/{r}/invite"), ("POST", "/rooms/{r}/ban"),
    ("GET", "/directory/list/room/{r}"), ("PUT", "/directory/list/room/{r}"), ("GET", "/directory/room/{r}"),
    ("PUT", "/directory/room/{r}"), ("DELETE", "/directory/room/{r}"),
]


@pytest.mark.parametrize("room", WEIRD_ROOMS)
async def test_weird_room_ids_get_client_errors(world: World, room: str) -> None:
    # One body valid for every endpoint here, so only the path can be at fault.
    body = {"user_id": "@bob:localhost", "visibility": "public", "room_id": world.room_id, "topic": "t"}
    for method, template in ROOM_PATHS:
        path = V3 + template.replace("{r}", q(room))
        status, result = await world.alice.status_of(method, path, body=body)
        assert 400 <= status < 500, f"{method} {template}: {status} {result!r}"[:300]
        assert_client_error(status, result)


@pytest.mark.parametrize(
    "state_key",
    ["a%2Fb", "../../etc/passwd", "x" * 2_000, "\u0000", "%00", "@alice:localhost/extra"],
    ids=["encoded-slash", "traversal", "long", "nul", "percent-00", "slash"],
)
async def test_weird_state_keys_round_trip_or_fail_cleanly(world: World, state_key: str) -> None:
    status, body = await world.alice.status_of(
        "PUT", f"{V3}/rooms/{q(world.room_id)}/state/org.example.k/{q(state_key)}", body={"v": 1}
    )
    if status == 200:
        assert await world.alice.get_state(world.room_id, "org.example.k", state_key) == {"v": 1}
    else:
        assert_client_error(status, body)


async def test_long_request_line_gets_a_spec_error(world: World) -> None:
    # Over aiohttp's default 8190-byte request line; the app raises the limit to 64 KiB.
    status, body = await world.alice.status_of("GET", f"{V3}/rooms/{q('!' + 'a' * 10_000)}/state")
    assert_client_error(status, body)


async def test_unencoded_slash_in_room_id_path_is_not_a_server_error(world: World) -> None:
    status, body = await world.alice.status_of("GET", f"{V3}/rooms/!a/b:localhost/state")
    assert_client_error(status, body)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/rooms/{room}/messages", {"limit": "-1"}),
        ("/rooms/{room}/messages", {"limit": "abc"}),
        ("/rooms/{room}/messages", {"limit": "99999999999999999999999"}),
        ("/rooms/{room}/messages", {"from": "s-5"}),
        ("/rooms/{room}/messages", {"from": "s1_2_3_4_5_6_7_8_9_10"}),
        ("/rooms/{room}/messages", {"to": "garbage"}),
        ("/rooms/{room}/messages", {"dir": "sideways"}),
        ("/rooms/{room}/messages", {"filter": "[1,2]"}),
        ("/rooms/{room}/messages", {"filter": '{"types": 5}'}),
        ("/rooms/{room}/messages", {"filter": "{bad"}),
        ("/rooms/{room}/context/{event}", {"limit": "x"}),
        ("/sync", {"timeout": "-5"}),
        ("/sync", {"timeout": "1e9"}),
        ("/sync", {"filter": "[]"}),
        ("/sync", {"filter": "-1"}),
        ("/sync", {"filter": "99999999999999999999999999"}),
        ("/sync", {"since": "s" + "9" * 400}),
        ("/sync", {"filter": '{"room": {"timeline": {"limit": -1}}}'}),
        ("/publicRooms", {"limit": "lots"}),
        ("/publicRooms", {"since": "zzz"}),
        ("/rooms/{room}/members", {"at": "garbage", "membership": "x" * 5000}),
        ("/user/{user}/filter/abc", {}),
        ("/user/{user}/filter/99999999999999999999999999", {}),
    ],
)
async def test_bad_query_parameters_get_client_errors(world: World, path: str, params: dict[str, str]) -> None:
    status, body = await world.alice.status_of("GET", V3 + fill(world, path), params=params)
    assert status < 500, f"{status}: {body!r}"
    if status >= 400:
        assert_client_error(status, body)


async def test_negative_limit_is_invalid_param(world: World) -> None:
    status, body = await world.alice.status_of(
        "GET", f"{V3}/rooms/{q(world.room_id)}/messages", params={"limit": "-1"}
    )
    assert_client_error(status, body, expect_status=400, expect_errcode="M_INVALID_PARAM")


# --- unusual but valid input -----------------------------------------------------------------
async def test_unicode_and_control_characters_round_trip(world: World) -> None:
    text = "zero\u200bwidth \U0001f600 \u202eRTL\u202c tab\t nl\n quote\" back\\slash \u0001"
    event_id = await world.alice.send(world.room_id, text)
    event = await world.bob.request("GET", f"{V3}/rooms/{q(world.room_id)}/event/{q(event_id)}")
    assert event["content"]["body"] == text


async def test_properly_paired_surrogate_escape_is_accepted(world: World) -> None:
    status, _ = await send_raw(
        world, "PUT", f"/rooms/{q(world.room_id)}/send/m.room.message/pair", b'{"body":"\\ud83d\\ude00"}'
    )
    assert status == 200


async def test_many_concurrent_bad_requests_do_not_disturb_good_ones(world: World) -> None:
    import asyncio

    bad = [send_raw(world, "POST", "/createRoom", b"{" * 1000) for _ in range(50)]
    good = [world.alice.send(world.room_id, f"ok {i}") for i in range(10)]
    results = await asyncio.gather(*bad, *good)
    for status, body in results[:50]:
        assert_client_error(status, body)
    assert all(isinstance(r, str) and r.startswith("$") for r in results[50:])
