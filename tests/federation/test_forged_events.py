"""Forged and unauthorised PDUs over a real, signed PUT /send: marked, never shown.

spec: server-server-api.md, "Checks performed on receipt of a PDU": an event whose
signatures fail is dropped (step 2), one whose content hash does not match is
replaced by its redacted form (step 3), one not allowed by the room's auth rules is
rejected (steps 4-5); "Validating hashes and signatures on received events": the
sender's server must have signed. PUT /send answers with "pdus": {event_id: {}}
for processed events and {"error": ...} for the others.

The remote is ``ForgingServer``: a real federating peer on loopback with a signing
key of its own, serving /_matrix/key/v2/server and signing its requests with
X-Matrix through the same ``FederationClient`` Parley uses. Its user eve joins
with make_join/send_join; then it sends what no honest server would.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from federation.crypto.signing import SigningKey, generate_signing_key, sign_json
from federation.rooms.auth import auth_types_for_event
from federation.rooms.builder import build_event, hash_and_sign_pdu
from federation.rooms.events import Event, StateKey
from federation.rooms.hashes import compute_event_id
from federation.rooms.versions import RoomVersion, get_room_version
from federation.transport.client import FederationClient, TransportSettings
from tests.federation.harness import (
    LOOPBACK,
    FederatedHomeserver,
    bind_loopback_socket,
    federated_homeservers,
)
from tests.federation.test_three_servers import WAIT_S, has_body, has_membership, room_events
from tests.http_client import MatrixHttp, q
from tests.integration.sync_waiting import sync_until

Response = dict[str, Any]
V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"
_txn_ids = itertools.count(1)


def seg(part: str) -> str:
    return quote(part, safe="")


@dataclass
class JoinedRoom:
    """The forger's view of a room it joined: version, state, and the tip it builds on."""

    room_id: str
    version: RoomVersion
    state: dict[StateKey, str]
    tip: Event
    events: dict[str, Event] = field(default_factory=dict)


