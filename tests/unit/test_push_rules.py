"""The push rule evaluator: conditions, glob semantics, dotted paths, default rule order.

spec: client-server-api/modules/push.md ("Conditions", "Predefined Rules");
appendices.md ("Glob-style matching", "Dot-separated property paths").
"""

from __future__ import annotations

from typing import Any

import pytest

from homeserver.core.push.defaults import default_rules
from homeserver.core.push.rules import (
    EventContext,
    PushRule,
    canonical_path,
    clean_actions,
    condition_matches,
    evaluate,
    flatten_event,
    glob_matches,
    highlight_of,
    member_count_matches,
    split_dotted_path,
)
from homeserver.core.push.ruleset import UserPushRules

ALICE = "@alice:example.org"
BOB = "@bob:example.org"
ROOM = "!room:example.org"


def context(event: dict[str, Any], *, members: int = 3, sender_level: int = 0,
            power_levels: dict[str, Any] | None = None) -> EventContext:
    full = {"room_id": ROOM, "sender": BOB, **event}
    content = full.get("content", {})
    return EventContext(
        flattened=flatten_event(full),
        room_member_count=members,
        sender_power_level=sender_level,
        power_levels=power_levels,
        has_mentions=isinstance(content, dict) and "m.mentions" in content,
    )


def message(body: Any, **content: Any) -> dict[str, Any]:
    return {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body, **content}}


def matches(condition: dict[str, Any], event: dict[str, Any], display_name: str | None = None,
            **ctx: Any) -> bool:
    return condition_matches(condition, context(event, **ctx), ALICE, display_name)


# --- dotted paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("content.body", ["content", "body"]),
        ("content.m\\.relates_to.rel_type", ["content", "m.relates_to", "rel_type"]),
        ("content.m\\\\foo", ["content", "m\\foo"]),
        ("content.m\\xfoo", ["content", "m\\xfoo"]),  # other escapes stay literal
        ("type", ["type"]),
        ("a..b", ["a", "", "b"]),
    ],
)
def test_split_dotted_path(path: str, parts: list[str]) -> None:
    assert split_dotted_path(path) == parts


def test_flatten_escapes_dots_and_backslashes_in_keys() -> None:
    flat = flatten_event({"content": {"m.mentions": {"user_ids": [ALICE]}, "a\\b": "x", "n": 1}})
    assert flat == {"content.m\\.mentions.user_ids": [ALICE], "content.a\\\\b": "x", "content.n": 1}


def test_redundant_escape_finds_the_same_property() -> None:
    # "\x" is a literal backslash and x; re-escaping it canonically finds "m\x".
    assert canonical_path("content.m\\x") == "content.m\\\\x"
    assert matches({"kind": "event_match", "key": "content.m\\x", "pattern": "y"},
                   {"type": "t", "content": {"m\\x": "y"}})


# --- glob semantics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "value", "expected"),
    [
        ("lunc?*", "Lunch plans", True),
        ("lunc?*", "LUNCH", True),
        ("lunc?*", " lunch", False),  # leading space: the whole value must match
        ("lunc?*", "lunc", False),  # ? needs one character
        ("m.room.*", "m.room.message", True),
        ("m.room.*", "m_room_message", False),  # '.' is literal
        ("*", "", True),
        ("a[b]c", "a[b]c", True),  # no character classes
        ("a[b]c", "abc", False),
    ],
)
def test_glob_matches_whole_value(glob: str, value: str, expected: bool) -> None:
    assert glob_matches(glob, value) is expected


@pytest.mark.parametrize(
    ("glob", "body", "expected"),
    [
        ("ex*ple", "An example event.", True),
        ("ex*ple", "exple", True),
        ("ex*ple", "An exciting triple-whammy", True),
        ("cake", "I like cake!", True),
        ("cake", "I like cakes", False),  # must end at a word boundary
        ("cake", "pancake", False),  # must start at a word boundary
        ("cake", "cake_eater", False),  # '_' is a word character
        ("bob", "hey @bob:example.org look", True),
        ("bob", "BOB?", True),
    ],
)
def test_body_glob_matches_between_word_boundaries(glob: str, body: str, expected: bool) -> None:
    assert glob_matches(glob, body, word_boundary=True) is expected


# --- conditions -------------------------------------------------------------------------


def test_event_match_on_body_uses_word_boundaries() -> None:
    cond = {"kind": "event_match", "key": "content.body", "pattern": "cake"}
    assert matches(cond, message("more cake please"))
    assert not matches(cond, message("cakes"))


def test_event_match_needs_a_string_value() -> None:
    cond = {"kind": "event_match", "key": "content.topic", "pattern": "*"}
    assert not matches(cond, {"type": "m.room.topic", "content": {"topic": None}})
    assert not matches(cond, {"type": "m.room.topic", "content": {}})
    assert matches(cond, {"type": "m.room.topic", "content": {"topic": ""}})


