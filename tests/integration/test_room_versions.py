"""Every stable room version, 1 to 12, over real HTTP: create, send, state, redact,
paginate, upgrade.

spec: rooms/v1.md … v12.md; client-server-api "Room versions" (capabilities,
M_UNSUPPORTED_ROOM_VERSION), modules/room_upgrades.md. The PDUs this server builds
are checked in the format of their version: v1/v2 carry a server-chosen
``$opaque:server`` event_id and ``[event_id, {"sha256": hash}]`` references, v3 IDs
are standard base64 reference hashes, v4+ URL-safe ones.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from federation.crypto.base64 import encode_base64
from federation.rooms.builder import verify_event_signature
from federation.rooms.events import Event
from federation.rooms.hashes import check_content_hash, compute_reference_hash
from federation.rooms.versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.conftest import RunningHomeserver
from tests.http_client import MatrixError, MatrixHttp, q

V3 = "/_matrix/client/v3"
ALL_VERSIONS = [str(n) for n in range(1, 13)]

# Event ID grammar per version (rooms/fragments/v1-event-ids.md, rooms/v3.md, v4-event-ids.md).
_SERVER_ID = re.compile(r"\$[A-Za-z]+:.+")
_STANDARD_B64_ID = re.compile(r"\$[A-Za-z0-9+/]{43}")
_URL_SAFE_B64_ID = re.compile(r"\$[A-Za-z0-9_-]{43}")


def id_pattern(version: str) -> re.Pattern[str]:
    if version in ("1", "2"):
        return _SERVER_ID
    return _STANDARD_B64_ID if version == "3" else _URL_SAFE_B64_ID


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("alice")


@pytest.fixture
async def bob(homeserver: RunningHomeserver) -> MatrixHttp:
    return await homeserver.register("bob")


async def stored(homeserver: RunningHomeserver, event_id: str) -> Event:
    event = await homeserver.hs.events.get_event(event_id)
    assert event is not None, event_id
    return event


def assert_wire_format(event: Event, parents: dict[str, Event], homeserver: RunningHomeserver) -> None:
    """The PDU as stored and sent is in its version's format, hashed and signed."""
    version = event.room_version
    pdu = event.pdu
    if version.event_id_in_pdu:
        assert pdu["event_id"] == event.event_id
        for key in ("prev_events", "auth_events"):
            for ref_id, hashes in pdu[key]:
                parent = parents[ref_id]
                expected = encode_base64(compute_reference_hash(parent.pdu, version))
                assert hashes == {"sha256": expected}, (key, ref_id)
    else:
        assert "event_id" not in pdu
        assert all(isinstance(i, str) for i in pdu["prev_events"] + pdu["auth_events"])
    assert check_content_hash(pdu, version)
    key = homeserver.hs.signing_key
    verify_event_signature(pdu, version, homeserver.server_name, key.key_id, key.verify_key_bytes)


async def parents_of(homeserver: RunningHomeserver, event: Event) -> dict[str, Event]:
    ids = [*event.prev_event_ids, *event.auth_event_ids]
    return {i: await stored(homeserver, i) for i in ids}


async def timeline_bodies(api: MatrixHttp, room_id: str) -> list[str]:
    chunk = (await api.messages(room_id, dir="b", limit=50))["chunk"]
    return [e["content"].get("body") for e in reversed(chunk) if e["type"] == "m.room.message"]


# --- capabilities and createRoom ---------------------------------------------------------
async def test_capabilities_list_all_twelve_versions_as_stable(alice: MatrixHttp) -> None:
    caps = (await alice.request("GET", f"{V3}/capabilities"))["capabilities"]["m.room_versions"]
    assert caps["default"] == "12"
    assert caps["available"] == {v: "stable" for v in ALL_VERSIONS}


@pytest.mark.parametrize("version", ["0", "13", "1.5", "org.example.custom"])
async def test_unknown_room_version_is_refused(alice: MatrixHttp, version: str) -> None:
    with pytest.raises(MatrixError) as info:
        await alice.create_room(room_version=version)
    assert (info.value.status, info.value.errcode) == (400, "M_UNSUPPORTED_ROOM_VERSION")


