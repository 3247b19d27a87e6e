"""The authorisation rules of room versions 10, 11 and 12 (rooms/v10.md, v11.md, v12.md).

Rooms are built with ``RoomDag``: every event's ``auth_events`` are chosen from the
running state by ``auth_types_for_event``, as a real server would choose them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from federation.rooms.auth import (
    AuthError,
    auth_types_for_event,
    check_auth_event_list,
    check_auth_rules,
    check_event_against_auth_events,
    is_valid_user_id,
)
from federation.rooms.events import Event, StateKey
from federation.rooms.power_levels import (
    invite_level,
    notification_level,
    required_power_level,
    room_creators,
    user_power_level,
)
from federation.rooms.versions import (
    ROOM_VERSION_10,
    ROOM_VERSION_11,
    ROOM_VERSION_12,
    RoomVersion,
)

ALICE = "@alice:a.example"  # the creator
BOB = "@bob:b.example"
CAROL = "@carol:c.example"
DAVE = "@dave:a.example"

ALL_VERSIONS = [ROOM_VERSION_10, ROOM_VERSION_11, ROOM_VERSION_12]


def signed_by_listed_servers(event: Event, server_name: str) -> bool:
    """Test stand-in for the crypto check: the PDU lists the server under `signatures`."""
    return server_name in event.pdu.get("signatures", {})


class RoomDag:
    """Builds a room's events; each branch of the DAG is a state dict the builder updates."""

    def __init__(
        self,
        version: RoomVersion,
        creator: str = ALICE,
        create_content: dict[str, Any] | None = None,
    ) -> None:
        self.version = version
        self.events: dict[str, Event] = {}
        self.state: dict[StateKey, Event] = {}
        self._ts = 1000
        self._last: dict[int, str] = {}
        content: dict[str, Any] = {"room_version": version.identifier}
        if not version.creator_is_sender:
            content["creator"] = creator
        content.update(create_content or {})
        pdu: dict[str, Any] = {
            "type": "m.room.create",
            "state_key": "",
            "sender": creator,
            "content": content,
            "prev_events": [],
            "auth_events": [],
            "depth": 1,
            "origin_server_ts": self._next_ts(),
        }
        if not version.hash_room_ids:
            pdu["room_id"] = "!room:a.example"
        self.create = Event("$create", pdu, version)
        check_auth_rules(self.create, {})
        self.events[self.create.event_id] = self.create
        self.state[self.create.state_tuple] = self.create
        self._last[id(self.state)] = self.create.event_id

    @property
    def room_id(self) -> str:
        return self.create.room_id

    def _next_ts(self) -> int:
        self._ts += 10
        return self._ts

    def build(
        self,
        event_id: str,
        event_type: str,
        sender: str,
        content: dict[str, Any],
        state_key: str | None = None,
        *,
        state: dict[StateKey, Event] | None = None,
        prev_events: list[str] | None = None,
        ts: int | None = None,
        **extra: Any,
    ) -> Event:
        """An event whose auth_events are selected from ``state`` (default: the main branch)."""
        state = self.state if state is None else state
        keys = auth_types_for_event(self.version, event_type, state_key, sender, content)
        pdu: dict[str, Any] = {
            "type": event_type,
            "sender": sender,
            "room_id": self.room_id,
            "content": content,
            "prev_events": prev_events
            if prev_events is not None
            else [self._last.get(id(state), self.create.event_id)],
            "auth_events": [state[k].event_id for k in keys if k in state],
            "depth": 2,
            "origin_server_ts": ts if ts is not None else self._next_ts(),
            **extra,
        }
        if state_key is not None:
            pdu["state_key"] = state_key
        return Event(event_id, pdu, self.version)

    def append(
        self,
        event_id: str,
        event_type: str,
        sender: str,
        content: dict[str, Any],
        state_key: str | None = None,
        *,
        state: dict[StateKey, Event] | None = None,
        **kwargs: Any,
    ) -> Event:
        """Build an event, require it to pass auth, and apply it to the branch ``state``."""
        state = self.state if state is None else state
        event = self.build(event_id, event_type, sender, content, state_key, state=state, **kwargs)
        self.check(event, state, is_signed_by=signed_by_listed_servers)
        self.events[event_id] = event
        if event.is_state:
            state[event.state_tuple] = event
        self._last[id(state)] = event_id
        return event

    def fork(self) -> dict[StateKey, Event]:
        branch = dict(self.state)
        self._last[id(branch)] = self._last[id(self.state)]
        return branch

    def check(self, event: Event, state: dict[StateKey, Event] | None = None, **kw: Any) -> None:
        check_auth_rules(event, self.state if state is None else state, self.create, **kw)

    def allows(self, event: Event, **kw: Any) -> bool:
        try:
            self.check(event, **kw)
        except AuthError:
            return False
        return True

    # conveniences for setting a room up
    def member(self, event_id: str, sender: str, membership: str, target: str | None = None,
               **content: Any) -> Event:
        return self.append(event_id, "m.room.member", sender,
                           {"membership": membership, **content}, target or sender)

    def build_member(self, event_id: str, sender: str, membership: str,
                     target: str | None = None, **content: Any) -> Event:
        return self.build(event_id, "m.room.member", sender,
                          {"membership": membership, **content}, target or sender)


