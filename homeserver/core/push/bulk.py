"""Push rules evaluated for every member of a room at once, with the same answers as ``evaluate``.

``push_rules.evaluate`` walks a member's whole ruleset for every member of the room. In a
room of 1,000 members that is 1,000 walks per event, yet nearly all members have the
server-default rules, which differ between users only in the user ID (``.m.rule.invite_for_me``,
``.m.rule.is_user_mention``), the localpart (``.m.rule.contains_user_name``) and the display
name (``.m.rule.contains_display_name``). So (Synapse's "bulk push rule evaluator", cheaper):

- A ruleset is compiled once (``compile_ruleset``): disabled and never-matching rules are
  dropped, actions cleaned, and each condition sorted into an *event check* (depends on the
  event and room only) or a *member check* (a pattern or value equal to the member's user ID
  or localpart, or ``contains_display_name``). Users who never changed a rule share one
  compiled template (``default_template``) whose member checks take the member's IDs.
- Per event (``RoomEvaluation.prepare``) each compiled ruleset is reduced once to its
  *candidates*: rules whose event checks hold, up to the first one without member checks
  (nothing after it can be reached). Event checks are memoised across rulesets by their
  content, so custom rulesets share the work too.
- Per member (``PreparedRuleset.first_match``) only the member checks of those candidates
  run, typically two set lookups (body words are split once per event). A ruleset whose
  candidates never notify skips its members outright.

spec: client-server-api/modules/push.md, "Push Rules", "Conditions", "Predefined Rules".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from homeserver.core.push.glob import contains_word, glob_matches
from homeserver.core.push.rules import (
    LEGACY_MENTION_RULES,
    EventContext,
    PushRule,
    canonical_path,
    clean_actions,
    condition_matches,
    highlight_of,
)

_BODY = "content.body"
_WORD_RUN = re.compile(r"[A-Za-z0-9_]+")  # push_glob's word characters

# A member check, ready for one event: (user_id, display_name) -> matches.
MemberPredicate = Callable[[str, str | None], bool]


@lru_cache(maxsize=65536)
def localpart_of(user_id: str) -> str:
    """As push_defaults derives ``.m.rule.contains_user_name``'s pattern."""
    return user_id[1:].split(":", 1)[0]


# --- compiling a ruleset -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberCheck:
    """A condition about the member: ``param`` ("user_id", "localpart" or "display_name")."""

    kind: str  # "event_match", "event_property_is", "event_property_contains", "contains_display_name"
    param: str
    path: str = ""  # canonical dotted path of the event property it reads


@dataclass(frozen=True, slots=True)
class Match:
    """The rule that matched for a member, with what it asks for."""

    rule: PushRule
    actions: tuple[Any, ...]  # historical actions removed
    notify: bool
    highlight: bool


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: PushRule
    event_checks: tuple[tuple[Hashable, Callable[[EventContext], bool]], ...]
    member_checks: tuple[MemberCheck, ...]
    legacy_mention: bool  # skipped for events that carry m.mentions
    match: Match  # built once: the answer for every member this rule matches

    @property
    def notify(self) -> bool:
        return self.match.notify


@dataclass(frozen=True, slots=True)
class CompiledRuleset:
    rules: tuple[CompiledRule, ...]


def _condition_key(condition: Mapping[str, Any]) -> Hashable:
    return ("condition", json.dumps(condition, sort_keys=True, default=repr))


def _member_param(value: Any, user_id: str, localpart: str) -> str | None:
    if isinstance(value, str):
        if value == user_id:
            return "user_id"
        if value == localpart:
            return "localpart"
    return None


def _compile_condition(
    condition: Mapping[str, Any], user_id: str, localpart: str
) -> tuple[Hashable, Callable[[EventContext], bool]] | MemberCheck:
    kind = condition.get("kind")
    if kind == "contains_display_name":
        return MemberCheck("contains_display_name", "display_name", _BODY)
    key = condition.get("key")
    if kind in ("event_match", "event_property_is", "event_property_contains") and isinstance(key, str):
        wanted = condition.get("pattern") if kind == "event_match" else condition.get("value", None)
        has_wanted = "pattern" in condition if kind == "event_match" else "value" in condition
        param = _member_param(wanted, user_id, localpart) if has_wanted else None
        if param is not None:
            return MemberCheck(kind, param, canonical_path(key))
    return _condition_key(condition), lambda ctx: condition_matches(condition, ctx, "", None)