class ForgingServer:
    """A federating server we control, named ``127.0.0.1:<port>``."""

    def __init__(self) -> None:
        self._sock = bind_loopback_socket()
        self.port = int(self._sock.getsockname()[1])
        self.server_name = f"{LOOPBACK}:{self.port}"
        self.key: SigningKey = generate_signing_key()
        self.received: list[Response] = []  # transactions Parley sent us
        self.client = FederationClient(self.server_name, self.key, TransportSettings(allow_plain_http=True))
        self._server: TestServer | None = None

    def user(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    async def start(self) -> None:
        routes = web.RouteTableDef()

        @routes.get("/_matrix/key/v2/server")
        async def keys(_request: web.Request) -> web.Response:
            now = int(time.time() * 1000)
            body = {"server_name": self.server_name, "old_verify_keys": {},
                    "verify_keys": {self.key.key_id: {"key": self.key.verify_key_base64}},
                    "valid_until_ts": now + 3600_000}
            return web.json_response(sign_json(body, self.server_name, self.key))

        @routes.put(V1 + "/send/{txn_id}")
        async def send(request: web.Request) -> web.Response:
            self.received.append(await request.json())
            return web.json_response({"pdus": {}})

        app = web.Application()
        app.router.add_routes(routes)
        sock = self._sock
        self._server = TestServer(app, host=LOOPBACK, socket_factory=lambda *_: sock)
        await self._server.start_server()

    async def close(self) -> None:
        await self.client.close()
        if self._server is not None:
            await self._server.close()
        else:
            self._sock.close()

    async def join(self, resident: str, room_id: str, user_id: str) -> JoinedRoom:
        """spec: "Joining Rooms" — make_join, sign the template, send_join v2."""
        answer = await self.client.get_json(resident, f"{V1}/make_join/{seg(room_id)}/{seg(user_id)}",
                                            {"ver": ["10", "11", "12"]})
        version = get_room_version(answer["room_version"])
        assert version is not None
        join = hash_and_sign_pdu(answer["event"], version, self.server_name, self.key)
        reply = await self.client.put_json(resident, f"{V2}/send_join/{seg(room_id)}/{seg(join.event_id)}",
                                           join.pdu)
        state = {(e["type"], e["state_key"]): compute_event_id(e, version) for e in reply["state"]}
        room = JoinedRoom(room_id, version, state, join)
        room.state[("m.room.member", user_id)] = join.event_id
        return room

    def event(self, room: JoinedRoom, sender: str, event_type: str, content: Response,
              state_key: str | None = None) -> Event:
        """An event by one of our users, built on the tip of what we know, signed by us."""
        auth_keys = auth_types_for_event(room.version, event_type, state_key, sender, content)
        event = build_event(
            room_version=room.version, room_id=room.room_id, sender=sender, event_type=event_type,
            content=content, state_key=state_key, prev_event_ids=[room.tip.event_id],
            auth_event_ids=[room.state[k] for k in auth_keys if k in room.state],
            depth=room.tip.depth + 1, origin_server_ts=room.tip.origin_server_ts + 1,
            server_name=self.server_name, signing_key=self.key,
        )
        room.events[event.event_id] = event
        return event

    def message(self, room: JoinedRoom, sender: str, body: str) -> Event:
        return self.event(room, sender, "m.room.message", {"msgtype": "m.text", "body": body})

    def impersonating(self, room: JoinedRoom, sender: str, body: str) -> Event:
        """A message claiming a user of another server, signed only by us."""
        honest = self.message(room, self.user("eve"), body)
        pdu = {k: v for k, v in honest.pdu.items() if k not in ("hashes", "signatures")}
        pdu["sender"] = sender
        auth_keys = auth_types_for_event(room.version, "m.room.message", None, sender, pdu["content"])
        pdu["auth_events"] = [room.state[k] for k in auth_keys if k in room.state]
        return hash_and_sign_pdu(pdu, room.version, self.server_name, self.key)

    async def send(self, destination: str, *events: Event | Response) -> Response:
        pdus = [copy.deepcopy(e.pdu if isinstance(e, Event) else e) for e in events]
        body = {"origin": self.server_name, "origin_server_ts": pdus[0]["origin_server_ts"], "pdus": pdus}
        answer: Response = await self.client.put_json(destination, f"{V1}/send/f{next(_txn_ids)}", body)
        return answer


@dataclass
class Scene:
    hs: FederatedHomeserver
    alice: MatrixHttp
    forger: ForgingServer
    room: JoinedRoom
    since: str

    @property
    def eve(self) -> str:
        return self.forger.user("eve")


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    """alice@hs1's public room, joined by eve of the forging server."""
    forger = ForgingServer()
    await forger.start()
    try:
        async with federated_homeservers(tmp_path, 1) as (hs1,):
            alice = await hs1.register("alice")
            room_id = await alice.create_room(preset="public_chat", name="Forgeries")
            room = await forger.join(hs1.server_name, room_id, forger.user("eve"))
            _, since = await sync_until(alice, None, has_membership(room_id, forger.user("eve"), "join"),
                                        within=WAIT_S)
            yield Scene(hs1, alice, forger, room, since)
    finally:
        await forger.close()


async def assert_never_shown(scene: Scene, forged_bodies: list[str]) -> None:
    """An honest message from eve comes after the forgeries; until alice's /sync shows
    it, and in /messages afterwards, none of the forged bodies ever appears."""
    honest = scene.forger.message(scene.room, scene.eve, "honest after the forgeries")
    answer = await scene.forger.send(scene.hs.server_name, honest)
    assert answer["pdus"] == {honest.event_id: {}}
    seen: list[str] = []

    def record(response: Response) -> bool:
        seen.extend(e["content"].get("body", "") for e in room_events(response, scene.room.room_id)
                    if e["type"] == "m.room.message")
        return has_body(scene.room.room_id, honest.content["body"])(response)

    await sync_until(scene.alice, scene.since, record, within=WAIT_S)
    history = await scene.alice.messages(scene.room.room_id, dir="b", limit=100)
    seen += [e["content"].get("body", "") for e in history["chunk"] if e["type"] == "m.room.message"]
    initial = await scene.alice.sync()
    seen += [e["content"].get("body", "") for e in room_events(initial, scene.room.room_id)
             if e["type"] == "m.room.message"]
    assert honest.content["body"] in seen
    assert not set(forged_bodies) & set(seen), seen


async def assert_not_served(scene: Scene, event_id: str) -> None:
    status, _ = await scene.alice.status_of(
        "GET", f"/_matrix/client/v3/rooms/{q(scene.room.room_id)}/event/{q(event_id)}")
    assert status == 404


def error_of(answer: Response, event_id: str) -> str:
    result = answer["pdus"][event_id]
    assert isinstance(result.get("error"), str) and result["error"], answer
    return str(result["error"])


async def test_pdu_with_a_bad_signature_is_marked_and_never_shown(scene: Scene) -> None:
    event = scene.forger.message(scene.room, scene.eve, "forged signature")
    pdu = copy.deepcopy(event.pdu)
    other_key = generate_signing_key()
    forged = sign_json({k: v for k, v in pdu.items() if k != "signatures"}, scene.forger.server_name, other_key)
    # Same key ID as the published key, but made by another key: it cannot verify.
    pdu["signatures"] = {scene.forger.server_name: {
        scene.forger.key.key_id: forged["signatures"][scene.forger.server_name][other_key.key_id]}}
    answer = await scene.forger.send(scene.hs.server_name, pdu)
    error_of(answer, event.event_id)
    await assert_never_shown(scene, ["forged signature"])
    await assert_not_served(scene, event.event_id)


async def test_pdu_with_a_wrong_content_hash_is_kept_redacted(scene: Scene) -> None:
    event = scene.forger.message(scene.room, scene.eve, "what eve signed")
    pdu = copy.deepcopy(event.pdu)
    # The signature covers the redacted event only, so it still verifies; the hash does not.
    pdu["content"] = {"msgtype": "m.text", "body": "swapped after signing"}
    answer = await scene.forger.send(scene.hs.server_name, pdu)
    assert answer["pdus"] == {event.event_id: {}}  # spec: processed, as its redacted copy
    await assert_never_shown(scene, ["swapped after signing", "what eve signed"])
    served = await scene.alice.request(
        "GET", f"/_matrix/client/v3/rooms/{q(scene.room.room_id)}/event/{q(event.event_id)}")
    assert served["sender"] == scene.eve
    assert served["content"] == {}


async def test_pdu_from_a_user_not_in_the_room_fails_auth(scene: Scene) -> None:
    event = scene.forger.message(scene.room, scene.forger.user("mallory"), "mallory never joined")
    answer = await scene.forger.send(scene.hs.server_name, event)
    error_of(answer, event.event_id)
    await assert_never_shown(scene, ["mallory never joined"])
    await assert_not_served(scene, event.event_id)


async def test_pdu_claiming_a_sender_of_another_server_is_refused(scene: Scene) -> None:
    event = scene.forger.impersonating(scene.room, scene.alice.user_id or "", "alice never said this")
    answer = await scene.forger.send(scene.hs.server_name, event)
    error_of(answer, event.event_id)
    await assert_never_shown(scene, ["alice never said this"])
    await assert_not_served(scene, event.event_id)


async def test_forgeries_in_one_transaction_do_not_stop_the_honest_pdus_beside_them(scene: Scene) -> None:
    mallory = scene.forger.message(scene.room, scene.forger.user("mallory"), "mallory in a batch")
    impostor = scene.forger.impersonating(scene.room, scene.alice.user_id or "", "impostor in a batch")
    honest = scene.forger.message(scene.room, scene.eve, "eve in a batch")
    answer = await scene.forger.send(scene.hs.server_name, mallory, impostor, honest)
    assert answer["pdus"][honest.event_id] == {}
    error_of(answer, mallory.event_id)
    error_of(answer, impostor.event_id)
    await sync_until(scene.alice, scene.since, has_body(scene.room.room_id, "eve in a batch"), within=WAIT_S)
    await assert_never_shown(scene, ["mallory in a batch", "impostor in a batch"])


async def test_state_change_without_the_power_for_it_is_rejected(scene: Scene) -> None:
    levels_before = await scene.alice.get_state(scene.room.room_id, "m.room.power_levels")
    grab = scene.forger.event(scene.room, scene.eve, "m.room.power_levels",
                              {**levels_before, "users": {**levels_before.get("users", {}), scene.eve: 100}}, "")
    kick = scene.forger.event(scene.room, scene.eve, "m.room.member", {"membership": "leave"},
                              scene.alice.user_id or "")
    answer = await scene.forger.send(scene.hs.server_name, grab, kick)
    error_of(answer, grab.event_id)
    error_of(answer, kick.event_id)
    await assert_never_shown(scene, [])
    assert await scene.alice.get_state(scene.room.room_id, "m.room.power_levels") == levels_before
    member = await scene.alice.get_state(scene.room.room_id, "m.room.member", scene.alice.user_id or "")
    assert member["membership"] == "join"
    await assert_not_served(scene, grab.event_id)


async def test_banned_users_message_built_on_the_state_before_the_ban_is_soft_failed(scene: Scene) -> None:
    await scene.alice.request("POST", f"/_matrix/client/v3/rooms/{q(scene.room.room_id)}/ban",
                              {"user_id": scene.eve})
    _, since = await sync_until(scene.alice, scene.since, has_membership(scene.room.room_id, scene.eve, "ban"),
                                within=WAIT_S)
    # The forger ignores the ban: its event's prev_events predate it, so it passes auth
    # against the state before it but not against the room's current state.
    # spec: server-server-api.md, "Soft failure".
    late = scene.forger.message(scene.room, scene.eve, "said after the ban")
    answer = await scene.forger.send(scene.hs.server_name, late)
    assert late.event_id in answer["pdus"]
    await alice_sees_nothing_more(scene, since, ["said after the ban"])
    # Stored (it is part of the graph) but never shown, not even by ID.
    status, _ = await scene.alice.status_of(
        "GET", f"/_matrix/client/v3/rooms/{q(scene.room.room_id)}/event/{q(late.event_id)}"
    )
    assert status == 404


async def alice_sees_nothing_more(scene: Scene, since: str, bodies: list[str]) -> None:
    """A local marker after the event: alice's /sync up to it and /messages lack ``bodies``."""
    await scene.alice.send(scene.room.room_id, "alice's marker")
    seen: list[str] = []

    def record(response: Response) -> bool:
        seen.extend(e["content"].get("body", "") for e in room_events(response, scene.room.room_id)
                    if e["type"] == "m.room.message")
        return has_body(scene.room.room_id, "alice's marker")(response)

    await sync_until(scene.alice, since, record, within=WAIT_S)
    history = await scene.alice.messages(scene.room.room_id, dir="b", limit=100)
    seen += [e["content"].get("body", "") for e in history["chunk"] if e["type"] == "m.room.message"]
    assert "alice's marker" in seen
    assert not set(bodies) & set(seen), seen