def standard_room(
    version: RoomVersion,
    join_rule: str = "public",
    users: dict[str, int] | None = None,
    create_content: dict[str, Any] | None = None,
    **power_levels: Any,
) -> RoomDag:
    """A room as /createRoom makes it: creator joins, power levels, join rules."""
    room = RoomDag(version, create_content=create_content)
    room.member("$alice-join", ALICE, "join")
    pl_users = {} if version.privileged_creators else {ALICE: 100}
    pl_users.update(users or {})
    room.append("$pl", "m.room.power_levels", ALICE, {"users": pl_users, **power_levels}, "")
    room.append("$jr", "m.room.join_rules", ALICE, {"join_rule": join_rule}, "")
    return room


@pytest.fixture(params=ALL_VERSIONS, ids=lambda v: f"v{v.identifier}")
def version(request: pytest.FixtureRequest) -> Iterator[RoomVersion]:
    yield request.param


# --- power level helpers -------------------------------------------------------


def test_defaults_without_power_levels_event() -> None:
    assert required_power_level("m.room.name", True, None) == 50
    assert required_power_level("m.room.message", False, None) == 0
    assert invite_level(None) == 0
    assert notification_level("room", None) == 50


def test_events_map_overrides_defaults() -> None:
    content = {"events": {"m.room.name": 10}, "state_default": 70, "events_default": 5}
    assert required_power_level("m.room.name", True, content) == 10
    assert required_power_level("m.room.topic", True, content) == 70
    assert required_power_level("m.room.message", False, content) == 5


def test_boolean_is_not_an_integer_level() -> None:
    assert user_power_level(BOB, {"users": {BOB: True}}, None, ROOM_VERSION_11) == 0


def test_creator_has_100_before_power_levels_before_v12(version: RoomVersion) -> None:
    room = RoomDag(version)
    expected = math.inf if version.privileged_creators else 100
    assert user_power_level(ALICE, None, room.create, version) == expected
    assert user_power_level(BOB, None, room.create, version) == 0


def test_v12_creators_have_infinite_power_even_with_power_levels() -> None:
    room = RoomDag(ROOM_VERSION_12, create_content={"additional_creators": [BOB]})
    assert room_creators(room.create, ROOM_VERSION_12) == {ALICE, BOB}
    assert user_power_level(BOB, {"users_default": 0}, room.create, ROOM_VERSION_12) == math.inf
    assert user_power_level(CAROL, {"users_default": 7}, room.create, ROOM_VERSION_12) == 7


def test_v11_creator_is_the_sender_and_v10_creator_is_content_creator() -> None:
    v10 = RoomDag(ROOM_VERSION_10)
    v10.create.pdu["content"]["creator"] = BOB
    assert room_creators(v10.create, ROOM_VERSION_10) == {BOB}
    v11 = RoomDag(ROOM_VERSION_11)
    assert room_creators(v11.create, ROOM_VERSION_11) == {ALICE}


# --- auth events selection -------------------------------------------------------


def test_selection_for_a_message_includes_create_before_v12() -> None:
    assert auth_types_for_event(ROOM_VERSION_11, "m.room.message", None, BOB, {}) == [
        ("m.room.create", ""),
        ("m.room.power_levels", ""),
        ("m.room.member", BOB),
    ]


def test_selection_never_includes_create_in_v12() -> None:
    keys = auth_types_for_event(ROOM_VERSION_12, "m.room.message", None, BOB, {})
    assert ("m.room.create", "") not in keys


def test_selection_for_a_restricted_join_with_third_party_and_authoriser() -> None:
    content = {"membership": "join", "join_authorised_via_users_server": ALICE}
    keys = auth_types_for_event(ROOM_VERSION_11, "m.room.member", BOB, BOB, content)
    assert keys == [
        ("m.room.create", ""),
        ("m.room.power_levels", ""),
        ("m.room.member", BOB),
        ("m.room.join_rules", ""),
        ("m.room.member", ALICE),
    ]
    invite = {"membership": "invite", "third_party_invite": {"signed": {"token": "tok"}}}
    keys = auth_types_for_event(ROOM_VERSION_12, "m.room.member", BOB, ALICE, invite)
    assert keys == [
        ("m.room.power_levels", ""),
        ("m.room.member", ALICE),
        ("m.room.member", BOB),
        ("m.room.join_rules", ""),
        ("m.room.third_party_invite", "tok"),
    ]


def test_selection_for_create_is_empty(version: RoomVersion) -> None:
    assert auth_types_for_event(version, "m.room.create", "", ALICE, {}) == []


