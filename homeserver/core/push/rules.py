"""Push rule evaluation: which rule matches an event for a user, and what it asks for.

Pure code, no I/O: the caller flattens the event once (``flatten_event``), builds an
``EventContext`` with the room facts the conditions need, and calls ``evaluate``
for each local member with that member's ordered ruleset.

spec: client-server-api/modules/push.md, "Push Rules", "Conditions", "Actions";
appendices.md, "Dot-separated property paths"; globs are in push_glob.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from federation.rooms.power_levels import PowerLevel, PowerLevelsContent, notification_level
from homeserver.core.push.glob import contains_word, glob_matches

RULE_KINDS = ("override", "content", "room", "sender", "underride")  # in priority order
# Historical actions: clients and homeservers MUST ignore them (spec: "Historical Actions").
HISTORICAL_ACTIONS = frozenset({"dont_notify", "coalesce"})
# Server-default rules that look for mentions in the body. The spec dropped them in
# v1.17; like Synapse we still ship them for clients that do not send m.mentions, and
# skip them for events that carry m.mentions (spec: modules/mentions.md, the note on
# "previous versions of the specification").
LEGACY_MENTION_RULES = frozenset(
    {".m.rule.contains_display_name", ".m.rule.roomnotif", ".m.rule.contains_user_name"}
)

JsonScalar = str | int | bool | None
_MEMBER_COUNT = re.compile(r"^(==|<=|>=|<|>)?([0-9]+)$")


@dataclass(frozen=True, slots=True)
class PushRule:
    kind: str
    rule_id: str
    actions: tuple[Any, ...]
    default: bool = False
    enabled: bool = True
    conditions: tuple[Mapping[str, Any], ...] = ()
    pattern: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The rule as the client API shows it (spec: definitions/push_rule.yaml)."""
        out: dict[str, Any] = {
            "rule_id": self.rule_id,
            "default": self.default,
            "enabled": self.enabled,
            "actions": list(self.actions),
        }
        if self.kind in ("override", "underride"):
            out["conditions"] = [dict(c) for c in self.conditions]
        if self.kind == "content" and self.pattern is not None:
            out["pattern"] = self.pattern
        return out


@dataclass(frozen=True, slots=True)
class EventContext:
    """Facts about one event and its room, shared by every member's evaluation."""

    flattened: Mapping[str, Any]  # escaped dotted path -> scalar or list
    room_member_count: int
    sender_power_level: PowerLevel
    power_levels: PowerLevelsContent | None
    has_mentions: bool  # content has an m.mentions property


@dataclass(frozen=True, slots=True)
class PushOutcome:
    rule: PushRule | None
    actions: list[Any] = field(default_factory=list)

    @property
    def notify(self) -> bool:
        return "notify" in self.actions

    @property
    def highlight(self) -> bool:
        return highlight_of(self.actions)


# --- dotted paths -------------------------------------------------------------------------


def escape_path_segment(name: str) -> str:
    """One property name in a dotted path: literal '.' and '\\' get a backslash."""
    return name.replace("\\", "\\\\").replace(".", "\\.")