def test_event_property_is_matches_exact_scalars_without_casting() -> None:
    cond = {"kind": "event_property_is", "key": "content.m\\.federate", "value": True}
    assert matches(cond, {"type": "m.room.create", "content": {"m.federate": True}})
    assert not matches(cond, {"type": "m.room.create", "content": {"m.federate": "true"}})
    assert not matches(cond, {"type": "m.room.create", "content": {"m.federate": 1}})
    one = {"kind": "event_property_is", "key": "content.n", "value": 1}
    assert not matches(one, {"type": "t", "content": {"n": True}})
    null = {"kind": "event_property_is", "key": "content.n", "value": None}
    assert matches(null, {"type": "t", "content": {"n": None}})
    assert not matches(null, {"type": "t", "content": {}})


def test_event_property_contains_matches_array_members_exactly() -> None:
    cond = {"kind": "event_property_contains", "key": "content.alt_aliases", "value": "#myroom:example.com"}
    event = {"type": "m.room.canonical_alias",
             "content": {"alt_aliases": ["#somewhere:example.org", "#myroom:example.com"]}}
    assert matches(cond, event)
    partial = {"kind": "event_property_contains", "key": "content.alt_aliases", "value": ":example.com"}
    assert not matches(partial, event)
    not_array = {"type": "t", "content": {"alt_aliases": "#myroom:example.com"}}
    assert not matches(cond, not_array)


def test_contains_display_name() -> None:
    cond = {"kind": "contains_display_name"}
    assert matches(cond, message("hi Alice!"), "Alice")
    assert not matches(cond, message("Alicea"), "Alice")
    assert not matches(cond, message("hi Alice"), None)
    assert not matches(cond, message("hi Alice"), "")
    assert matches(cond, message("ping a.b*c"), "a.b*c")  # the name is literal, not a glob


@pytest.mark.parametrize(
    ("is_", "count", "expected"),
    [("2", 2, True), ("==2", 3, False), ("<10", 9, True), ("<10", 10, False), (">2", 3, True),
     (">=3", 3, True), ("<=3", 4, False), ("abc", 2, False), ("=2", 2, False), (2, 2, False)],
)
def test_room_member_count(is_: Any, count: int, expected: bool) -> None:
    assert member_count_matches(is_, count) is expected


def test_sender_notification_permission_uses_power_levels() -> None:
    cond = {"kind": "sender_notification_permission", "key": "room"}
    assert not matches(cond, message("x"), sender_level=0)
    assert matches(cond, message("x"), sender_level=50)  # default notifications.room is 50
    levels = {"notifications": {"room": 10}}
    assert matches(cond, message("x"), sender_level=10, power_levels=levels)


def test_unknown_condition_never_matches() -> None:
    assert not matches({"kind": "org.example.future"}, message("x"))
    assert not matches({"kind": "event_match", "key": "content.body"}, message("x"))  # no pattern


# --- actions --------------------------------------------------------------------------------


def test_historical_actions_are_ignored() -> None:
    assert clean_actions(["dont_notify"]) == []
    assert clean_actions(["notify", "coalesce"]) == ["notify"]


def test_highlight_tweak_without_value_is_true() -> None:
    assert highlight_of([{"set_tweak": "highlight"}])
    assert not highlight_of([{"set_tweak": "highlight", "value": False}])
    assert not highlight_of(["notify", {"set_tweak": "sound", "value": "default"}])


# --- default rules --------------------------------------------------------------------------


def test_default_rule_order_matches_the_spec() -> None:
    ordered = [(r.kind, r.rule_id) for r in UserPushRules().ordered(ALICE)]
    assert ordered == [
        ("override", ".m.rule.master"),
        ("override", ".m.rule.suppress_notices"),
        ("override", ".m.rule.invite_for_me"),
        ("override", ".m.rule.member_event"),
        ("override", ".m.rule.is_user_mention"),
        ("override", ".m.rule.contains_display_name"),
        ("override", ".m.rule.is_room_mention"),
        ("override", ".m.rule.roomnotif"),
        ("override", ".m.rule.tombstone"),
        ("override", ".m.rule.reaction"),
        ("override", ".m.rule.room.server_acl"),
        ("override", ".m.rule.suppress_edits"),
        ("content", ".m.rule.contains_user_name"),
        ("underride", ".m.rule.call"),
        ("underride", ".m.rule.encrypted_room_one_to_one"),
        ("underride", ".m.rule.room_one_to_one"),
        ("underride", ".m.rule.message"),
        ("underride", ".m.rule.encrypted"),
    ]