# --- rule 1: m.room.create -------------------------------------------------------


def _create(version: RoomVersion, **changes: Any) -> Event:
    room = RoomDag(version)
    pdu = {**room.create.pdu, **changes}
    return Event("$create2", {k: v for k, v in pdu.items() if v is not None}, version)


def test_create_with_prev_events_is_rejected(version: RoomVersion) -> None:
    with pytest.raises(AuthError):
        check_auth_rules(_create(version, prev_events=["$x"]), {})


def test_create_from_another_domain_than_the_room_id_is_rejected() -> None:
    for version in (ROOM_VERSION_10, ROOM_VERSION_11):
        with pytest.raises(AuthError, match="domain"):
            check_auth_rules(_create(version, sender="@eve:evil.example"), {})


def test_v12_create_with_a_room_id_is_rejected() -> None:
    with pytest.raises(AuthError, match="room_id"):
        check_auth_rules(_create(ROOM_VERSION_12, room_id="!room:a.example"), {})


def test_create_with_unknown_room_version_is_rejected(version: RoomVersion) -> None:
    content = {**RoomDag(version).create.content, "room_version": "999"}
    with pytest.raises(AuthError, match="room_version"):
        check_auth_rules(_create(version, content=content), {})


def test_v10_create_needs_creator_but_v11_does_not() -> None:
    with pytest.raises(AuthError, match="creator"):
        check_auth_rules(_create(ROOM_VERSION_10, content={"room_version": "10"}), {})
    check_auth_rules(_create(ROOM_VERSION_11, content={"room_version": "11"}), {})


@pytest.mark.parametrize(
    ("additional_creators", "allowed"),
    [
        ([BOB, CAROL], True),
        ([], True),
        (BOB, False),
        ([BOB, 5], False),
        (["not-a-user"], False),
        (["@bob:bad_server!"], False),
    ],
)
def test_v12_additional_creators_must_be_user_ids(
    additional_creators: Any, allowed: bool
) -> None:
    create = _create(
        ROOM_VERSION_12, content={"room_version": "12", "additional_creators": additional_creators}
    )
    if allowed:
        check_auth_rules(create, {})
    else:
        with pytest.raises(AuthError, match="additional_creators"):
            check_auth_rules(create, {})


def test_user_id_validation_accepts_historical_localparts() -> None:
    assert is_valid_user_id("@Bob!:b.example:8448")
    assert is_valid_user_id("@bob:[::1]:8448")
    assert not is_valid_user_id("bob:b.example")
    assert not is_valid_user_id("@bob")
    assert not is_valid_user_id("@" + "b" * 250 + ":b.example")


# --- rule 2 (v12: rules 2 and 3): the auth events themselves --------------------


def _message(room: RoomDag, sender: str = ALICE, event_id: str = "$msg") -> Event:
    return room.build(event_id, "m.room.message", sender, {"body": "hi", "msgtype": "m.text"})


def _listed(room: RoomDag, event: Event) -> list[Event]:
    return [room.events[e] for e in event.auth_event_ids]


def test_message_passes_against_its_own_auth_events(version: RoomVersion) -> None:
    room = standard_room(version)
    message = _message(room)
    check_event_against_auth_events(message, _listed(room, message), room.create)


def test_duplicate_auth_event_keys_are_rejected(version: RoomVersion) -> None:
    room = standard_room(version)
    old_pl = room.state[("m.room.power_levels", "")]
    room.append("$pl2", "m.room.power_levels", ALICE, dict(old_pl.content), "")
    message = _message(room)
    with pytest.raises(AuthError, match="duplicate"):
        check_auth_event_list(message, [*_listed(room, message), old_pl])


def test_auth_events_not_selected_for_the_event_are_rejected(version: RoomVersion) -> None:
    room = standard_room(version)
    message = _message(room)
    join_rules = room.state[("m.room.join_rules", "")]
    with pytest.raises(AuthError, match="not selected"):
        check_auth_event_list(message, [*_listed(room, message), join_rules])


def test_v12_create_event_listed_in_auth_events_is_rejected() -> None:
    room = standard_room(ROOM_VERSION_12)
    message = _message(room)
    with pytest.raises(AuthError, match="not selected"):
        check_auth_event_list(message, [room.create, *_listed(room, message)])


def test_rejected_auth_event_is_rejected(version: RoomVersion) -> None:
    room = standard_room(version)
    message = _message(room)
    listed = _listed(room, message)
    pl = next(e for e in listed if e.type == "m.room.power_levels")
    rejected_pl = Event(pl.event_id, pl.pdu, version, rejected_reason="auth")
    listed = [rejected_pl if e is pl else e for e in listed]
    with pytest.raises(AuthError, match="rejected"):
        check_auth_event_list(message, listed)


