"""The room model applying sync responses: names, members, power, unread, invites, DMs."""

from __future__ import annotations

import math
from typing import Any

from clients.sdk.friends import friends
from clients.sdk.state import ClientState

ME = "@me:hs"
BOB = "@bob:hs"
CAROL = "@carol:hs"


def state_event(etype: str, content: dict[str, Any], state_key: str = "", sender: str = ME, **kw: Any) -> dict[str, Any]:
    return {"type": etype, "state_key": state_key, "content": content, "sender": sender,
            "event_id": f"${etype}{state_key}{len(str(content))}", "origin_server_ts": 1, **kw}


def member(user: str, membership: str = "join", name: str | None = None, **extra: Any) -> dict[str, Any]:
    content: dict[str, Any] = {"membership": membership, **extra}
    if name:
        content["displayname"] = name
    return state_event("m.room.member", content, user, sender=user)


_n = 0


def message(sender: str, body: str, **content: Any) -> dict[str, Any]:
    global _n
    _n += 1
    return {"type": "m.room.message", "sender": sender, "event_id": f"$m{_n}",
            "origin_server_ts": 1000 + _n, "content": {"msgtype": "m.text", "body": body, **content}}


def joined(room_id: str, *, state: list[Any] = (), timeline: list[Any] = (), **extra: Any) -> dict[str, Any]:  # type: ignore[assignment]
    return {"next_batch": "n", "rooms": {"join": {room_id: {
        "state": {"events": list(state)}, "timeline": {"events": list(timeline), "prev_batch": "p"}, **extra}}}}


def test_room_name_topic_and_members_from_state() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", state=[
        state_event("m.room.create", {"room_version": "11"}),
        state_event("m.room.name", {"name": "Lounge"}),
        state_event("m.room.topic", {"topic": "chat"}),
        member(ME, name="Me"), member(BOB, name="Bob"),
    ]))
    room = s.rooms["!r"]
    assert (room.display_name, room.topic, room.my_membership) == ("Lounge", "chat", "join")
    assert room.member_name(BOB) == "Bob"
    assert s.next_batch == "n"


def test_room_without_name_uses_alias_then_heroes() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", state=[member(ME), member(BOB, name="Bob"), member(CAROL, name="Carol")]))
    assert s.rooms["!r"].display_name == "Bob and Carol"
    s.apply_sync(joined("!r", timeline=[state_event("m.room.canonical_alias", {"alias": "#a:hs"})]))
    assert s.rooms["!r"].display_name == "#a:hs"


def test_summary_heroes_with_more_members() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", summary={"m.heroes": [BOB], "m.joined_member_count": 4}))
    assert s.rooms["!r"].display_name == f"{BOB} and 2 others"


def test_empty_room_name() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", state=[member(ME)]))
    assert s.rooms["!r"].display_name == "Empty room"


def test_clashing_display_names_are_disambiguated() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", state=[member(BOB, name="Sam"), member(CAROL, name="Sam")]))
    assert s.rooms["!r"].member_name(BOB) == f"Sam ({BOB})"


def test_power_levels_and_v12_creators() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", state=[
        state_event("m.room.create", {"room_version": "12"}, sender=ME),
        state_event("m.room.power_levels", {"users": {BOB: 50}, "users_default": 0, "kick": 75}),
    ]))
    room = s.rooms["!r"]
    assert room.power_level(ME) == math.inf
    assert room.power_level(BOB) == 50 and room.power_level(CAROL) == 0
    assert room.required_level("kick") == 75 and room.required_level("ban") == 50


def test_power_levels_absent_gives_creator_100() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", state=[state_event("m.room.create", {"room_version": "10"}, sender=BOB)]))
    assert s.rooms["!r"].power_level(BOB) == 100 and s.rooms["!r"].power_level(ME) == 0


def test_unread_counts_messages_from_others_until_own_receipt() -> None:
    s = ClientState(ME)
    first, second = message(BOB, "one"), message(BOB, "two")
    s.apply_sync(joined("!r", timeline=[first, second]))
    assert s.rooms["!r"].unread == 2
    s.apply_sync(joined("!r", ephemeral={"events": [
        {"type": "m.receipt", "content": {first["event_id"]: {"m.read": {ME: {"ts": 1}}}}}]}))
    assert s.rooms["!r"].unread == 1
    s.apply_sync(joined("!r", timeline=[message(ME, "mine")]))
    assert s.rooms["!r"].unread == 0