@pytest.mark.parametrize("version", ALL_VERSIONS)
async def test_room_lifecycle_in_each_version(
    homeserver: RunningHomeserver, alice: MatrixHttp, bob: MatrixHttp, version: str
) -> None:
    room_id = await alice.create_room(room_version=version, preset="public_chat", name="V" + version)
    create = await alice.get_state(room_id, "m.room.create")
    assert create["room_version"] == version
    assert ("creator" in create) == (version not in ("11", "12"))
    await bob.join(room_id)

    first = await alice.send(room_id, "hello")
    second = await bob.send(room_id, "reply")
    await alice.send_state(room_id, "m.room.topic", {"topic": "versions"})
    assert (await bob.get_state(room_id, "m.room.topic"))["topic"] == "versions"
    for event_id in (first, second):
        assert id_pattern(version).fullmatch(event_id), event_id
        event = await stored(homeserver, event_id)
        assert_wire_format(event, await parents_of(homeserver, event), homeserver)

    redaction = (await alice.request(
        "PUT", f"{V3}/rooms/{q(room_id)}/redact/{q(second)}/r1", {"reason": "tidy"}
    ))["event_id"]
    assert id_pattern(version).fullmatch(redaction)
    redacted = await alice.request("GET", f"{V3}/rooms/{q(room_id)}/event/{q(second)}")
    assert redacted["content"] == {}
    assert redacted["unsigned"]["redacted_because"]["event_id"] == redaction

    assert await timeline_bodies(bob, room_id) == ["hello", None]


@pytest.mark.parametrize("version", ["1", "2"])
async def test_v1_event_ids_name_this_server(alice: MatrixHttp, homeserver: RunningHomeserver,
                                             version: str) -> None:
    room_id = await alice.create_room(room_version=version)
    event_id = await alice.send(room_id, "where from")
    assert event_id.endswith(":" + homeserver.server_name)


async def test_v1_room_keeps_building_after_its_cache_is_dropped(
    homeserver: RunningHomeserver, alice: MatrixHttp
) -> None:
    """After a restart the room is loaded from storage: the reference hashes of its
    forward extremities must be recomputed for the next event's prev_events."""
    room_id = await alice.create_room(room_version="1")
    tip = await alice.send(room_id, "before")
    homeserver.hs.events.forget_room(room_id, [])
    after = await stored(homeserver, await alice.send(room_id, "after"))
    assert after.prev_event_ids == [tip]
    assert_wire_format(after, await parents_of(homeserver, after), homeserver)
    assert await timeline_bodies(alice, room_id) == ["before", "after"]


# --- canonical JSON (rooms/fragments/v1-canonical-json.md, v6-canonical-json.md) --------
@pytest.mark.parametrize(
    "content",
    [{"body": "x", "msgtype": "m.text", "rating": 4.5}, {"body": "x", "msgtype": "m.text", "n": 2**53}],
)
@pytest.mark.parametrize("version", ["6", "10", "12"])
async def test_v6_and_later_refuse_non_canonical_numbers(
    alice: MatrixHttp, version: str, content: dict[str, Any]
) -> None:
    room_id = await alice.create_room(room_version=version)
    with pytest.raises(MatrixError) as info:
        await alice.send(room_id, content)
    assert (info.value.status, info.value.errcode) == (400, "M_BAD_JSON")


@pytest.mark.parametrize("version", ["1", "3", "5"])
async def test_versions_before_6_accept_floats_and_large_integers(
    homeserver: RunningHomeserver, alice: MatrixHttp, version: str
) -> None:
    room_id = await alice.create_room(room_version=version)
    event_id = await alice.send(room_id, {"body": "x", "msgtype": "m.text", "rating": 4.5, "n": 2**53})
    event = await stored(homeserver, event_id)
    assert event.content["rating"] == 4.5 and event.content["n"] == 2**53
    assert_wire_format(event, await parents_of(homeserver, event), homeserver)