def test_missing_create_in_auth_events_is_rejected_before_v12() -> None:
    for version in (ROOM_VERSION_10, ROOM_VERSION_11):
        room = standard_room(version)
        message = _message(room)
        listed = [e for e in _listed(room, message) if e.type != "m.room.create"]
        with pytest.raises(AuthError, match="m.room.create"):
            check_event_against_auth_events(message, listed)


def test_auth_event_from_another_room_is_rejected(version: RoomVersion) -> None:
    room = standard_room(version)
    message = _message(room)
    listed = _listed(room, message)
    member = next(e for e in listed if e.type == "m.room.member")
    foreign = Event(member.event_id, {**member.pdu, "room_id": "!other:a.example"}, version)
    listed = [foreign if e is member else e for e in listed]
    with pytest.raises(AuthError, match="another room"):
        check_auth_event_list(message, listed)
    state = {**room.state, foreign.state_tuple: foreign}
    with pytest.raises(AuthError, match="another room"):
        room.check(message, state)


def test_v12_room_id_must_be_the_create_event_hash() -> None:
    room = standard_room(ROOM_VERSION_12)
    message = room.build("$m", "m.room.message", ALICE, {"body": "x"})
    message.pdu["room_id"] = "!someotherroom"
    with pytest.raises(AuthError, match="room_id"):
        room.check(message)


def test_v12_rejected_create_event_cannot_authorise() -> None:
    room = standard_room(ROOM_VERSION_12)
    rejected_create = Event(room.create.event_id, room.create.pdu, ROOM_VERSION_12, "bad")
    with pytest.raises(AuthError, match="rejected"):
        check_auth_rules(_message(room), room.state, rejected_create)
    with pytest.raises(AuthError, match="not supplied"):
        check_auth_rules(_message(room), room.state, None)


# --- rule 3: m.federate --------------------------------------------------------------


def test_unfederated_room_rejects_remote_senders(version: RoomVersion) -> None:
    room = standard_room(version, create_content={"m.federate": False})
    assert not room.allows(room.build_member("$bob", BOB, "join"))
    assert room.allows(room.build_member("$dave", DAVE, "join"))


# --- rule 4.3: joins --------------------------------------------------------------------


def test_creator_may_join_right_after_create(version: RoomVersion) -> None:
    room = RoomDag(version)
    assert room.allows(room.build_member("$j", ALICE, "join"))


def test_creator_rejoin_without_join_rules_is_rejected(version: RoomVersion) -> None:
    # rule 4.3.1 only covers the join whose sole prev_event is the create event
    room = RoomDag(version)
    room.member("$alice-join", ALICE, "join")
    room.member("$alice-leave", ALICE, "leave")
    assert not room.allows(room.build_member("$rejoin", ALICE, "join"))


def test_nobody_else_may_join_right_after_create(version: RoomVersion) -> None:
    room = RoomDag(version)
    assert not room.allows(room.build_member("$j", BOB, "join"))


def test_v12_additional_creator_is_not_the_first_joiner() -> None:
    room = RoomDag(ROOM_VERSION_12, create_content={"additional_creators": [BOB]})
    assert not room.allows(room.build_member("$j", BOB, "join"))


def test_cannot_join_on_behalf_of_someone_else(version: RoomVersion) -> None:
    room = standard_room(version)
    assert not room.allows(room.build_member("$j", ALICE, "join", BOB))


@pytest.mark.parametrize(
    ("join_rule", "prior_membership", "allowed"),
    [
        ("public", None, True),
        ("public", "leave", True),
        ("public", "ban", False),
        ("invite", None, False),
        ("invite", "invite", True),
        ("invite", "leave", False),
        ("knock", None, False),
        ("knock", "invite", True),
        ("knock", "knock", False),
        ("restricted", None, False),
        ("restricted", "invite", True),
        ("knock_restricted", "invite", True),
        ("knock_restricted", None, False),
        ("private", None, False),
        ("private", "invite", False),
    ],
)
def test_join_under_each_join_rule(
    version: RoomVersion, join_rule: str, prior_membership: str | None, allowed: bool
) -> None:
    room = standard_room(version, join_rule="invite")
    if prior_membership in ("invite", "ban", "leave"):
        room.member("$prior", ALICE, "invite", BOB)
        if prior_membership == "leave":
            room.member("$leave", BOB, "leave")
        if prior_membership == "ban":
            room.member("$ban", ALICE, "ban", BOB)
    if prior_membership == "knock":
        room.append("$jr-knock", "m.room.join_rules", ALICE, {"join_rule": "knock"}, "")
        room.member("$knock", BOB, "knock")
    room.append("$jr2", "m.room.join_rules", ALICE, {"join_rule": join_rule}, "")
    assert room.allows(room.build_member("$join", BOB, "join")) is allowed


def test_join_without_any_join_rules_event_is_rejected(version: RoomVersion) -> None:
    room = RoomDag(version)
    room.member("$alice-join", ALICE, "join")
    room.member("$inv", ALICE, "invite", BOB)
    assert not room.allows(room.build_member("$join", BOB, "join"))