def _compile_rule(rule: PushRule, user_id: str, localpart: str) -> CompiledRule | None:
    event_checks: list[tuple[Hashable, Callable[[EventContext], bool]]] = []
    member_checks: list[MemberCheck] = []
    if rule.kind == "content":
        pattern = rule.pattern
        if pattern is None:
            return None  # never matches
        param = _member_param(pattern, user_id, localpart)
        if param is not None:
            member_checks.append(MemberCheck("event_match", param, _BODY))
        else:
            event_checks.append((("content", pattern), lambda ctx: _body_glob(pattern, ctx)))
    elif rule.kind in ("room", "sender"):
        field_name, wanted = ("room_id" if rule.kind == "room" else "sender"), rule.rule_id
        event_checks.append(((rule.kind, wanted), lambda ctx: ctx.flattened.get(field_name) == wanted))
    else:
        for condition in rule.conditions:
            compiled = _compile_condition(condition, user_id, localpart)
            if isinstance(compiled, MemberCheck):
                member_checks.append(compiled)
            else:
                event_checks.append(compiled)
    actions = tuple(clean_actions(rule.actions))
    return CompiledRule(
        rule=rule,
        event_checks=tuple(event_checks),
        member_checks=tuple(member_checks),
        legacy_mention=rule.default and rule.rule_id in LEGACY_MENTION_RULES,
        match=Match(rule, actions, "notify" in actions, highlight_of(actions)),
    )


def _body_glob(pattern: str, ctx: EventContext) -> bool:
    body = ctx.flattened.get(_BODY)
    return isinstance(body, str) and glob_matches(pattern, body, word_boundary=True)


def compile_ruleset(rules: Sequence[PushRule], user_id: str) -> CompiledRuleset:
    """``rules`` in evaluation order (``UserPushRules.ordered(user_id)``), compiled.

    Conditions whose pattern or value is exactly ``user_id`` or its localpart become
    member checks, so a ruleset compiled for a placeholder user serves every user whose
    rules are that ruleset with their own IDs in place of the placeholder's.
    """
    localpart = localpart_of(user_id)
    compiled = (_compile_rule(rule, user_id, localpart) for rule in rules if rule.enabled)
    return CompiledRuleset(tuple(rule for rule in compiled if rule is not None))


# The placeholder the shared default ruleset is compiled for: no real user ID or
# localpart can contain NUL, so no other pattern or value can equal them by accident.
TEMPLATE_USER = "@\x00parley-default\x00:\x00"


@lru_cache(maxsize=1)
def default_template() -> CompiledRuleset:
    """The server-default rules compiled once for every user who never changed a rule."""
    from homeserver.core.push.ruleset import UserPushRules

    return compile_ruleset(UserPushRules().ordered(TEMPLATE_USER), TEMPLATE_USER)


# --- one event ---------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _as_word_run(word: str) -> str | None:
    """``word`` lower-cased if it is all word characters, else None (members' names recur).

    A needle of word characters only sits between boundaries exactly when it is a whole
    run of word characters in the (equally lower-cased) body.
    """
    needle = word.lower()
    if needle and needle.isascii() and _WORD_RUN.fullmatch(needle):
        return needle
    return None


@dataclass(slots=True)
class BodyWords:
    """``contains_word`` against one body for many words: word runs are split once."""

    body: str
    _runs: frozenset[str] | None = None

    def contains(self, word: str) -> bool:
        needle = _as_word_run(word)
        if needle is not None:
            if self._runs is None:
                self._runs = frozenset(_WORD_RUN.findall(self.body.lower()))
            return needle in self._runs
        return contains_word(self.body, word)

    def glob(self, pattern: str) -> bool:
        if "*" in pattern or "?" in pattern:
            return glob_matches(pattern, self.body, word_boundary=True)
        return self.contains(pattern)