def split_dotted_path(path: str) -> list[str]:
    """The property names of a dotted path; '\\.' and '\\\\' are escapes, other '\\x' stay literal."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path) and path[i + 1] in ".\\":
            current.append(path[i + 1])
            i += 2
            continue
        if ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


@lru_cache(maxsize=4096)
def canonical_path(path: str) -> str:
    """The path re-escaped minimally, the form ``flatten_event`` produces."""
    return ".".join(escape_path_segment(p) for p in split_dotted_path(path))


def flatten_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """Every scalar or array property of the event under its escaped dotted path."""
    out: dict[str, Any] = {}

    def walk(value: Mapping[str, Any], prefix: str) -> None:
        for key, item in value.items():
            if not isinstance(key, str):
                continue
            path = prefix + escape_path_segment(key)
            if isinstance(item, Mapping):
                walk(item, path + ".")
            elif isinstance(item, (str, int, bool, list)) or item is None:
                out[path] = item

    walk(event, "")
    return out


# --- conditions ---------------------------------------------------------------------------


def _is_exact_scalar(value: Any) -> bool:
    # spec: non-compound canonical JSON values; integers within [-(2**53)+1, (2**53)-1].
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    return isinstance(value, int) and -(2**53) + 1 <= value <= 2**53 - 1


def _same_scalar(a: Any, b: Any) -> bool:
    # No casting: true is not 1, "1" is not 1.
    return type(a) is type(b) and a == b and _is_exact_scalar(a)


def member_count_matches(is_: Any, count: int) -> bool:
    if not isinstance(is_, str):
        return False
    m = _MEMBER_COUNT.match(is_)
    if m is None:
        return False
    op, number = m.group(1) or "==", int(m.group(2))
    return {
        "==": count == number,
        "<": count < number,
        ">": count > number,
        "<=": count <= number,
        ">=": count >= number,
    }[op]


def condition_matches(
    condition: Mapping[str, Any], ctx: EventContext, user_id: str, display_name: str | None
) -> bool:
    """One condition; unrecognised or malformed ones never match (spec: "Conditions")."""
    kind = condition.get("kind")
    if kind in ("event_match", "event_property_is", "event_property_contains"):
        key = condition.get("key")
        if not isinstance(key, str):
            return False
        path = canonical_path(key)
        if path not in ctx.flattened:
            return False
        value = ctx.flattened[path]
        if kind == "event_match":
            pattern = condition.get("pattern")
            if not isinstance(pattern, str) or not isinstance(value, str):
                return False
            return glob_matches(pattern, value, word_boundary=(path == "content.body"))
        if "value" not in condition:
            return False
        wanted = condition["value"]
        if kind == "event_property_is":
            return _same_scalar(value, wanted)
        return isinstance(value, list) and any(_same_scalar(item, wanted) for item in value)
    if kind == "contains_display_name":
        body = ctx.flattened.get("content.body")
        if not display_name or not isinstance(body, str):
            return False
        return contains_word(body, display_name)
    if kind == "room_member_count":
        return member_count_matches(condition.get("is"), ctx.room_member_count)
    if kind == "sender_notification_permission":
        key = condition.get("key")
        if not isinstance(key, str):
            return False
        return ctx.sender_power_level >= notification_level(key, ctx.power_levels)
    return False


def rule_matches(rule: PushRule, ctx: EventContext, user_id: str, display_name: str | None) -> bool:
    if not rule.enabled:
        return False
    if ctx.has_mentions and rule.default and rule.rule_id in LEGACY_MENTION_RULES:
        return False
    if rule.kind == "content":
        body = ctx.flattened.get("content.body")
        if rule.pattern is None or not isinstance(body, str):
            return False
        return glob_matches(rule.pattern, body, word_boundary=True)
    if rule.kind == "room":
        return ctx.flattened.get("room_id") == rule.rule_id
    if rule.kind == "sender":
        return ctx.flattened.get("sender") == rule.rule_id
    return all(condition_matches(c, ctx, user_id, display_name) for c in rule.conditions)


def evaluate(
    rules: Sequence[PushRule], ctx: EventContext, user_id: str, display_name: str | None
) -> PushOutcome:
    """The first matching rule in priority order and its (cleaned) actions."""
    for rule in rules:
        if rule_matches(rule, ctx, user_id, display_name):
            return PushOutcome(rule, clean_actions(rule.actions))
    return PushOutcome(None, [])


# --- actions ------------------------------------------------------------------------------


def clean_actions(actions: Sequence[Any]) -> list[Any]:
    return [a for a in actions if not (isinstance(a, str) and a in HISTORICAL_ACTIONS)]


def highlight_of(actions: Sequence[Any]) -> bool:
    """spec: the highlight tweak without a value means true; no tweak means false."""
    for action in actions:
        if isinstance(action, Mapping) and action.get("set_tweak") == "highlight":
            return action.get("value", True) is True
    return False


def valid_action(action: Any) -> bool:
    if isinstance(action, str):
        return action == "notify" or action in HISTORICAL_ACTIONS
    if isinstance(action, Mapping):
        return isinstance(action.get("set_tweak"), str)
    return False