def test_banned_user_cannot_rejoin(version: RoomVersion) -> None:
    room = standard_room(version)
    room.member("$bob-join", BOB, "join")
    room.member("$ban", ALICE, "ban", BOB)
    assert not room.allows(room.build_member("$rejoin", BOB, "join"))


def _restricted_room(version: RoomVersion, join_rule: str = "restricted") -> RoomDag:
    room = standard_room(version, join_rule="public", users={CAROL: 0}, invite=50)
    room.member("$carol-join", CAROL, "join")
    room.append("$jr-restricted", "m.room.join_rules", ALICE, {"join_rule": join_rule}, "")
    return room


@pytest.mark.parametrize("join_rule", ["restricted", "knock_restricted"])
def test_restricted_join_authorised_by_a_joined_user_who_can_invite(
    version: RoomVersion, join_rule: str
) -> None:
    room = _restricted_room(version, join_rule)
    join = room.build_member("$j", BOB, "join", join_authorised_via_users_server=ALICE)
    join.pdu["signatures"] = {"b.example": {}, "a.example": {}}
    assert room.allows(join, is_signed_by=signed_by_listed_servers)


def test_restricted_join_without_authorising_user_is_rejected(version: RoomVersion) -> None:
    room = _restricted_room(version)
    join = room.build_member("$j", BOB, "join")
    assert not room.allows(join, is_signed_by=signed_by_listed_servers)


def test_restricted_join_authorised_by_user_without_invite_power_is_rejected(
    version: RoomVersion,
) -> None:
    room = _restricted_room(version)
    join = room.build_member("$j", BOB, "join", join_authorised_via_users_server=CAROL)
    join.pdu["signatures"] = {"c.example": {}}
    with pytest.raises(AuthError, match="cannot invite"):
        room.check(join, is_signed_by=signed_by_listed_servers)


def test_restricted_join_authorised_by_non_member_is_rejected(version: RoomVersion) -> None:
    room = _restricted_room(version)
    join = room.build_member("$j", BOB, "join", join_authorised_via_users_server=DAVE)
    join.pdu["signatures"] = {"a.example": {}}
    with pytest.raises(AuthError, match="not joined"):
        room.check(join, is_signed_by=signed_by_listed_servers)


def test_restricted_join_not_signed_by_the_authorising_server_is_rejected(
    version: RoomVersion,
) -> None:
    room = _restricted_room(version)
    join = room.build_member("$j", BOB, "join", join_authorised_via_users_server=ALICE)
    join.pdu["signatures"] = {"b.example": {}}
    with pytest.raises(AuthError, match="not signed"):
        room.check(join, is_signed_by=signed_by_listed_servers)
    # without a way to check signatures the rules fail closed
    with pytest.raises(AuthError, match="cannot verify"):
        room.check(join)


def test_authorising_key_is_checked_even_for_invited_joiners(version: RoomVersion) -> None:
    # rule 4.2 comes before the join rules, so a bad signature rejects an invited user too
    room = _restricted_room(version)
    room.member("$inv", ALICE, "invite", BOB)
    join = room.build_member("$j", BOB, "join", join_authorised_via_users_server=ALICE)
    assert not room.allows(join, is_signed_by=lambda event, server: False)
    assert room.allows(room.build_member("$j2", BOB, "join"))


# --- rule 4.4: invites -----------------------------------------------------------------


def test_joined_member_may_invite_at_default_invite_level(version: RoomVersion) -> None:
    room = standard_room(version)
    room.member("$bob-join", BOB, "join")
    assert room.allows(room.build_member("$inv", BOB, "invite", CAROL))


def test_invite_needs_the_invite_level(version: RoomVersion) -> None:
    room = standard_room(version, invite=50)
    room.member("$bob-join", BOB, "join")
    assert not room.allows(room.build_member("$inv", BOB, "invite", CAROL))
    assert room.allows(room.build_member("$inv2", ALICE, "invite", CAROL))


def test_non_member_cannot_invite(version: RoomVersion) -> None:
    room = standard_room(version)
    assert not room.allows(room.build_member("$inv", BOB, "invite", CAROL))


@pytest.mark.parametrize("target_membership", ["join", "ban"])
def test_cannot_invite_joined_or_banned_user(version: RoomVersion, target_membership: str) -> None:
    room = standard_room(version)
    room.member("$bob-join", BOB, "join")
    if target_membership == "ban":
        room.member("$ban", ALICE, "ban", BOB)
    assert not room.allows(room.build_member("$inv", ALICE, "invite", BOB))


# --- rule 4.4.1: third-party invites -------------------------------------------------


def _third_party_room(version: RoomVersion) -> RoomDag:
    room = standard_room(version, join_rule="invite")
    room.append(
        "$3pid", "m.room.third_party_invite", ALICE,
        {"display_name": "b...", "public_key": "K1", "public_keys": [{"public_key": "K2"}]},
        "tok",
    )
    return room


