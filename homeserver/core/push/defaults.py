"""The server-default push rules, in the order the spec lists them.

spec: client-server-api/modules/push.md, "Predefined Rules". ``.m.rule.master``
outranks every rule, user-defined ones included; the other defaults rank below the
user's rules of the same kind. The legacy body-mention rules (removed from the spec
in v1.17) are kept as server-default rules, as Synapse does; the evaluator skips them
for events that carry ``m.mentions`` (see push_rules.LEGACY_MENTION_RULES).
"""

from __future__ import annotations

from typing import Any

from homeserver.core.push.rules import PushRule

MASTER = ".m.rule.master"

_SOUND_DEFAULT = {"set_tweak": "sound", "value": "default"}
_HIGHLIGHT = {"set_tweak": "highlight"}


def _match(key: str, pattern: str) -> dict[str, Any]:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def _rule(kind: str, rule_id: str, conditions: list[dict[str, Any]], actions: list[Any],
          *, enabled: bool = True, pattern: str | None = None) -> PushRule:
    return PushRule(
        kind=kind,
        rule_id=rule_id,
        actions=tuple(actions),
        default=True,
        enabled=enabled,
        conditions=tuple(conditions),
        pattern=pattern,
    )


def default_override_rules(user_id: str) -> list[PushRule]:
    return [
        _rule("override", MASTER, [], [], enabled=False),
        _rule("override", ".m.rule.suppress_notices", [_match("content.msgtype", "m.notice")], []),
        _rule(
            "override",
            ".m.rule.invite_for_me",
            [
                _match("type", "m.room.member"),
                _match("content.membership", "invite"),
                _match("state_key", user_id),
            ],
            ["notify", _SOUND_DEFAULT],
        ),
        _rule("override", ".m.rule.member_event", [_match("type", "m.room.member")], []),
        _rule(
            "override",
            ".m.rule.is_user_mention",
            [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": user_id}],
            ["notify", _SOUND_DEFAULT, _HIGHLIGHT],
        ),
        _rule(
            "override",
            ".m.rule.contains_display_name",
            [{"kind": "contains_display_name"}],
            ["notify", _SOUND_DEFAULT, _HIGHLIGHT],
        ),
        _rule(
            "override",
            ".m.rule.is_room_mention",
            [
                {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            ["notify", _HIGHLIGHT],
        ),
        _rule(
            "override",
            ".m.rule.roomnotif",
            [
                _match("content.body", "@room"),
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            ["notify", _HIGHLIGHT],
        ),
        _rule(
            "override",
            ".m.rule.tombstone",
            [_match("type", "m.room.tombstone"), _match("state_key", "")],
            ["notify", _HIGHLIGHT],
        ),
        _rule("override", ".m.rule.reaction", [_match("type", "m.reaction")], []),
        _rule(
            "override",
            ".m.rule.room.server_acl",
            [_match("type", "m.room.server_acl"), _match("state_key", "")],
            [],
        ),
        _rule(
            "override",
            ".m.rule.suppress_edits",
            [{"kind": "event_property_is", "key": "content.m\\.relates_to.rel_type", "value": "m.replace"}],
            [],
        ),
    ]


def default_content_rules(user_id: str) -> list[PushRule]:
    localpart = user_id[1:].split(":", 1)[0]
    return [
        _rule(
            "content",
            ".m.rule.contains_user_name",
            [],
            ["notify", _SOUND_DEFAULT, _HIGHLIGHT],
            pattern=localpart,
        )
    ]


def default_underride_rules() -> list[PushRule]:
    return [
        _rule("underride", ".m.rule.call", [_match("type", "m.call.invite")],
              ["notify", {"set_tweak": "sound", "value": "ring"}]),
        _rule(
            "underride",
            ".m.rule.encrypted_room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.encrypted")],
            ["notify", _SOUND_DEFAULT],
        ),
        _rule(
            "underride",
            ".m.rule.room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")],
            ["notify", _SOUND_DEFAULT],
        ),
        _rule("underride", ".m.rule.message", [_match("type", "m.room.message")], ["notify"]),
        _rule("underride", ".m.rule.encrypted", [_match("type", "m.room.encrypted")], ["notify"]),
    ]


def default_rules(user_id: str) -> dict[str, list[PushRule]]:
    """Server-default rules by kind, each list in priority order."""
    return {
        "override": default_override_rules(user_id),
        "content": default_content_rules(user_id),
        "room": [],
        "sender": [],
        "underride": default_underride_rules(),
    }
