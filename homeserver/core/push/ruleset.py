"""One user's push rules: their own rules plus their changes to the server defaults.

Pure: the settings service loads and stores ``UserPushRules`` as one JSON document
per user; this module edits it and merges it with the server-default rules.

spec: client-server-api/modules/push.md, "Push Rules"; data/api/client-server/pushrules.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from homeserver.core.push.defaults import MASTER, default_rules
from homeserver.core.push.rules import RULE_KINDS, PushRule, valid_action
from homeserver.errors import MatrixError, bad_json, invalid_param, missing_param, not_found

# Every event is evaluated against each member's rules while it is persisted: bound the work.
MAX_USER_RULES = 500
MAX_CONDITIONS = 50


def check_kind(kind: str) -> None:
    if kind not in RULE_KINDS:
        raise invalid_param(f"Unknown push rule kind {kind!r}; expected one of {', '.join(RULE_KINDS)}")


def check_new_rule_id(kind: str, rule_id: str) -> None:
    """spec: pushrules.yaml, PUT — IDs starting with '.' are reserved; no slashes or backslashes."""
    if not rule_id:
        raise invalid_param("The rule ID must not be empty")
    if rule_id.startswith("."):
        raise invalid_param("Rule IDs starting with '.' are reserved for server-default rules")
    if "/" in rule_id or "\\" in rule_id:
        raise invalid_param("Rule IDs may not contain slashes or backslashes")
    if kind == "room" and not rule_id.startswith("!"):
        raise invalid_param("The rule ID of a room rule is the room ID")
    if kind == "sender" and not rule_id.startswith("@"):
        raise invalid_param("The rule ID of a sender rule is the user ID")


def parse_actions(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise bad_json("actions must be an array")
    for action in value:
        if not valid_action(action):
            raise invalid_param(f"Unknown or malformed action {action!r}")
    # Stored as given (Complement's TestPushRuleCacheHealth reads "dont_notify" back);
    # the evaluator ignores historical actions (spec: "Historical Actions").
    return tuple(value)


def parse_rule_body(kind: str, rule_id: str, body: Mapping[str, Any], enabled: bool) -> PushRule:
    """A user-defined rule from a PUT body (spec: pushrules.yaml, setPushRule)."""
    if "actions" not in body:
        raise missing_param("actions is required")
    actions = parse_actions(body["actions"])
    conditions: tuple[Mapping[str, Any], ...] = ()
    pattern: str | None = None
    if kind in ("override", "underride"):
        raw = body.get("conditions", [])
        if not isinstance(raw, list) or not all(
            isinstance(c, dict) and isinstance(c.get("kind"), str) for c in raw
        ):
            raise bad_json("conditions must be an array of objects with a string kind")
        if len(raw) > MAX_CONDITIONS:
            raise invalid_param(f"A push rule may have at most {MAX_CONDITIONS} conditions")
        conditions = tuple(raw)
    elif kind == "content":
        pattern = body.get("pattern")
        if pattern is None:
            raise missing_param("pattern is required for content rules")
        if not isinstance(pattern, str):
            raise bad_json("pattern must be a string")
    return PushRule(kind, rule_id, actions, False, enabled, conditions, pattern)


def _rule_to_stored(rule: PushRule) -> dict[str, Any]:
    out: dict[str, Any] = {"rule_id": rule.rule_id, "enabled": rule.enabled, "actions": list(rule.actions)}
    if rule.conditions:
        out["conditions"] = [dict(c) for c in rule.conditions]
    if rule.pattern is not None:
        out["pattern"] = rule.pattern
    return out


def _rule_from_stored(kind: str, raw: Mapping[str, Any]) -> PushRule:
    return PushRule(
        kind=kind,
        rule_id=raw["rule_id"],
        actions=tuple(raw.get("actions", [])),
        default=False,
        enabled=bool(raw.get("enabled", True)),
        conditions=tuple(raw.get("conditions", [])),
        pattern=raw.get("pattern"),
    )


@dataclass(slots=True)
class UserPushRules:
    # kind -> the user's own rules, most important first
    custom: dict[str, list[PushRule]] = field(default_factory=lambda: {k: [] for k in RULE_KINDS})
    # "kind/rule_id" of a server-default rule -> {"enabled": bool, "actions": [...]} (either optional)
    default_changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    # --- persistence -------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "custom": {k: [_rule_to_stored(r) for r in rules] for k, rules in self.custom.items() if rules},
            "default_changes": self.default_changes,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> UserPushRules:
        out = cls()
        for kind, rules in (raw.get("custom") or {}).items():
            if kind in RULE_KINDS:
                out.custom[kind] = [_rule_from_stored(kind, r) for r in rules]
        out.default_changes = dict(raw.get("default_changes") or {})
        return out

    # --- merged views --------------------------------------------------------------------
    def _defaults(self, user_id: str) -> dict[str, list[PushRule]]:
        merged: dict[str, list[PushRule]] = {}
        for kind, rules in default_rules(user_id).items():
            merged[kind] = []
            for rule in rules:
                change = self.default_changes.get(f"{kind}/{rule.rule_id}")
                if change:
                    rule = replace(
                        rule,
                        enabled=change.get("enabled", rule.enabled),
                        actions=tuple(change.get("actions", rule.actions)),
                    )
                merged[kind].append(rule)
        return merged

    def by_kind(self, user_id: str) -> dict[str, list[PushRule]]:
        """Every rule by kind in priority order: master, then user rules, then the defaults."""
        defaults = self._defaults(user_id)
        out: dict[str, list[PushRule]] = {}
        for kind in RULE_KINDS:
            own = list(self.custom[kind])
            server = defaults[kind]
            if kind == "override":
                master = [r for r in server if r.rule_id == MASTER]
                out[kind] = master + own + [r for r in server if r.rule_id != MASTER]
            else:
                out[kind] = own + server
        return out

    def ordered(self, user_id: str) -> list[PushRule]:
        """All rules in evaluation order (spec: kinds are checked override → underride)."""
        by_kind = self.by_kind(user_id)
        return [rule for kind in RULE_KINDS for rule in by_kind[kind]]

    def ruleset_json(self, user_id: str) -> dict[str, list[dict[str, Any]]]:
        """spec: definitions/push_ruleset.yaml."""
        return {kind: [r.to_json() for r in rules] for kind, rules in self.by_kind(user_id).items()}

    def find(self, user_id: str, kind: str, rule_id: str) -> PushRule:
        check_kind(kind)
        for rule in self.by_kind(user_id)[kind]:
            if rule.rule_id == rule_id:
                return rule
        raise not_found("The push rule was not found.")

    # --- edits ---------------------------------------------------------------------------
    def put(self, kind: str, rule_id: str, body: Mapping[str, Any],
            before: str | None, after: str | None) -> None:
        """Create or update a user rule (spec: pushrules.yaml, setPushRule)."""
        check_kind(kind)
        check_new_rule_id(kind, rule_id)
        rules = self.custom[kind]
        index = next((i for i, r in enumerate(rules) if r.rule_id == rule_id), None)
        existing = rules[index] if index is not None else None
        rule = parse_rule_body(kind, rule_id, body, existing.enabled if existing else True)
        if existing is None and sum(len(r) for r in self.custom.values()) >= MAX_USER_RULES:
            raise invalid_param(f"A user may have at most {MAX_USER_RULES} push rules")
        anchor = before if before is not None else after
        if anchor is None:
            if index is not None:
                rules[index] = rule  # an update keeps its place
            else:
                rules.insert(0, rule)  # a new rule is the most important user rule
            return
        if anchor.startswith("."):
            raise invalid_param("Rules cannot be placed relative to a server-default rule")
        remaining = [r for r in rules if r.rule_id != rule_id]
        position = next((i for i, r in enumerate(remaining) if r.rule_id == anchor), None)
        if position is None:
            # spec: pushrules.yaml, 400 example "before/after rule not found".
            raise MatrixError("M_UNKNOWN", 400, f"before/after rule not found: {anchor}")
        remaining.insert(position if before is not None else position + 1, rule)
        self.custom[kind] = remaining

    def delete(self, user_id: str, kind: str, rule_id: str) -> None:
        check_kind(kind)
        rules = self.custom[kind]
        for i, rule in enumerate(rules):
            if rule.rule_id == rule_id:
                del rules[i]
                return
        self.find(user_id, kind, rule_id)  # 404 when it does not exist at all
        raise invalid_param("Server-default push rules cannot be deleted")

    def _change(self, user_id: str, kind: str, rule_id: str, **changes: Any) -> None:
        rule = self.find(user_id, kind, rule_id)
        if rule.default:
            self.default_changes.setdefault(f"{kind}/{rule_id}", {}).update(changes)
            return
        rules = self.custom[kind]
        for i, r in enumerate(rules):
            if r.rule_id == rule_id:
                rules[i] = replace(r, **changes)

    def set_enabled(self, user_id: str, kind: str, rule_id: str, enabled: bool) -> None:
        self._change(user_id, kind, rule_id, enabled=enabled)

    def set_actions(self, user_id: str, kind: str, rule_id: str, actions: tuple[Any, ...]) -> None:
        if self.find(user_id, kind, rule_id).default:
            self._change(user_id, kind, rule_id, actions=list(actions))
        else:
            self._change(user_id, kind, rule_id, actions=actions)

    def copy_room_rules(self, old_room_id: str, new_room_id: str) -> bool:
        """Copy rules about the old room to the replacement room (Synapse's behaviour on upgrade).

        Room rules keyed by the old room ID, and override/underride rules with an
        ``event_match`` on ``room_id`` for it, get a twin for the new room placed just
        before the original. Returns whether anything was added.
        """
        changed = False
        for kind in ("override", "room", "underride"):
            copies: list[tuple[int, PushRule]] = []
            existing = {r.rule_id for r in self.custom[kind]}
            for i, rule in enumerate(self.custom[kind]):
                if kind == "room":
                    if rule.rule_id != old_room_id:
                        continue
                    twin = replace(rule, rule_id=new_room_id)
                else:
                    about_room = [
                        c for c in rule.conditions
                        if c.get("kind") == "event_match" and c.get("key") == "room_id"
                        and c.get("pattern") == old_room_id
                    ]
                    if not about_room:
                        continue
                    conditions = tuple(
                        {**c, "pattern": new_room_id} if c in about_room else c for c in rule.conditions
                    )
                    twin = replace(rule, rule_id=rule.rule_id.replace(old_room_id, new_room_id),
                                   conditions=conditions)
                if twin.rule_id not in existing:
                    copies.append((i, twin))
                    existing.add(twin.rule_id)
            for offset, (i, twin) in enumerate(copies):
                self.custom[kind].insert(i + offset, twin)
                changed = True
        return changed

    def copy(self) -> UserPushRules:
        return UserPushRules.from_json(self.to_json())