def _signed_invite(room: RoomDag, sender: str = ALICE, **signed: Any) -> Event:
    signed_content = {"mxid": BOB, "token": "tok", "signatures": {"id.example": {}}, **signed}
    return room.build_member(
        "$3inv", sender, "invite", BOB,
        third_party_invite={"display_name": "b...", "signed": signed_content},
    )


def keys_include_k2(signed: Any, public_keys: Any) -> bool:
    return "K2" in public_keys


def test_third_party_invite_signed_by_a_listed_key_is_allowed(version: RoomVersion) -> None:
    room = _third_party_room(version)
    assert room.allows(_signed_invite(room), is_third_party_signed=keys_include_k2)


@pytest.mark.parametrize(
    "signed_changes",
    [{"mxid": CAROL}, {"token": "other"}, {"mxid": None}],
    ids=["mxid-mismatch", "unknown-token", "no-mxid"],
)
def test_third_party_invite_with_bad_signed_block_is_rejected(
    version: RoomVersion, signed_changes: dict[str, Any]
) -> None:
    room = _third_party_room(version)
    invite = _signed_invite(room, **signed_changes)
    signed = invite.content["third_party_invite"]["signed"]
    for key, value in signed_changes.items():
        if value is None:
            del signed[key]
    assert not room.allows(invite, is_third_party_signed=keys_include_k2)


def test_third_party_invite_by_another_sender_than_the_3pid_invite_is_rejected(
    version: RoomVersion,
) -> None:
    room = _third_party_room(version)
    room.member("$dave-invite", ALICE, "invite", DAVE)
    room.member("$dave", DAVE, "join")
    invite = _signed_invite(room, sender=DAVE)
    with pytest.raises(AuthError, match="did not send"):
        room.check(invite, is_third_party_signed=keys_include_k2)


def test_third_party_invite_with_bad_signature_is_rejected(version: RoomVersion) -> None:
    room = _third_party_room(version)
    assert not room.allows(_signed_invite(room), is_third_party_signed=lambda s, k: False)
    assert not room.allows(_signed_invite(room))


def test_third_party_invite_of_banned_user_is_rejected(version: RoomVersion) -> None:
    room = _third_party_room(version)
    room.member("$ban", ALICE, "ban", BOB)
    assert not room.allows(_signed_invite(room), is_third_party_signed=keys_include_k2)


def test_third_party_invite_event_needs_invite_level(version: RoomVersion) -> None:
    room = standard_room(version, invite=50)
    room.member("$bob-join", BOB, "join")
    event = room.build("$t", "m.room.third_party_invite", BOB, {"public_key": "K"}, "t")
    assert not room.allows(event)


# --- rules 4.5 and 4.6: leave, kick, ban, unban ---------------------------------------


def test_member_may_leave_and_invitee_may_reject(version: RoomVersion) -> None:
    room = standard_room(version)
    room.member("$bob-join", BOB, "join")
    room.member("$inv", ALICE, "invite", CAROL)
    assert room.allows(room.build_member("$l1", BOB, "leave"))
    assert room.allows(room.build_member("$l2", CAROL, "leave"))


def test_outsider_cannot_leave(version: RoomVersion) -> None:
    room = standard_room(version)
    assert not room.allows(room.build_member("$l", BOB, "leave"))


@pytest.mark.parametrize(
    ("bob_level", "carol_level", "kick", "allowed"),
    [(50, 0, 50, True), (49, 0, 50, False), (50, 50, 50, False), (60, 50, 50, True)],
)
def test_kick_needs_kick_level_and_more_power_than_target(
    version: RoomVersion, bob_level: int, carol_level: int, kick: int, allowed: bool
) -> None:
    room = standard_room(version, users={BOB: bob_level, CAROL: carol_level}, kick=kick)
    room.member("$bob-join", BOB, "join")
    room.member("$carol-join", CAROL, "join")
    assert room.allows(room.build_member("$kick", BOB, "leave", CAROL)) is allowed


@pytest.mark.parametrize(
    ("bob_level", "carol_level", "allowed"),
    [(50, 0, True), (49, 0, False), (50, 50, False)],
)
def test_ban_needs_ban_level_and_more_power_than_target(
    version: RoomVersion, bob_level: int, carol_level: int, allowed: bool
) -> None:
    room = standard_room(version, users={BOB: bob_level, CAROL: carol_level})
    room.member("$bob-join", BOB, "join")
    assert room.allows(room.build_member("$ban", BOB, "ban", CAROL)) is allowed


def test_non_member_cannot_ban(version: RoomVersion) -> None:
    room = standard_room(version, users={BOB: 100} if version.privileged_creators else {BOB: 99})
    assert not room.allows(room.build_member("$ban", BOB, "ban", CAROL))


