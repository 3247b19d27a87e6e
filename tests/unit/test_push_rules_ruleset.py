"""Editing a user's push rules: before/after ordering, reserved IDs, defaults (spec: pushrules.yaml)."""

from __future__ import annotations

import pytest

from homeserver.core.push.ruleset import MAX_CONDITIONS, MAX_USER_RULES, UserPushRules
from homeserver.errors import MatrixError

ALICE = "@alice:example.org"


def own_ids(rules: UserPushRules, kind: str = "override") -> list[str]:
    return [r.rule_id for r in rules.custom[kind]]


def put(rules: UserPushRules, rule_id: str, before: str | None = None, after: str | None = None,
        kind: str = "override") -> None:
    rules.put(kind, rule_id, {"actions": ["notify"], "conditions": []}, before, after)


def test_new_rule_is_the_most_important_user_rule() -> None:
    rules = UserPushRules()
    put(rules, "a")
    put(rules, "b")
    assert own_ids(rules) == ["b", "a"]


def test_before_and_after_place_the_rule() -> None:
    rules = UserPushRules()
    put(rules, "a")
    put(rules, "c", after="a")
    put(rules, "b", before="c")
    assert own_ids(rules) == ["a", "b", "c"]


def test_before_wins_over_after() -> None:
    rules = UserPushRules()
    put(rules, "a")
    put(rules, "b", after="a")
    put(rules, "x", before="a", after="b")
    assert own_ids(rules) == ["x", "a", "b"]


def test_update_moves_only_when_asked() -> None:
    rules = UserPushRules()
    put(rules, "a")
    put(rules, "b", after="a")
    put(rules, "a")  # update in place
    assert own_ids(rules) == ["a", "b"]
    put(rules, "a", after="b")
    assert own_ids(rules) == ["b", "a"]


def test_unknown_anchor_is_400() -> None:
    rules = UserPushRules()
    with pytest.raises(MatrixError) as err:
        put(rules, "a", before="nope")
    assert err.value.status == 400


def test_anchor_on_server_default_rule_is_rejected() -> None:
    rules = UserPushRules()
    with pytest.raises(MatrixError) as err:
        put(rules, "a", after=".m.rule.message", kind="underride")
    assert err.value.errcode == "M_INVALID_PARAM"


@pytest.mark.parametrize("rule_id", [".mine", "a/b", "a\\b", ""])
def test_reserved_or_malformed_rule_ids_are_rejected(rule_id: str) -> None:
    with pytest.raises(MatrixError) as err:
        put(UserPushRules(), rule_id)
    assert (err.value.status, err.value.errcode) == (400, "M_INVALID_PARAM")


def test_unknown_kind_is_invalid_param() -> None:
    with pytest.raises(MatrixError) as err:
        put(UserPushRules(), "a", kind="global")
    assert err.value.errcode == "M_INVALID_PARAM"


def test_content_rule_needs_pattern() -> None:
    with pytest.raises(MatrixError) as err:
        UserPushRules().put("content", "c", {"actions": ["notify"]}, None, None)
    assert err.value.errcode == "M_MISSING_PARAM"


def test_unknown_action_is_rejected() -> None:
    with pytest.raises(MatrixError) as err:
        UserPushRules().put("override", "o", {"actions": ["explode"]}, None, None)
    assert err.value.status == 400


def test_server_default_rule_cannot_be_deleted_but_can_be_disabled() -> None:
    rules = UserPushRules()
    with pytest.raises(MatrixError) as err:
        rules.delete(ALICE, "underride", ".m.rule.message")
    assert err.value.status == 400
    rules.set_enabled(ALICE, "underride", ".m.rule.message", False)
    assert rules.find(ALICE, "underride", ".m.rule.message").enabled is False
    assert rules.find(ALICE, "underride", ".m.rule.message").default is True


def test_deleting_unknown_rule_is_not_found() -> None:
    with pytest.raises(MatrixError) as err:
        UserPushRules().delete(ALICE, "override", "nope")
    assert (err.value.status, err.value.errcode) == (404, "M_NOT_FOUND")


def test_actions_of_a_default_rule_can_change_and_survive_round_trip() -> None:
    rules = UserPushRules()
    rules.set_actions(ALICE, "underride", ".m.rule.message", ())
    put(rules, "a")
    again = UserPushRules.from_json(rules.to_json())
    assert again.find(ALICE, "underride", ".m.rule.message").actions == ()
    assert own_ids(again) == ["a"]


def test_ruleset_json_shapes_rules_by_kind() -> None:
    rules = UserPushRules()
    rules.put("room", "!r:example.org", {"actions": []}, None, None)
    rules.put("content", "c", {"actions": ["notify"], "pattern": "cake"}, None, None)
    ruleset = rules.ruleset_json(ALICE)
    assert ruleset["room"] == [{"rule_id": "!r:example.org", "default": False, "enabled": True, "actions": []}]
    assert ruleset["content"][0] == {"rule_id": "c", "default": False, "enabled": True, "actions": ["notify"],
                                     "pattern": "cake"}
    assert ruleset["override"][0]["rule_id"] == ".m.rule.master"
    assert "conditions" in ruleset["override"][0]


def test_room_upgrade_copies_rules_about_the_old_room() -> None:
    rules = UserPushRules()
    rules.put("room", "!old:example.org", {"actions": []}, None, None)
    rules.put("override", "quiet-!old:example.org", {"actions": [], "conditions": [
        {"kind": "event_match", "key": "room_id", "pattern": "!old:example.org"}]}, None, None)
    rules.put("override", "other", {"actions": [], "conditions": []}, None, None)
    assert rules.copy_room_rules("!old:example.org", "!new:example.org")
    assert own_ids(rules, "room") == ["!new:example.org", "!old:example.org"]
    assert own_ids(rules) == ["other", "quiet-!new:example.org", "quiet-!old:example.org"]
    copied = rules.find(ALICE, "override", "quiet-!new:example.org")
    assert copied.conditions[0]["pattern"] == "!new:example.org"
    assert not rules.copy_room_rules("!old:example.org", "!new:example.org")  # already there


def test_number_of_rules_and_conditions_is_bounded() -> None:
    rules = UserPushRules()
    for i in range(MAX_USER_RULES):
        put(rules, f"r{i}", kind="underride")
    with pytest.raises(MatrixError) as err:
        put(rules, "one-more")
    assert err.value.errcode == "M_INVALID_PARAM"
    put(rules, "r0", kind="underride")  # updating an existing rule is still fine
    many = [{"kind": "room_member_count", "is": "2"}] * (MAX_CONDITIONS + 1)
    with pytest.raises(MatrixError):
        UserPushRules().put("override", "x", {"actions": [], "conditions": many}, None, None)
