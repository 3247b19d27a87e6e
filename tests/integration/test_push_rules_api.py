"""Push rules over HTTP: the ruleset, rule CRUD with before/after, enabled/actions, errors,
m.push_rules in /sync, and pushers.

spec: data/api/client-server/{pushrules,pusher}.yaml; client-server-api/modules/push.md.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until

V3 = "/_matrix/client/v3"
RULES = f"{V3}/pushrules/global"


def push_rules_event(response: dict[str, Any]) -> dict[str, Any] | None:
    events = response.get("account_data", {}).get("events", [])
    found = [e for e in events if e["type"] == "m.push_rules"]
    assert len(found) <= 1, found
    return found[0]["content"] if found else None


def ids(ruleset: dict[str, Any], kind: str) -> list[str]:
    return [r["rule_id"] for r in ruleset[kind]]


async def put_rule(client: MatrixHttp, kind: str, rule_id: str, body: dict[str, Any],
                   expect: int = 200, **params: str) -> Any:
    return await client.request("PUT", f"{RULES}/{kind}/{q(rule_id)}", body, params=params or None,
                                expect=expect)


async def test_ruleset_has_the_server_defaults(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    body = await alice.request("GET", f"{V3}/pushrules/")
    ruleset = body["global"]
    assert ids(ruleset, "override")[0] == ".m.rule.master"
    assert ".m.rule.is_user_mention" in ids(ruleset, "override")
    assert ids(ruleset, "underride")[-1] == ".m.rule.encrypted"
    assert ruleset["room"] == [] and ruleset["sender"] == []
    master = ruleset["override"][0]
    assert master == {"rule_id": ".m.rule.master", "default": True, "enabled": False, "actions": [],
                      "conditions": []}
    mention = next(r for r in ruleset["override"] if r["rule_id"] == ".m.rule.is_user_mention")
    assert mention["conditions"][0]["value"] == alice.user_id
    assert await alice.request("GET", f"{RULES}/") == ruleset


async def test_custom_rule_crud_with_before_and_after(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    rule = {"conditions": [{"kind": "event_match", "key": "content.body", "pattern": "beer"}],
            "actions": ["notify", {"set_tweak": "sound", "value": "beeroclock.wav"}]}
    await put_rule(alice, "override", "a", rule)
    await put_rule(alice, "override", "c", rule, after="a")
    await put_rule(alice, "override", "b", rule, before="c")
    ruleset = (await alice.request("GET", f"{V3}/pushrules/"))["global"]
    assert ids(ruleset, "override")[:4] == [".m.rule.master", "a", "b", "c"]
    got = await alice.request("GET", f"{RULES}/override/b")
    assert got == {"rule_id": "b", "default": False, "enabled": True, **rule}
    await alice.request("DELETE", f"{RULES}/override/b")
    err = await alice.request("GET", f"{RULES}/override/b", expect=404)
    assert err["errcode"] == "M_NOT_FOUND"
    ruleset = (await alice.request("GET", f"{V3}/pushrules/"))["global"]
    assert ids(ruleset, "override")[:3] == [".m.rule.master", "a", "c"]


async def test_enabled_and_actions_endpoints(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    path = f"{RULES}/underride/.m.rule.message"
    assert await alice.request("GET", f"{path}/enabled") == {"enabled": True}
    await alice.request("PUT", f"{path}/enabled", {"enabled": False})
    assert await alice.request("GET", f"{path}/enabled") == {"enabled": False}
    await alice.request("PUT", f"{path}/actions", {"actions": ["notify", {"set_tweak": "highlight"}]})
    assert await alice.request("GET", f"{path}/actions") == {"actions": ["notify", {"set_tweak": "highlight"}]}
    rule = await alice.request("GET", path)
    assert rule["default"] is True and rule["enabled"] is False


async def test_push_rule_errors(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    rule = {"actions": ["notify"]}
    cases = [
        ("GET", f"{RULES}/override/nope", None, 404, "M_NOT_FOUND"),
        ("GET", f"{RULES}/override/nope/enabled", None, 404, "M_NOT_FOUND"),
        ("PUT", f"{RULES}/override/nope/actions", {"actions": []}, 404, "M_NOT_FOUND"),
        ("DELETE", f"{RULES}/override/nope", None, 404, "M_NOT_FOUND"),
        ("GET", f"{RULES}/bogus/x", None, 400, "M_INVALID_PARAM"),
        ("PUT", f"{RULES}/bogus/x", rule, 400, "M_INVALID_PARAM"),
        ("PUT", f"{RULES}/override/.mine", rule, 400, "M_INVALID_PARAM"),
        ("DELETE", f"{RULES}/underride/.m.rule.message", None, 400, "M_INVALID_PARAM"),
        ("PUT", f"{RULES}/override/x", {"conditions": []}, 400, "M_MISSING_PARAM"),
        ("PUT", f"{RULES}/override/x", {"actions": "notify"}, 400, "M_BAD_JSON"),
        ("PUT", f"{RULES}/content/x", rule, 400, "M_MISSING_PARAM"),
        ("PUT", f"{RULES}/override/.m.rule.message/enabled", {"enabled": "yes"}, 400, "M_BAD_JSON"),
        ("PUT", f"{RULES}/underride/.m.rule.message/enabled", {}, 400, "M_MISSING_PARAM"),
    ]
    for method, path, body, status, errcode in cases:
        got_status, got = await alice.status_of(method, path, body=body)
        assert (got_status, got.get("errcode")) == (status, errcode), (method, path, got)
    err = await put_rule(alice, "override", "x", rule, expect=400, before="missing")
    assert err["errcode"] == "M_UNKNOWN"  # spec: pushrules.yaml 400 example
    status, _ = await alice.status_of("PUT", f"{RULES}/override/x", raw=b"not json")
    assert status == 400


async def test_push_rules_appear_in_initial_sync_and_changes_in_incremental_sync(
    homeserver: RunningHomeserver,
) -> None:
    alice = await homeserver.register("alice")
    initial = await alice.sync()
    content = push_rules_event(initial)
    assert content is not None
    assert ids(content["global"], "override")[0] == ".m.rule.master"
    await alice.request("PUT", f"{RULES}/underride/.m.rule.message/enabled", {"enabled": False})
    response, _ = await sync_until(alice, initial["next_batch"], lambda r: push_rules_event(r) is not None)
    changed = push_rules_event(response)
    assert changed is not None
    message = next(r for r in changed["global"]["underride"] if r["rule_id"] == ".m.rule.message")
    assert message["enabled"] is False
    # After a change, a fresh initial sync carries the stored rules exactly once.
    again = push_rules_event(await alice.sync())
    assert again == changed


async def test_m_push_rules_cannot_be_set_as_account_data(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    status, body = await alice.status_of(
        "PUT", f"{V3}/user/{q(alice.user_id or '')}/account_data/m.push_rules", body={"global": {}}
    )
    assert status == 405 and body["errcode"] == "M_BAD_JSON"


PUSHER = {
    "kind": "http",
    "app_id": "org.example.app",
    "pushkey": "key-1",
    "app_display_name": "Example",
    "device_display_name": "Phone",
    "lang": "en",
    "data": {"url": "https://push.example.org/_matrix/push/v1/notify", "format": "event_id_only"},
}


async def test_pusher_set_list_and_delete(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    assert await alice.request("GET", f"{V3}/pushers") == {"pushers": []}
    await alice.request("POST", f"{V3}/pushers/set", PUSHER)
    listed = (await alice.request("GET", f"{V3}/pushers"))["pushers"]
    assert listed == [{k: v for k, v in PUSHER.items()}]
    await alice.request("POST", f"{V3}/pushers/set", {**PUSHER, "lang": "de"})
    assert [p["lang"] for p in (await alice.request("GET", f"{V3}/pushers"))["pushers"]] == ["de"]
    await alice.request("POST", f"{V3}/pushers/set", {"kind": None, "app_id": "org.example.app",
                                                       "pushkey": "key-1"})
    assert await alice.request("GET", f"{V3}/pushers") == {"pushers": []}


async def test_pusher_without_append_replaces_other_users_pusher(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    await alice.request("POST", f"{V3}/pushers/set", PUSHER)
    await bob.request("POST", f"{V3}/pushers/set", {**PUSHER, "append": True})
    assert len((await alice.request("GET", f"{V3}/pushers"))["pushers"]) == 1
    await bob.request("POST", f"{V3}/pushers/set", PUSHER)
    assert (await alice.request("GET", f"{V3}/pushers"))["pushers"] == []
    assert len((await bob.request("GET", f"{V3}/pushers"))["pushers"]) == 1


async def test_pusher_validation(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    cases = [
        ({k: v for k, v in PUSHER.items() if k != "lang"}, "M_MISSING_PARAM"),
        ({k: v for k, v in PUSHER.items() if k != "pushkey"}, "M_MISSING_PARAM"),
        ({**PUSHER, "data": {}}, "M_MISSING_PARAM"),
        ({**PUSHER, "data": {"url": "https://push.example.org/notify"}}, "M_INVALID_PARAM"),
        ({**PUSHER, "data": {"url": "not a url"}}, "M_INVALID_PARAM"),
        ({**PUSHER, "kind": "carrier-pigeon"}, "M_INVALID_PARAM"),
        ({**PUSHER, "app_id": "x" * 65}, "M_INVALID_PARAM"),
        ({**PUSHER, "data": "url"}, "M_BAD_JSON"),
    ]
    for body, errcode in cases:
        status, got = await alice.status_of("POST", f"{V3}/pushers/set", body=body)
        assert (status, got.get("errcode")) == (400, errcode), (body, got)
    assert await alice.request("GET", f"{V3}/pushers") == {"pushers": []}


async def test_wrong_types_in_push_bodies_are_client_errors(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    wrong_values: list[Any] = [None, 1, True, "s", [], {}, [1], [{}], {"kind": 1}]
    targets = [
        ("PUT", f"{RULES}/override/x", ["actions", "conditions"]),
        ("PUT", f"{RULES}/content/x", ["actions", "pattern"]),
        ("PUT", f"{RULES}/underride/.m.rule.message/enabled", ["enabled"]),
        ("PUT", f"{RULES}/underride/.m.rule.message/actions", ["actions"]),
        ("POST", f"{V3}/pushers/set", list(PUSHER) + ["append", "profile_tag"]),
    ]
    base = {"actions": ["notify"], "conditions": [], "pattern": "p", "enabled": True, **PUSHER}
    for method, path, fields in targets:
        for field in fields:
            for value in wrong_values:
                status, body = await alice.status_of(method, path, body={**base, field: value})
                assert status < 500, (path, field, value, body)
                if status != 200:
                    assert body["errcode"].startswith("M_"), body
    await alice.request("DELETE", f"{RULES}/override/x")  # stored above, with no conditions: matches all
    # Odd but well-formed conditions are stored and simply never match.
    odd = [{"kind": "event_match", "key": 1, "pattern": []}, {"kind": "room_member_count", "is": 2},
           {"kind": "event_property_is", "key": "content.body", "value": {"x": 1}}]
    await put_rule(alice, "override", "odd", {"actions": ["notify"], "conditions": odd})
    bob = await homeserver.register("bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    await bob.send(room_id, "still fine")
    response = await alice.sync()
    assert response["rooms"]["join"][room_id]["unread_notifications"]["notification_count"] == 1


async def test_password_change_drops_pushers_of_other_sessions_only(homeserver: RunningHomeserver) -> None:
    # Complement: TestChangePasswordPushers.
    alice = await homeserver.register("alice")
    other = homeserver.api()
    await other.login("alice")
    await alice.request("POST", f"{V3}/pushers/set", PUSHER)
    await other.request("POST", f"{V3}/pushers/set", {**PUSHER, "pushkey": "key-2"})
    assert len((await alice.request("GET", f"{V3}/pushers"))["pushers"]) == 2
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "correct horse"}
    await alice.request("POST", f"{V3}/account/password", {"new_password": "new password", "auth": auth})
    pushers = (await alice.request("GET", f"{V3}/pushers"))["pushers"]
    assert [p["pushkey"] for p in pushers] == ["key-1"]
