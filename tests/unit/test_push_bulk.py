"""Bulk push rule evaluation (push_bulk.py) gives exactly the answers of ``evaluate``.

spec: client-server-api/modules/push.md, "Push Rules", "Conditions", "Predefined Rules".
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeserver.core.push.bulk import (
    TEMPLATE_USER,
    BodyWords,
    CompiledRuleset,
    RoomEvaluation,
    compile_ruleset,
    default_template,
    localpart_of,
)
from homeserver.core.push.glob import contains_word, glob_matches
from homeserver.core.push.rules import EventContext, evaluate, flatten_event
from homeserver.core.push.ruleset import UserPushRules

ROOM = "!room:example.org"
LOCALPARTS = ["alice", "bob", "carol", "al", "dave_2", "x.y", "émile"]
USERS = [f"@{name}:example.org" for name in LOCALPARTS] + ["@alice:other.org"]
DISPLAY_NAMES = [None, "", "Alice", "alice", "Bob Smith", "Émile", "al!", "x.y", "K", "dave_2"]
WORDS = ["hello", "alice", "Alice", "@room", "bob", "Bob Smith", "al", "x.y", "émile", "ÉMILE",
         "dave_2", "k", "\u212a", "@alice:example.org", "!", " ", "smith"]


def context(event: dict[str, Any], members: int, sender_level: int,
            power_levels: dict[str, Any] | None) -> EventContext:
    content = event.get("content", {})
    return EventContext(
        flattened=flatten_event(event),
        room_member_count=members,
        sender_power_level=sender_level,
        power_levels=power_levels,
        has_mentions=isinstance(content, dict) and "m.mentions" in content,
    )


# --- strategies -----------------------------------------------------------------------

bodies = st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join) | st.text(max_size=12) | st.just(5)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(st.sampled_from(
        ["m.room.message", "m.room.member", "m.room.encrypted", "m.reaction", "m.room.tombstone",
         "m.call.invite", "org.example.custom"]))
    content: dict[str, Any] = {}
    if draw(st.booleans()):
        content["body"] = draw(bodies)
    if draw(st.booleans()):
        content["msgtype"] = draw(st.sampled_from(["m.text", "m.notice"]))
    if event_type == "m.room.member":
        content["membership"] = draw(st.sampled_from(["invite", "join", "leave"]))
    if draw(st.booleans()):
        mentions: dict[str, Any] = {}
        if draw(st.booleans()):
            mentions["user_ids"] = draw(st.lists(st.sampled_from([*USERS, 7, None]), max_size=3))
        if draw(st.booleans()):
            mentions["room"] = draw(st.sampled_from([True, False, 1]))
        content["m.mentions"] = mentions
    if draw(st.booleans()):
        content["m.relates_to"] = {"rel_type": draw(st.sampled_from(["m.replace", "m.thread"]))}
    event: dict[str, Any] = {"type": event_type, "room_id": ROOM,
                             "sender": draw(st.sampled_from(USERS)), "content": content}
    if event_type in ("m.room.member", "m.room.tombstone") or draw(st.booleans()):
        event["state_key"] = draw(st.sampled_from([*USERS, ""]))
    return event


def conditions_for(user_id: str) -> st.SearchStrategy[dict[str, Any]]:
    localpart = localpart_of(user_id)
    patterns = st.sampled_from([user_id, localpart, "m.room.message", "m.room.*", "*", "al?ce", "hello",
                                "*alice*", "@room", "Alice", "invite", USERS[1], "m.notice"])
    keys = st.sampled_from(["type", "sender", "state_key", "content.body", "content.msgtype",
                            "content.membership", "content.m\\.mentions.user_ids",
                            "content.m\\.mentions.room", "content.m\\.relates_to.rel_type", "room_id"])
    values = st.sampled_from([user_id, localpart, True, 1, None, "m.replace", "m.room.message", USERS[1]])
    return st.one_of(
        st.builds(lambda k, p: {"kind": "event_match", "key": k, "pattern": p}, keys, patterns),
        st.builds(lambda k, v: {"kind": "event_property_is", "key": k, "value": v}, keys, values),
        st.builds(lambda k, v: {"kind": "event_property_contains", "key": k, "value": v}, keys, values),
        st.just({"kind": "contains_display_name"}),
        st.builds(lambda n: {"kind": "room_member_count", "is": n},
                  st.sampled_from(["2", ">2", "<=3", "==5", "bad"])),
        st.builds(lambda k: {"kind": "sender_notification_permission", "key": k},
                  st.sampled_from(["room", "other"])),
        st.just({"kind": "event_match", "key": "type"}),  # no pattern: never matches
        st.just({"kind": "org.example.unknown"}),
    )


actions = st.sampled_from([["notify"], [], ["notify", {"set_tweak": "highlight"}], ["dont_notify"],
                           ["notify", {"set_tweak": "highlight", "value": False}], ["coalesce", "notify"]])


@st.composite
def user_rules(draw: st.DrawFn, user_id: str) -> UserPushRules:
    rules = UserPushRules()
    for index in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["override", "underride", "content", "room", "sender"]))
        body: dict[str, Any] = {"actions": draw(actions)}
        rule_id = f"rule{index}"
        if kind in ("override", "underride"):
            body["conditions"] = draw(st.lists(conditions_for(user_id), max_size=3))
        elif kind == "content":
            body["pattern"] = draw(st.sampled_from([localpart_of(user_id), "hello", "al*", "?ob", "Alice"]))
        else:
            rule_id = ROOM if kind == "room" else draw(st.sampled_from(USERS))
        rules.put(kind, rule_id, body, None, None)
    defaults = [("override", ".m.rule.master"), ("override", ".m.rule.contains_display_name"),
                ("content", ".m.rule.contains_user_name"), ("underride", ".m.rule.message"),
                ("override", ".m.rule.is_user_mention"), ("override", ".m.rule.suppress_notices")]
    for kind, rule_id in draw(st.lists(st.sampled_from(defaults), max_size=2)):
        if draw(st.booleans()):
            rules.set_enabled(user_id, kind, rule_id, draw(st.booleans()))
        else:
            rules.set_actions(user_id, kind, rule_id, tuple(draw(actions)))
    return rules


@st.composite
def members(draw: st.DrawFn) -> list[tuple[str, str | None, UserPushRules | None]]:
    chosen = draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=len(USERS), unique=True))
    out = []
    for user_id in chosen:
        rules = draw(st.none() | user_rules(user_id))  # None: the user kept the defaults
        out.append((user_id, draw(st.sampled_from(DISPLAY_NAMES)), rules))
    return out


# --- properties -----------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(event=events(), room_members=members(), member_count=st.integers(1, 6),
       sender_level=st.sampled_from([0, 50, 100]),
       power_levels=st.sampled_from([None, {"notifications": {"room": 100}}, {"notifications": {"room": 0}}]))
def test_bulk_evaluation_agrees_with_plain_evaluator(
    event: dict[str, Any], room_members: list[tuple[str, str | None, UserPushRules | None]],
    member_count: int, sender_level: int, power_levels: dict[str, Any] | None,
) -> None:
    ctx = context(event, member_count, sender_level, power_levels)
    evaluation = RoomEvaluation(ctx)  # shared by all members, as in the persist listener
    for user_id, display_name, rules in room_members:
        ordered = (rules or UserPushRules()).ordered(user_id)
        expected = evaluate(ordered, ctx, user_id, display_name)
        compiled = default_template() if rules is None else compile_ruleset(ordered, user_id)
        prepared = evaluation.prepare(compiled)
        # As the persist listener does: the display name is looked up only when it can matter.
        found = prepared.first_match(user_id, display_name if prepared.needs_display_name else None)
        if expected.rule is None:
            assert found is None
            continue
        assert found is not None
        assert found.rule.rule_id == expected.rule.rule_id
        assert list(found.actions) == expected.actions
        assert (found.notify, found.highlight) == (expected.notify, expected.highlight)
        if expected.notify:
            assert prepared.can_notify


@given(body=st.text(max_size=20) | st.lists(st.sampled_from(WORDS), max_size=5).map(" ".join),
       word=st.sampled_from(WORDS) | st.text(max_size=5))
def test_body_words_agree_with_contains_word_and_glob(body: str, word: str) -> None:
    words = BodyWords(body)
    assert words.contains(word) == contains_word(body, word)
    assert words.glob(word) == glob_matches(word, body, word_boundary=True)


# --- tables -----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "word", "found"), [
    ("hello alice!", "Alice", True),
    ("malice", "alice", False),
    ("xémile", "mile", True),  # only ASCII letters, digits and _ are word characters
    ("café", "caf", True),
    ("dave_2 here", "dave", False),
    ("Bob Smith says hi", "bob smith", True),
    ("\u212a", "k", True),  # KELVIN SIGN lower-cases to k
    ("at @room now", "@room", True),
])
def test_body_words_table(body: str, word: str, found: bool) -> None:
    assert contains_word(body, word) is found
    assert BodyWords(body).contains(word) is found


def test_default_template_is_every_default_users_ruleset() -> None:
    """The template's member checks stand exactly where the defaults use the user's IDs."""
    template = default_template()
    assert isinstance(template, CompiledRuleset)
    member_dependent = {r.rule.rule_id: [c.param for c in r.member_checks]
                        for r in template.rules if r.member_checks}
    assert member_dependent == {
        ".m.rule.invite_for_me": ["user_id"],
        ".m.rule.is_user_mention": ["user_id"],
        ".m.rule.contains_display_name": ["display_name"],
        ".m.rule.contains_user_name": ["localpart"],
    }
    assert [r.rule.rule_id for r in template.rules] == [
        r.rule_id for r in UserPushRules().ordered(TEMPLATE_USER) if r.enabled]


def test_reaction_cannot_notify_default_members() -> None:
    ctx = context({"type": "m.reaction", "room_id": ROOM, "sender": USERS[1], "content": {}}, 50, 0, None)
    prepared = RoomEvaluation(ctx).prepare(default_template())
    assert not prepared.can_notify


def test_plain_message_leaves_only_name_checks_before_message_rule() -> None:
    event = {"type": "m.room.message", "room_id": ROOM, "sender": USERS[1],
             "content": {"msgtype": "m.text", "body": "hello Alice"}}
    prepared = RoomEvaluation(context(event, 50, 0, None)).prepare(default_template())
    assert [r.rule.rule_id for r, _ in prepared.candidates] == [
        ".m.rule.contains_display_name", ".m.rule.contains_user_name", ".m.rule.message"]
    highlighted = prepared.first_match("@alice:example.org", None)
    plain = prepared.first_match("@carol:example.org", "Carol")
    assert highlighted is not None and highlighted.highlight
    assert plain is not None and plain.rule.rule_id == ".m.rule.message" and not plain.highlight


def test_mention_of_one_member_highlights_only_them() -> None:
    event = {"type": "m.room.message", "room_id": ROOM, "sender": USERS[1],
             "content": {"body": "hi carol", "m.mentions": {"user_ids": [USERS[2]]}}}
    prepared = RoomEvaluation(context(event, 50, 0, None)).prepare(default_template())
    carol, alice = prepared.first_match(USERS[2], "carol"), prepared.first_match(USERS[0], "carol")
    assert carol is not None and carol.rule.rule_id == ".m.rule.is_user_mention"
    # m.mentions present: the legacy body rules are skipped, so the name in the body does not count.
    assert alice is not None and alice.rule.rule_id == ".m.rule.message" and not alice.highlight


def test_event_checks_are_shared_between_rulesets() -> None:
    event = {"type": "m.room.message", "room_id": ROOM, "sender": USERS[1], "content": {"body": "x"}}
    evaluation = RoomEvaluation(context(event, 50, 0, None))
    first = evaluation.prepare(default_template())
    assert evaluation.prepare(default_template()) is first
    custom = compile_ruleset(UserPushRules().ordered(USERS[0]), USERS[0])
    evaluation.prepare(custom)
    # Same default conditions: no new event checks were computed for the second ruleset.
    checked = dict(evaluation._event_checks)
    evaluation.prepare(compile_ruleset(UserPushRules().ordered(USERS[2]), USERS[2]))
    assert evaluation._event_checks == checked
