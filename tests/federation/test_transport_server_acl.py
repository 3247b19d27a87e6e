"""m.room.server_acl matching (spec: m.room.server_acl; appendices.md "Glob-style matching")."""

from __future__ import annotations

from typing import Any

import pytest

from federation.rooms.server_acl import glob_matches, server_allowed_by_acl


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("*", "anything.example", True),
        ("*.example.org", "matrix.example.org", True),
        ("*.example.org", "example.org", False),
        ("ex?mple.org", "example.org", True),
        ("ex?mple.org", "exmple.org", False),
        ("EXAMPLE.org", "example.ORG", True),  # case-insensitive
        ("example.org", "example.org.evil", False),  # whole string only
        ("a.b", "axb", False),  # dots are literal
        ("[::1]", "[::1]", True),
    ],
)
def test_glob_matching(pattern: str, value: str, matches: bool) -> None:
    assert glob_matches(pattern, value) is matches


ACL: dict[str, Any] = {"allow": ["*"], "deny": ["evil.example", "*.bad.example"], "allow_ip_literals": False}


@pytest.mark.parametrize(
    ("server", "acl", "allowed"),
    [
        ("good.example", None, True),  # 1: no ACL event
        ("127.0.0.1:8448", None, True),
        ("127.0.0.1:8448", ACL, False),  # 2: IP literals denied
        ("[::1]:8448", ACL, False),
        ("127.0.0.1:8448", {"allow": ["*"], "allow_ip_literals": "no"}, True),  # non-boolean: default true
        ("127.0.0.1:8448", {"allow": ["*"]}, True),
        ("evil.example", ACL, False),  # 3: deny
        ("evil.example:1234", ACL, False),  # the port is never considered
        ("x.bad.example", ACL, False),
        ("good.example:8448", ACL, True),  # 4: allow
        ("good.example", {"allow": ["other.example"]}, False),  # 5: otherwise deny
        ("good.example", {}, False),  # no allow list denies everyone
        ("good.example", {"allow": "*"}, False),  # not a list: empty
        ("good.example", {"allow": ["*"], "deny": ["good.example"]}, False),  # deny wins
    ],
)
def test_server_acl_rules_in_order(server: str, acl: dict[str, Any] | None, allowed: bool) -> None:
    assert server_allowed_by_acl(server, acl) is allowed


async def test_check_server_acl_uses_the_rooms_current_acl(tmp_path: Any) -> None:
    from homeserver.errors import MatrixError
    from homeserver.services.graph.server_acl import check_server_acl
    from tests.federation.harness import federated_homeservers

    async with federated_homeservers(tmp_path, 1) as (hs1,):
        alice = await hs1.register("alice")
        room_id = await alice.create_room()
        await check_server_acl(hs1.hs.events, "anyone.example", room_id)  # no ACL yet
        await alice.send_state(room_id, "m.room.server_acl", {"allow": ["*"], "deny": ["evil.example"]})
        await check_server_acl(hs1.hs.events, "anyone.example", room_id)
        with pytest.raises(MatrixError) as caught:
            await check_server_acl(hs1.hs.events, "evil.example:8448", room_id)
        assert (caught.value.status, caught.value.errcode) == (403, "M_FORBIDDEN")
        await check_server_acl(hs1.hs.events, "evil.example", "!unknown:elsewhere")  # unknown room: no ACL