# --- power levels as strings (rooms/fragments/v1-stringy-power-levels.md) ---------------
@pytest.mark.parametrize("version", ["1", "9"])
async def test_string_power_levels_count_before_v10(
    alice: MatrixHttp, bob: MatrixHttp, version: str
) -> None:
    room_id = await alice.create_room(room_version=version, preset="public_chat")
    await bob.join(room_id)
    levels = await alice.get_state(room_id, "m.room.power_levels")
    levels["users"][bob.user_id] = " +050 "
    levels["events"]["m.room.topic"] = "50"
    await alice.send_state(room_id, "m.room.power_levels", levels)
    # bob's 50 (from a string) meets the topic's 50 (from a string).
    await bob.send_state(room_id, "m.room.topic", {"topic": "set by bob"})
    assert (await alice.get_state(room_id, "m.room.topic"))["topic"] == "set by bob"


async def test_string_power_levels_are_refused_from_v10(alice: MatrixHttp, bob: MatrixHttp) -> None:
    room_id = await alice.create_room(room_version="10", preset="public_chat")
    await bob.join(room_id)
    levels = await alice.get_state(room_id, "m.room.power_levels")
    levels["users"][bob.user_id] = "50"
    with pytest.raises(MatrixError) as info:
        await alice.send_state(room_id, "m.room.power_levels", levels)
    assert info.value.status == 403


# --- redactions in v1/v2 (auth rule 11) and later ("Handling redactions") ---------------
@pytest.mark.parametrize("version", ["1", "2", "3", "11"])
async def test_who_may_redact_in_each_version(
    alice: MatrixHttp, bob: MatrixHttp, version: str
) -> None:
    room_id = await alice.create_room(room_version=version, preset="public_chat")
    await bob.join(room_id)
    alices = await alice.send(room_id, "alice's words")
    bobs = await bob.send(room_id, "bob's words")
    with pytest.raises(MatrixError) as info:
        await bob.request("PUT", f"{V3}/rooms/{q(room_id)}/redact/{q(alices)}/r1", {})
    assert info.value.status == 403
    await bob.request("PUT", f"{V3}/rooms/{q(room_id)}/redact/{q(bobs)}/r2", {})
    await alice.request("PUT", f"{V3}/rooms/{q(room_id)}/redact/{q(alices)}/r3", {})
    assert await timeline_bodies(alice, room_id) == [None, None]


# --- upgrades ---------------------------------------------------------------------------
async def test_upgrade_from_v1_to_v12(
    homeserver: RunningHomeserver, alice: MatrixHttp, bob: MatrixHttp
) -> None:
    old_room = await alice.create_room(room_version="1", preset="public_chat", name="Old times")
    await bob.join(old_room)
    levels = await alice.get_state(old_room, "m.room.power_levels")
    levels["users"][bob.user_id] = "50"  # a stringy level, refused by v12
    await alice.send_state(old_room, "m.room.power_levels", levels)
    await alice.send(old_room, "last words")

    new_room = (await alice.request(
        "POST", f"{V3}/rooms/{q(old_room)}/upgrade", {"new_version": "12"}
    ))["replacement_room"]

    tombstone = await alice.get_state(old_room, "m.room.tombstone")
    assert tombstone["replacement_room"] == new_room
    create = await alice.get_state(new_room, "m.room.create")
    assert create["room_version"] == "12"
    assert create["predecessor"]["room_id"] == old_room
    assert (await alice.get_state(new_room, "m.room.name"))["name"] == "Old times"
    new_levels = await alice.get_state(new_room, "m.room.power_levels")
    assert new_levels["users"][bob.user_id] == 50
    await bob.join(new_room)
    await bob.send(new_room, "new times")
    assert await timeline_bodies(alice, new_room) == ["new times"]


@pytest.mark.parametrize("version", ["3", "9"])
async def test_upgrade_into_older_versions(alice: MatrixHttp, version: str) -> None:
    old_room = await alice.create_room(room_version="12")
    new_room = (await alice.request(
        "POST", f"{V3}/rooms/{q(old_room)}/upgrade", {"new_version": version}
    ))["replacement_room"]
    assert (await alice.get_state(new_room, "m.room.create"))["room_version"] == version


def test_every_version_is_known() -> None:
    versions: list[RoomVersion] = list(KNOWN_ROOM_VERSIONS.values())
    assert [v.identifier for v in versions] == ALL_VERSIONS