def test_unban_needs_ban_level_as_well_as_kick_level(version: RoomVersion) -> None:
    room = standard_room(version, users={BOB: 50}, kick=50, ban=60)
    room.member("$bob-join", BOB, "join")
    room.member("$ban", ALICE, "ban", CAROL)
    assert not room.allows(room.build_member("$unban", BOB, "leave", CAROL))
    assert room.allows(room.build_member("$unban2", ALICE, "leave", CAROL))


# --- rule 4.7: knocking -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("join_rule", "prior", "allowed"),
    [
        ("knock", None, True),
        ("knock_restricted", None, True),
        ("knock", "leave", True),
        ("public", None, False),
        ("invite", None, False),
        ("restricted", None, False),
        ("knock", "invite", False),
        ("knock", "ban", False),
        ("knock", "join", False),
    ],
)
def test_knock_rules(
    version: RoomVersion, join_rule: str, prior: str | None, allowed: bool
) -> None:
    room = standard_room(version, join_rule="public")
    if prior in ("join", "leave"):
        room.member("$bob-join", BOB, "join")
    if prior == "leave":
        room.member("$bob-leave", BOB, "leave")
    if prior == "invite":
        room.member("$inv", ALICE, "invite", BOB)
    if prior == "ban":
        room.member("$ban", ALICE, "ban", BOB)
    room.append("$jr2", "m.room.join_rules", ALICE, {"join_rule": join_rule}, "")
    assert room.allows(room.build_member("$knock", BOB, "knock")) is allowed


def test_cannot_knock_on_behalf_of_someone_else(version: RoomVersion) -> None:
    room = standard_room(version, join_rule="knock")
    assert not room.allows(room.build_member("$knock", ALICE, "knock", BOB))


def test_unknown_membership_and_missing_membership_are_rejected(version: RoomVersion) -> None:
    room = standard_room(version)
    assert not room.allows(room.build_member("$x", ALICE, "dance"))
    no_membership = room.build("$y", "m.room.member", ALICE, {}, ALICE)
    assert not room.allows(no_membership)


# --- rules 5 to 8: everything else ---------------------------------------------------------


def test_non_member_cannot_send_messages(version: RoomVersion) -> None:
    room = standard_room(version)
    assert not room.allows(_message(room, sender=BOB))
    room.member("$bob-join", BOB, "join")
    assert room.allows(_message(room, sender=BOB))


def test_user_without_power_cannot_change_the_room_name(version: RoomVersion) -> None:
    room = standard_room(version)
    room.member("$bob-join", BOB, "join")
    name = room.build("$name", "m.room.name", BOB, {"name": "mine"}, "")
    assert not room.allows(name)
    assert room.allows(room.build("$name2", "m.room.name", ALICE, {"name": "ours"}, ""))


def test_events_map_can_open_state_to_everyone(version: RoomVersion) -> None:
    room = standard_room(version, events={"m.room.topic": 0})
    room.member("$bob-join", BOB, "join")
    assert room.allows(room.build("$topic", "m.room.topic", BOB, {"topic": "t"}, ""))


def test_message_level_from_events_default(version: RoomVersion) -> None:
    room = standard_room(version, events_default=10)
    room.member("$bob-join", BOB, "join")
    assert not room.allows(_message(room, sender=BOB))


def test_state_key_naming_another_user_is_rejected(version: RoomVersion) -> None:
    room = standard_room(version, events={"org.example.status": 0})
    room.member("$bob-join", BOB, "join")
    own = room.build("$s1", "org.example.status", BOB, {}, BOB)
    other = room.build("$s2", "org.example.status", BOB, {}, CAROL)
    assert room.allows(own)
    assert not room.allows(other)


def test_redaction_is_governed_by_events_not_redact_level(version: RoomVersion) -> None:
    room = standard_room(version, redact=100)
    room.member("$bob-join", BOB, "join")
    redaction = room.build("$r", "m.room.redaction", BOB, {"redacts": "$x"}, redacts="$x")
    assert room.allows(redaction)


# --- rule 9 (v12: 10): power levels ---------------------------------------------------------


def _pl_change(room: RoomDag, sender: str, **content: Any) -> Event:
    return room.build("$pl-new", "m.room.power_levels", sender, content, "")


def _levels_room(version: RoomVersion) -> RoomDag:
    room = standard_room(version, users={BOB: 50, CAROL: 50, DAVE: 10})
    room.member("$bob-join", BOB, "join")
    return room


