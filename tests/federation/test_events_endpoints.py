"""Serving the room graph: /event, /state, /state_ids, /event_auth, /get_missing_events, /backfill.

spec: server-server-api.md, "Retrieving events" and "Backfilling and retrieving
missing events"; shapes as in /work/shared/interop/captures (Synapse 1.163.2).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import ClientSession

from federation.transport.errors import FederationHttpError
from tests.federation.harness import FederatedHomeserver, federated_homeservers
from tests.integration.sync_waiting import sync_until, timeline_of

V1 = "/_matrix/federation/v1"


def seg(value: str) -> str:
    return quote(value, safe="")


class SharedRoom:
    def __init__(self, servers: list[FederatedHomeserver], room_id: str, messages: list[str]) -> None:
        self.hs1, self.hs2, self.outsider = servers
        self.room_id = room_id
        self.messages = messages  # event IDs, oldest first


@pytest.fixture
async def shared(tmp_path: Path) -> AsyncIterator[SharedRoom]:
    async with federated_homeservers(tmp_path, 3) as servers:
        hs1, hs2, _ = servers
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="public_chat", name="served")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
        await bob.join(room_id)
        messages = [await alice.send(room_id, f"m{i}") for i in range(5)]
        await sync_until(bob, None, lambda r: any(e["content"].get("body") == "m4"
                                                  for e in timeline_of(r, room_id)), within=15.0)
        yield SharedRoom(servers, room_id, messages)


async def ask(server: FederatedHomeserver, target: FederatedHomeserver, path: str,
              query: dict[str, Any] | None = None) -> Any:
    return await server.hs.federation_client.get_json(target.server_name, path, query)


async def test_event_is_served_to_a_server_in_the_room(shared: SharedRoom) -> None:
    body = await ask(shared.hs2, shared.hs1, f"{V1}/event/{seg(shared.messages[0])}")
    assert body["origin"] == shared.hs1.server_name
    assert isinstance(body["origin_server_ts"], int)
    [pdu] = body["pdus"]
    assert pdu["content"]["body"] == "m0" and pdu["room_id"] == shared.room_id
    assert "event_id" not in pdu and "unsigned" not in pdu


async def test_event_is_refused_to_a_server_not_in_the_room(shared: SharedRoom) -> None:
    with pytest.raises(FederationHttpError) as err:
        await ask(shared.outsider, shared.hs1, f"{V1}/event/{seg(shared.messages[0])}")
    assert err.value.status == 403 and err.value.errcode == "M_FORBIDDEN"


async def test_unknown_event_is_404(shared: SharedRoom) -> None:
    with pytest.raises(FederationHttpError) as err:
        await ask(shared.hs2, shared.hs1, f"{V1}/event/{seg('$nope')}")
    assert err.value.status == 404 and err.value.errcode == "M_NOT_FOUND"


async def test_unsigned_request_is_401(shared: SharedRoom) -> None:
    async with ClientSession() as session:
        url = f"{shared.hs1.base_url}{V1}/state_ids/{seg(shared.room_id)}?event_id={seg(shared.messages[0])}"
        async with session.get(url) as resp:
            assert resp.status == 401
            assert (await resp.json())["errcode"] == "M_UNAUTHORIZED"


async def test_state_ids_lists_the_state_before_the_event_and_its_auth_chain(shared: SharedRoom) -> None:
    body = await ask(shared.hs2, shared.hs1, f"{V1}/state_ids/{seg(shared.room_id)}",
                     {"event_id": shared.messages[2]})
    room = shared.hs1.hs.events.cached_room(shared.room_id)
    assert set(body["pdu_ids"]) == {ev.event_id for ev in room.state.values()}
    create_id = room.create_event.event_id
    assert create_id in body["auth_chain_ids"]  # v12: the create event is in every auth chain


async def test_state_returns_full_pdus(shared: SharedRoom) -> None:
    body = await ask(shared.hs2, shared.hs1, f"{V1}/state/{seg(shared.room_id)}",
                     {"event_id": shared.messages[2]})
    types = {(p["type"], p["state_key"]) for p in body["pdus"]}
    assert ("m.room.create", "") in types and ("m.room.name", "") in types
    assert all("hashes" in p and "signatures" in p for p in body["pdus"] + body["auth_chain"])


async def test_state_without_event_id_is_400(shared: SharedRoom) -> None:
    with pytest.raises(FederationHttpError) as err:
        await ask(shared.hs2, shared.hs1, f"{V1}/state_ids/{seg(shared.room_id)}")
    assert err.value.status == 400 and err.value.errcode == "M_MISSING_PARAM"


async def test_event_auth_returns_the_auth_chain(shared: SharedRoom) -> None:
    body = await ask(shared.hs2, shared.hs1, f"{V1}/event_auth/{seg(shared.room_id)}/{seg(shared.messages[0])}")
    types = {p["type"] for p in body["auth_chain"]}
    assert {"m.room.create", "m.room.power_levels", "m.room.member"} <= types


async def test_get_missing_events_walks_back_to_the_earliest_events(shared: SharedRoom) -> None:
    body = await shared.hs2.hs.federation_client.post_json(
        shared.hs1.server_name, f"{V1}/get_missing_events/{seg(shared.room_id)}",
        {"earliest_events": [shared.messages[0]], "latest_events": [shared.messages[4]], "limit": 10},
    )
    bodies = [p["content"]["body"] for p in body["events"]]
    assert bodies == ["m1", "m2", "m3"]


async def test_get_missing_events_with_bad_body_is_400(shared: SharedRoom) -> None:
    with pytest.raises(FederationHttpError) as err:
        await shared.hs2.hs.federation_client.post_json(
            shared.hs1.server_name, f"{V1}/get_missing_events/{seg(shared.room_id)}",
            {"latest_events": "not a list"},
        )
    assert err.value.status == 400 and err.value.errcode == "M_BAD_JSON"


async def test_backfill_returns_the_given_event_and_its_ancestors_newest_first(shared: SharedRoom) -> None:
    body = await ask(shared.hs2, shared.hs1, f"{V1}/backfill/{seg(shared.room_id)}",
                     {"v": [shared.messages[3]], "limit": 3})
    assert body["origin"] == shared.hs1.server_name
    assert [p["content"].get("body") for p in body["pdus"]] == ["m3", "m2", "m1"]


async def test_history_hidden_by_joined_visibility_is_served_redacted(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        room_id = await alice.create_room(preset="private_chat")
        await alice.send_state(room_id, "m.room.history_visibility", {"history_visibility": "joined"})
        secret = await alice.send(room_id, "before bob")
        await alice.invite(room_id, bob.user_id or "")
        await sync_until(bob, None, lambda r: room_id in r.get("rooms", {}).get("invite", {}), within=15.0)
        await bob.join(room_id)
        after = await alice.send(room_id, "after bob")
        body = await ask(hs2, hs1, f"{V1}/backfill/{seg(room_id)}", {"v": [after], "limit": 20})
        by_id = {}
        for pdu in body["pdus"]:
            by_id[pdu["content"].get("body")] = pdu
        assert "after bob" in by_id
        assert "before bob" not in by_id  # its content is redacted away
        served = await ask(hs2, hs1, f"{V1}/event/{seg(secret)}")
        assert served["pdus"][0]["content"] == {}