@dataclass(frozen=True, slots=True)
class PreparedRuleset:
    """A ruleset reduced for one event: candidate rules and their member checks."""

    candidates: tuple[tuple[CompiledRule, tuple[MemberPredicate, ...]], ...]
    can_notify: bool
    needs_display_name: bool  # else first_match ignores the display name

    def first_match(self, user_id: str, display_name: str | None) -> Match | None:
        for rule, predicates in self.candidates:
            for predicate in predicates:
                if not predicate(user_id, display_name):
                    break
            else:
                return rule.match
        return None


@dataclass(slots=True)
class RoomEvaluation:
    """Push rule evaluation of one event for all the members of its room."""

    ctx: EventContext
    _event_checks: dict[Hashable, bool] = field(default_factory=dict)
    _prepared: dict[int, tuple[CompiledRuleset, PreparedRuleset]] = field(default_factory=dict)
    _body: BodyWords | None = None

    def _event_check(self, key: Hashable, check: Callable[[EventContext], bool]) -> bool:
        result = self._event_checks.get(key)
        if result is None:
            result = self._event_checks[key] = check(self.ctx)
        return result

    def prepare(self, ruleset: CompiledRuleset) -> PreparedRuleset:
        found = self._prepared.get(id(ruleset))
        if found is not None and found[0] is ruleset:
            return found[1]
        candidates: list[tuple[CompiledRule, tuple[MemberPredicate, ...]]] = []
        needs_display_name = False
        for rule in ruleset.rules:
            if rule.legacy_mention and self.ctx.has_mentions:
                continue
            if not all(self._event_check(key, check) for key, check in rule.event_checks):
                continue
            predicates: list[MemberPredicate] = []
            for member_check in rule.member_checks:
                predicate = self._member_predicate(member_check)
                if predicate is None:
                    break  # false for every member
                predicates.append(predicate)
            else:
                candidates.append((rule, tuple(predicates)))
                needs_display_name = needs_display_name or any(
                    c.param == "display_name" for c in rule.member_checks)
                if not predicates:
                    break  # matches everyone who gets this far: later rules are unreachable
        prepared = PreparedRuleset(
            tuple(candidates), any(rule.notify for rule, _ in candidates), needs_display_name)
        self._prepared[id(ruleset)] = (ruleset, prepared)
        return prepared

    def _member_predicate(self, check: MemberCheck) -> MemberPredicate | None:
        """The check as a function of the member, or None when it fails for every member."""
        value = self.ctx.flattened.get(check.path, _ABSENT)
        if check.kind == "contains_display_name":
            if not isinstance(value, str):
                return None
            words = self._body_words(value)
            return lambda user_id, name: bool(name) and words.contains(name)  # type: ignore[arg-type]
        by_localpart = check.param == "localpart"
        if check.kind == "event_match":
            if not isinstance(value, str):
                return None
            if check.path == _BODY:
                words = self._body_words(value)
                if by_localpart:
                    return lambda user_id, name: words.glob(localpart_of(user_id))
                return lambda user_id, name: words.glob(user_id)
            if by_localpart:
                return lambda user_id, name: glob_matches(localpart_of(user_id), value)
            return lambda user_id, name: glob_matches(user_id, value)
        if check.kind == "event_property_is":
            # The wanted value is the member's ID (a string): equal only to the same string.
            if not isinstance(value, str):
                return None
            if by_localpart:
                return lambda user_id, name: localpart_of(user_id) == value
            return lambda user_id, name: user_id == value
        # event_property_contains: a string member of the array.
        if not isinstance(value, list):
            return None
        strings = frozenset(item for item in value if isinstance(item, str))
        if not strings:
            return None
        if by_localpart:
            return lambda user_id, name: localpart_of(user_id) in strings
        return lambda user_id, name: user_id in strings

    def _body_words(self, body: str) -> BodyWords:
        if self._body is None:
            self._body = BodyWords(body)
        return self._body


_ABSENT = object()