def _users(version: RoomVersion, **levels: int) -> dict[str, int]:
    base = {} if version.privileged_creators else {ALICE: 100}
    names = {"bob": BOB, "carol": CAROL, "dave": DAVE}
    return {**base, **{names[k]: v for k, v in levels.items()}}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"ban": "50"}, "integer"),
        ({"kick": 50.0}, "integer"),
        ({"users_default": True}, "integer"),
        ({"events": {"m.room.name": "50"}}, "events"),
        ({"events": ["m.room.name"]}, "events"),
        ({"notifications": {"room": 1.5}}, "notifications"),
        ({"users": {"not-a-user": 10}}, "users"),
        ({"users": {BOB: "10"}}, "users"),
        ({"users": []}, "users"),
    ],
)
def test_power_levels_must_be_integers(
    version: RoomVersion, content: dict[str, Any], reason: str
) -> None:
    room = standard_room(version)
    with pytest.raises(AuthError, match=reason):
        room.check(_pl_change(room, ALICE, **content))


def test_first_power_levels_event_may_set_anything(version: RoomVersion) -> None:
    room = RoomDag(version)
    room.member("$alice-join", ALICE, "join")
    first = _pl_change(room, ALICE, users=_users(version, bob=1000), ban=1000)
    assert room.allows(first)


def test_cannot_raise_a_user_above_own_level(version: RoomVersion) -> None:
    room = _levels_room(version)
    assert room.allows(_pl_change(room, BOB, users=_users(version, bob=50, carol=50, dave=50)))
    assert not room.allows(_pl_change(room, BOB, users=_users(version, bob=50, carol=50, dave=51)))


def test_cannot_demote_a_peer_but_may_demote_oneself(version: RoomVersion) -> None:
    room = _levels_room(version)
    room.append("$jr-state", "m.room.power_levels", ALICE,
                {"users": _users(version, bob=50, carol=50, dave=10), "state_default": 50}, "")
    assert not room.allows(_pl_change(room, BOB, users=_users(version, bob=50, carol=0, dave=10)))
    assert room.allows(_pl_change(room, BOB, users=_users(version, bob=20, carol=50, dave=10)))
    assert room.allows(_pl_change(room, BOB, users=_users(version, bob=50, carol=50)))  # dave removed


def test_cannot_change_thresholds_above_own_level(version: RoomVersion) -> None:
    room = _levels_room(version)
    users = _users(version, bob=50, carol=50, dave=10)
    assert room.allows(_pl_change(room, BOB, users=users, kick=40))
    assert not room.allows(_pl_change(room, BOB, users=users, kick=60))
    room.append("$pl-ban", "m.room.power_levels", ALICE, {"users": users, "ban": 80}, "")
    assert not room.allows(_pl_change(room, BOB, users=users))  # removing ban=80
    assert not room.allows(_pl_change(room, BOB, users=users, ban=40))


def test_cannot_change_event_levels_above_own_level(version: RoomVersion) -> None:
    room = _levels_room(version)
    users = _users(version, bob=50, carol=50, dave=10)
    room.append("$pl-ev", "m.room.power_levels", ALICE,
                {"users": users, "events": {"m.room.tombstone": 100, "m.room.name": 50}}, "")
    assert room.allows(
        _pl_change(room, BOB, users=users, events={"m.room.tombstone": 100, "m.room.name": 20})
    )
    assert not room.allows(_pl_change(room, BOB, users=users, events={"m.room.name": 50}))
    assert not room.allows(_pl_change(
        room, BOB, users=users,
        events={"m.room.tombstone": 100, "m.room.name": 50}, notifications={"room": 60},
    ))


def test_pre_v12_creator_can_be_demoted_by_higher_user() -> None:
    room = standard_room(ROOM_VERSION_11, users={BOB: 101})
    room.member("$bob-join", BOB, "join")
    assert room.allows(_pl_change(room, BOB, users={ALICE: 0, BOB: 101}))


def test_v12_power_levels_cannot_list_creators() -> None:
    room = standard_room(ROOM_VERSION_12, create_content={"additional_creators": [CAROL]})
    with pytest.raises(AuthError, match="creators"):
        room.check(_pl_change(room, ALICE, users={ALICE: 100}))
    with pytest.raises(AuthError, match="creators"):
        room.check(_pl_change(room, ALICE, users={CAROL: 0}))


def test_v12_creator_cannot_be_kicked_or_banned_even_by_another_creator() -> None:
    room = standard_room(ROOM_VERSION_12, create_content={"additional_creators": [CAROL]},
                         users={BOB: 100})
    room.member("$bob-join", BOB, "join")
    room.member("$carol-join", CAROL, "join")
    assert not room.allows(room.build_member("$kick", BOB, "leave", ALICE))
    assert not room.allows(room.build_member("$ban", CAROL, "ban", ALICE))
    assert room.allows(room.build_member("$ban-bob", CAROL, "ban", BOB))


def test_v12_creators_power_is_infinite() -> None:
    room = standard_room(ROOM_VERSION_12, users={BOB: 2**53 - 1}, events={"m.room.name": 2**53 - 1})
    room.member("$bob-join", BOB, "join")
    assert room.allows(room.build("$name", "m.room.name", ALICE, {"name": "n"}, ""))
    # Alice may even demote the maximal user
    assert room.allows(_pl_change(room, ALICE, users={BOB: 0}))