def test_master_rule_is_disabled_by_default_and_outranks_user_overrides() -> None:
    rules = UserPushRules()
    rules.put("override", "mine", {"actions": ["notify"], "conditions": []}, None, None)
    ordered = rules.ordered(ALICE)
    assert [r.rule_id for r in ordered[:3]] == [".m.rule.master", "mine", ".m.rule.suppress_notices"]
    assert ordered[0].enabled is False


def test_defaults_are_personal() -> None:
    defaults = default_rules(ALICE)
    assert defaults["content"][0].pattern == "alice"
    invite = next(r for r in defaults["override"] if r.rule_id == ".m.rule.invite_for_me")
    assert {"kind": "event_match", "key": "state_key", "pattern": ALICE} in invite.conditions


def outcome_for(event: dict[str, Any], display_name: str | None = "Alice Liddell", rules: list[PushRule] | None = None,
                **ctx: Any) -> tuple[str | None, bool, bool]:
    result = evaluate(rules or UserPushRules().ordered(ALICE), context(event, **ctx), ALICE, display_name)
    return (result.rule.rule_id if result.rule else None), result.notify, result.highlight


@pytest.mark.parametrize(
    ("event", "members", "expected"),
    [
        (message("hello"), 3, (".m.rule.message", True, False)),
        (message("hello"), 2, (".m.rule.room_one_to_one", True, False)),
        (message("notice", msgtype="m.notice"), 3, (".m.rule.suppress_notices", False, False)),
        (message("hi", **{"m.mentions": {"user_ids": [ALICE]}}), 3, (".m.rule.is_user_mention", True, True)),
        (message("hi alice liddell!"), 3, (".m.rule.contains_display_name", True, True)),
        # m.mentions present: the legacy body rules are skipped (spec: modules/mentions.md).
        (message("hi Alice Liddell", **{"m.mentions": {}}), 3, (".m.rule.message", True, False)),
        (message("hey @alice:example.org"), 3, (".m.rule.contains_user_name", True, True)),
        (message("x", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$e"}}), 3,
         (".m.rule.suppress_edits", False, False)),
        ({"type": "m.reaction", "content": {}}, 3, (".m.rule.reaction", False, False)),
        ({"type": "m.room.encrypted", "content": {}}, 2, (".m.rule.encrypted_room_one_to_one", True, False)),
        ({"type": "m.room.encrypted", "content": {}}, 5, (".m.rule.encrypted", True, False)),
        ({"type": "m.call.invite", "content": {}}, 5, (".m.rule.call", True, False)),
        ({"type": "m.room.tombstone", "state_key": "", "content": {}}, 5, (".m.rule.tombstone", True, True)),
        ({"type": "m.room.member", "state_key": ALICE, "content": {"membership": "invite"}}, 5,
         (".m.rule.invite_for_me", True, False)),
        ({"type": "m.room.member", "state_key": BOB, "content": {"membership": "join"}}, 5,
         (".m.rule.member_event", False, False)),
        ({"type": "m.room.topic", "state_key": "", "content": {"topic": "t"}}, 5, (None, False, False)),
    ],
)
def test_default_rules_outcomes(event: dict[str, Any], members: int, expected: tuple[str | None, bool, bool]) -> None:
    assert outcome_for(event, members=members) == expected


def test_room_mention_needs_permission() -> None:
    event = message("everyone", **{"m.mentions": {"room": True}})
    assert outcome_for(event, sender_level=50) == (".m.rule.is_room_mention", True, True)
    assert outcome_for(event, sender_level=0) == (".m.rule.message", True, False)
    assert outcome_for(message("@room hi"), sender_level=100) == (".m.rule.roomnotif", True, True)


def test_disabled_rule_never_matches() -> None:
    rules = UserPushRules()
    rules.set_enabled(ALICE, "underride", ".m.rule.message", False)
    assert outcome_for(message("hello"), rules=rules.ordered(ALICE)) == (None, False, False)


def test_user_room_and_sender_rules() -> None:
    rules = UserPushRules()
    rules.put("room", ROOM, {"actions": []}, None, None)
    assert outcome_for(message("hello"), rules=rules.ordered(ALICE)) == (ROOM, False, False)
    rules = UserPushRules()
    rules.put("sender", BOB, {"actions": ["notify", {"set_tweak": "highlight"}]}, None, None)
    assert outcome_for(message("hello"), rules=rules.ordered(ALICE)) == (BOB, True, True)


def test_user_content_rule_matches_pattern_in_body() -> None:
    rules = UserPushRules()
    rules.put("content", "cake", {"pattern": "cake*lie", "actions": ["notify", {"set_tweak": "highlight"}]},
              None, None)
    assert outcome_for(message("the cake is a lie"), rules=rules.ordered(ALICE)) == ("cake", True, True)
