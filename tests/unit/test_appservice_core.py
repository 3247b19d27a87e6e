"""The pure side of application services: registration parsing, namespaces, interest."""

from __future__ import annotations

from typing import Any

import pytest

from homeserver.core.appservice import (
    RegistrationError,
    check_unique,
    parse_registration,
    room_aliases,
)

BASE: dict[str, Any] = {
    "id": "irc", "url": "http://127.0.0.1:9000", "as_token": "a", "hs_token": "h", "sender_localpart": "ircbot",
    "namespaces": {
        "users": [{"exclusive": True, "regex": "@_irc_.*"}, {"exclusive": False, "regex": "@shared_.*"}],
        "aliases": [{"exclusive": True, "regex": "#_irc_.*"}],
        "rooms": [{"exclusive": False, "regex": "!bridged:.*"}],
    },
}


def service(**change: Any):  # type: ignore[no-untyped-def]
    return parse_registration({**BASE, **change}, "example.org", "irc.yaml")


@pytest.mark.parametrize(("user_id", "in_namespace", "exclusive"), [
    ("@ircbot:example.org", True, True),
    ("@_irc_alice:example.org", True, True),
    ("@shared_bob:example.org", True, False),
    ("@carol:example.org", False, False),
    ("@carol_irc_:example.org", False, False),  # regexes match from the start
])
def test_user_namespaces(user_id: str, in_namespace: bool, exclusive: bool) -> None:
    s = service()
    assert (s.is_user_in_namespace(user_id), s.is_exclusive_user(user_id)) == (in_namespace, exclusive)


@pytest.mark.parametrize(("sender", "state_key", "room_id", "aliases", "members", "interested"), [
    ("@_irc_a:example.org", None, "!r:x", [], [], True),          # sender in namespace
    ("@carol:example.org", "@_irc_a:example.org", "!r:x", [], [], True),  # member event about one
    ("@carol:example.org", None, "!bridged:x", [], [], True),      # room ID in namespace
    ("@carol:example.org", None, "!r:x", ["#_irc_chan:example.org"], [], True),  # alias
    ("@carol:example.org", None, "!r:x", [], ["@_irc_z:example.org"], True),  # a member
    ("@carol:example.org", None, "!r:x", ["#other:example.org"], ["@dave:example.org"], False),
])
def test_interest_in_room_events(sender: str, state_key: str | None, room_id: str, aliases: list[str],
                                 members: list[str], interested: bool) -> None:
    assert service().is_interested_in_event(
        sender=sender, state_key=state_key, event_type="m.room.member" if state_key else "m.room.message",
        room_id=room_id, aliases=aliases, members=members,
    ) is interested


def test_ephemeral_and_to_device_opt_ins_take_stable_and_unstable_keys() -> None:
    assert not service().receive_ephemeral and not service().receive_to_device
    assert service(receive_ephemeral=True).receive_ephemeral
    assert service(**{"de.sorunome.msc2409.push_ephemeral": True}).receive_ephemeral
    assert service(**{"org.matrix.msc3202": True}).receive_to_device
    assert service(push_to_device=True).receive_to_device


@pytest.mark.parametrize(("change", "message"), [
    ({"url": "ftp://x"}, "url must be an http"),
    ({"as_token": ""}, "as_token"),
    ({"namespaces": {"users": [{"regex": "(["}]}}, "not a valid regular expression"),
])
def test_bad_registrations_name_the_problem(change: dict[str, Any], message: str) -> None:
    with pytest.raises(RegistrationError, match=message):
        service(**change)


def test_url_may_be_null_for_a_service_that_receives_nothing() -> None:
    assert service(url=None).url is None


def test_duplicate_tokens_are_refused() -> None:
    with pytest.raises(RegistrationError, match="hs_token is the same"):
        check_unique([("a.yaml", service()), ("b.yaml", service(id="other", as_token="b", sender_localpart="x"))])


def test_room_aliases_are_the_canonical_and_alternative_ones() -> None:
    assert room_aliases({"alias": "#a:x", "alt_aliases": ["#b:x", 3]}) == ["#a:x", "#b:x"]