def test_server_notification_count_wins() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", timeline=[message(BOB, "x")], unread_notifications={"notification_count": 5, "highlight_count": 1}))
    assert s.rooms["!r"].unread == 5 and s.rooms["!r"].highlight_count == 1


def test_typing_ephemeral() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", ephemeral={"events": [{"type": "m.typing", "content": {"user_ids": [BOB]}}]}))
    assert s.rooms["!r"].typing == [BOB]


def test_invite_with_stripped_state() -> None:
    s = ClientState(ME)
    updates = s.apply_sync({"next_batch": "n", "rooms": {"invite": {"!i": {"invite_state": {"events": [
        {"type": "m.room.name", "state_key": "", "content": {"name": "Secret"}, "sender": BOB},
        {"type": "m.room.member", "state_key": ME, "content": {"membership": "invite", "is_direct": True}, "sender": BOB},
    ]}}}}})
    room = s.rooms["!i"]
    assert (room.my_membership, room.inviter, room.display_name, room.is_direct) == ("invite", BOB, "Secret", True)
    assert [u.kind for u in updates] == ["invite"] and updates[0].event["sender"] == BOB
    assert s.invites == [room]


def test_leave_section_marks_room_left() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", state=[member(ME)]))
    kick = state_event("m.room.member", {"membership": "leave"}, ME, sender=BOB)
    updates = s.apply_sync({"rooms": {"leave": {"!r": {"timeline": {"events": [kick]}}}}})
    assert s.rooms["!r"].my_membership == "leave"
    assert updates[-1].kind == "left" and updates[-1].event["sender"] == BOB


def test_limited_timeline_starts_afresh() -> None:
    s = ClientState(ME)
    s.apply_sync(joined("!r", timeline=[message(BOB, "old")]))
    sync = joined("!r", timeline=[message(BOB, "new")])
    sync["rooms"]["join"]["!r"]["timeline"].update(limited=True, prev_batch="gap")
    s.apply_sync(sync)
    room = s.rooms["!r"]
    assert [i.body for i in room.timeline] == ["new"] and room.prev_batch == "gap"


def test_m_direct_marks_dm_rooms_and_spaces_track_children() -> None:
    s = ClientState(ME)
    s.apply_sync({"account_data": {"events": [{"type": "m.direct", "content": {BOB: ["!dm"]}}]},
                  **joined("!dm", state=[member(ME), member(BOB)])})
    assert s.rooms["!dm"].is_direct and s.direct == {BOB: ["!dm"]}
    s.apply_sync(joined("!space", state=[
        state_event("m.room.create", {"type": "m.space", "room_version": "11"}),
        state_event("m.space.child", {"via": ["hs"]}, "!child"),
        state_event("m.space.child", {}, "!removed"),
    ]))
    assert s.rooms["!space"].is_space and set(s.rooms["!space"].space_children) == {"!child"}


def test_presence_updates() -> None:
    s = ClientState(ME)
    s.apply_sync({"presence": {"events": [{"type": "m.presence", "sender": BOB,
                                           "content": {"presence": "online", "currently_active": True}}]}})
    assert s.presence[BOB].presence == "online" and s.presence[BOB].currently_active


def test_friends_contact_outgoing_incoming() -> None:
    s = ClientState(ME)
    s.apply_sync({
        "account_data": {"events": [{"type": "m.direct", "content": {BOB: ["!b"], CAROL: ["!c"]}}]},
        "presence": {"events": [{"type": "m.presence", "sender": BOB, "content": {"presence": "online"}}]},
        "rooms": {
            "join": {
                "!b": {"state": {"events": [member(ME), member(BOB, name="Bob")]}},
                "!c": {"state": {"events": [member(ME), member(CAROL, "invite")]}},
            },
            "invite": {"!d": {"invite_state": {"events": [
                {"type": "m.room.member", "state_key": ME, "sender": "@dan:hs",
                 "content": {"membership": "invite", "is_direct": True}}]}}},
        },
    })
    got = [(f.user_id, f.status, f.presence) for f in friends(s)]
    assert got == [(BOB, "contact", "online"), (CAROL, "outgoing", None), ("@dan:hs", "incoming", None)]


def test_non_direct_invite_is_not_a_friend_request() -> None:
    s = ClientState(ME)
    s.apply_sync({"rooms": {"invite": {"!x": {"invite_state": {"events": [
        {"type": "m.room.member", "state_key": ME, "sender": BOB, "content": {"membership": "invite"}}]}}}}})
    assert friends(s) == []
