"""The redaction algorithm of each room version, as tables from the spec.

spec: rooms/fragments/v1-redactions.md (v1-v5), v6-redactions.md (v6, v7), rooms/v8.md
(join_rules keep `allow`), v9-redactions.md (v9, v10: member keeps
join_authorised_via_users_server), v11-redactions.md (v11, v12).
"""

from __future__ import annotations

from typing import Any

import pytest

from federation.rooms.redaction import redact_pdu
from federation.rooms.versions import KNOWN_ROOM_VERSIONS

ALL = [str(n) for n in range(1, 13)]


def _event(event_type: str, content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": event_type, "room_id": "!r:x", "sender": "@a:x", "state_key": "", "content": content,
        "depth": 3, "origin": "x", "origin_server_ts": 1, "prev_events": [], "auth_events": [],
        "hashes": {"sha256": "h"}, "signatures": {}, "unsigned": {"age": 1}, **extra,
    }


def kept(version: str, event_type: str, content: dict[str, Any]) -> set[str]:
    return set(redact_pdu(_event(event_type, content), KNOWN_ROOM_VERSIONS[version])["content"])


@pytest.mark.parametrize("version", ALL)
def test_aliases_keep_their_list_only_before_v6(version: str) -> None:
    expected = {"aliases"} if int(version) <= 5 else set()
    assert kept(version, "m.room.aliases", {"aliases": ["#a:x"], "other": 1}) == expected


@pytest.mark.parametrize("version", ALL)
def test_join_rules_keep_allow_from_v8(version: str) -> None:
    content = {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": "!s:x"}], "x": 1}
    expected = {"join_rule", "allow"} if int(version) >= 8 else {"join_rule"}
    assert kept(version, "m.room.join_rules", content) == expected


@pytest.mark.parametrize("version", ALL)
def test_member_keeps_the_join_authoriser_from_v9(version: str) -> None:
    content = {"membership": "join", "join_authorised_via_users_server": "@b:x", "displayname": "A"}
    expected = {"membership", "join_authorised_via_users_server"} if int(version) >= 9 else {"membership"}
    assert kept(version, "m.room.member", content) == expected


@pytest.mark.parametrize("version", ALL)
def test_create_keeps_creator_only_before_v11(version: str) -> None:
    content = {"creator": "@a:x", "room_version": version, "m.federate": False}
    expected = {"creator"} if int(version) <= 10 else set(content)
    assert kept(version, "m.room.create", content) == expected


@pytest.mark.parametrize("version", ALL)
def test_power_levels_keep_invite_only_from_v11(version: str) -> None:
    content = {"ban": 50, "events": {}, "events_default": 0, "kick": 50, "redact": 50, "state_default": 50,
               "users": {}, "users_default": 0, "invite": 0, "notifications": {"room": 50}}
    expected = set(content) - {"notifications"}
    if int(version) <= 10:
        expected -= {"invite"}
    assert kept(version, "m.room.power_levels", content) == expected


@pytest.mark.parametrize("version", ALL)
def test_top_level_keys_kept(version: str) -> None:
    pdu = _event("m.room.message", {"body": "x"}, event_id="$e:x", membership="join", prev_state=[],
                 redacts="$t:x", age_ts=1)
    redacted = redact_pdu(pdu, KNOWN_ROOM_VERSIONS[version])
    common = {"type", "room_id", "sender", "state_key", "content", "depth", "origin_server_ts",
              "prev_events", "auth_events", "hashes", "signatures", "event_id"}
    if int(version) <= 10:
        common |= {"origin", "membership", "prev_state"}
    assert set(redacted) == common
    assert redacted["content"] == {}


def test_v1_reference_pairs_survive_redaction() -> None:
    pairs = [["$p:x", {"sha256": "abc"}]]
    pdu = _event("m.room.message", {"body": "x"}, event_id="$e:x", prev_events=pairs, auth_events=pairs)
    redacted = redact_pdu(pdu, KNOWN_ROOM_VERSIONS["1"])
    assert redacted["prev_events"] == pairs and redacted["auth_events"] == pairs
