"""Membership of local users in rooms held by other servers, and federation queries.

Joining side of the handshakes in server-server-api.md: "Joining Rooms" (make_join /
send_join v2), "Knocking upon a room" (make_knock / send_knock), "Leaving Rooms
(Rejecting Invites)" (make_leave / send_leave v2) and "Inviting to a room" (v2
invite, as the inviting server); plus "Querying for information" (directory and
profile) and the remote public room directory. The resident halves live in
``resident_membership.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from federation.crypto.signing import SigningKey
from federation.keys import KeyRing
from federation.rooms.auth import AuthError, auth_types_for_event, check_auth_rules
from federation.rooms.builder import build_event, hash_and_sign_pdu
from federation.rooms.events import Event
from federation.rooms.hashes import compute_event_id, reference_hash_base64
from federation.rooms.redaction import redact_pdu
from federation.rooms.versions import KNOWN_ROOM_VERSIONS, RoomVersion
from federation.transport.client import FederationClient
from federation.transport.errors import FederationError, FederationHttpError
from homeserver.clock import Clock
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.federation.events import FederatedEventHandler
from homeserver.services.federation.out_of_band import OutOfBandMembershipService
from homeserver.services.federation.resident_membership import (
    MAX_PREV_EVENTS,
    federation_pdu,
    room_state_pdus,
    server_of,
    stripped_state,
)
from homeserver.services.graph.events import EventService
from homeserver.services.graph.join_policy import JoinPolicy

logger = logging.getLogger(__name__)

V1 = "/_matrix/federation/v1"
V2 = "/_matrix/federation/v2"
HANDSHAKE_TIMEOUT = 30.0
QUERY_TIMEOUT = 15.0


def seg(value: str) -> str:
    """One path segment, quoted as the federation client expects."""
    return quote(value, safe="")


def supported_versions() -> list[str]:
    return list(KNOWN_ROOM_VERSIONS)


def remote_error(e: FederationError, what: str) -> MatrixError:
    """The client-facing error for a failed federation request."""
    if isinstance(e, FederationHttpError) and 400 <= e.status < 500 and e.status != 401:
        extra = {}
        if isinstance(e.body, dict) and "room_version" in e.body:
            extra["room_version"] = e.body["room_version"]
        return MatrixError(e.errcode or "M_UNKNOWN", e.status, f"{what}: {e.message}", **extra)
    return MatrixError("M_UNKNOWN", 502, f"{what}: {e}")


class FederatedMembershipService:
    def __init__(
        self,
        client: FederationClient,
        events: EventService,
        federation_events: FederatedEventHandler,
        out_of_band: OutOfBandMembershipService,
        keyring: KeyRing,
        clock: Clock,
        server_name: str,
        signing_key: SigningKey,
        join_policy: JoinPolicy,
    ) -> None:
        self.client = client
        self.events = events
        self.federation_events = federation_events
        self.out_of_band = out_of_band
        self.keyring = keyring
        self.clock = clock
        self.server_name = server_name
        self.signing_key = signing_key
        self.join_policy = join_policy

    # --- candidates ------------------------------------------------------------------
    async def candidate_servers(self, user_id: str, room_id: str, given: Iterable[str]) -> list[str]:
        """Servers to try, best first: the caller's, the inviter's, the room ID's domain."""
        out: list[str] = list(given)
        oob = await self.out_of_band.get(room_id, user_id)
        if oob is not None:
            out += [oob.origin, server_of(str(oob.pdu.get("sender", "")))]
        room = await self.events.get_room(room_id)
        if room is not None:
            out += sorted({server_of(u) for u in room.members_with("join")})
        if ":" in room_id:
            out.append(room_id.split(":", 1)[1])  # room versions before 12 name a server
        return [s for s in dict.fromkeys(out) if s and s != self.server_name]

    # --- join ----------------------------------------------------------------------
    async def join(self, user_id: str, room_id: str, servers: Iterable[str], content: dict[str, Any]) -> str:
        """Join a room through a resident server; the room is live here afterwards."""
        self.join_policy.check(room_id, user_id)
        candidates = await self.candidate_servers(user_id, room_id, servers)
        if not candidates:
            raise not_found("No known servers to join this room through")
        last: MatrixError | None = None
        for destination in candidates:
            try:
                await self._join_via(destination, user_id, room_id, content)
                return room_id
            except FederationError as e:
                logger.info("join of %s to %s via %s failed: %s", user_id, room_id, destination, e)
                last = remote_error(e, f"Joining through {destination} failed")
            except MatrixError as e:
                logger.info("join of %s to %s via %s failed: %s", user_id, room_id, destination, e)
                last = e
        assert last is not None
        raise last

    async def _join_via(self, destination: str, user_id: str, room_id: str, content: dict[str, Any]) -> None:
        path = f"{V1}/make_join/{seg(room_id)}/{seg(user_id)}"
        answer = await self.client.get_json(destination, path, {"ver": supported_versions()},
                                            timeout=HANDSHAKE_TIMEOUT)
        version, event = self._fill_template(answer, room_id, user_id, "join", content)
        path = f"{V2}/send_join/{seg(room_id)}/{seg(event.event_id)}"
        reply = await self.client.put_json(destination, path, federation_pdu(event), timeout=HANDSHAKE_TIMEOUT)
        if not isinstance(reply, dict) or not isinstance(reply.get("state"), list) \
                or not isinstance(reply.get("auth_chain"), list):
            raise MatrixError("M_UNKNOWN", 502, f"{destination} sent a malformed send_join answer")
        join_pdu = event.pdu
        # spec: joins-v2 — `event` carries the resident's signature (required for restricted joins).
        signed = reply.get("event")
        if isinstance(signed, dict) and compute_event_id(signed, version) == event.event_id:
            join_pdu = signed
        join_event = Event(event.event_id, join_pdu, version)
        await self.federation_events.process_send_join_response(
            version, room_id, join_event, reply["state"], reply["auth_chain"], destination
        )

    def _fill_template(
        self, answer: Any, room_id: str, user_id: str, membership: str, content: dict[str, Any]
    ) -> tuple[RoomVersion, Event]:
        """Check a make_* template, add our fields, hash and sign it (spec: "Joining Rooms")."""
        if not isinstance(answer, dict) or not isinstance(answer.get("event"), dict):
            raise MatrixError("M_UNKNOWN", 502, f"make_{membership} answer has no event template")
        version_id = answer.get("room_version", "1")
        version = KNOWN_ROOM_VERSIONS.get(version_id) if isinstance(version_id, str) else None
        if version is None:
            raise MatrixError("M_UNSUPPORTED_ROOM_VERSION", 400, f"Room version {version_id!r} is not supported")
        template = answer["event"]
        template_content = template.get("content")
        # spec: the joining server MUST verify type, room_id, sender, state_key and membership.
        if (template.get("type") != "m.room.member" or template.get("room_id") != room_id
                or template.get("sender") != user_id or template.get("state_key") != user_id
                or not isinstance(template_content, dict)
                or template_content.get("membership") != membership):
            raise MatrixError("M_UNKNOWN", 502, f"make_{membership} sent a template for something else")
        pdu = {k: v for k, v in template.items() if k not in ("hashes", "signatures", "unsigned", "event_id")}
        pdu["content"] = {**template_content, **content, "membership": membership}
        pdu["origin_server_ts"] = self.clock.time_ms()
        if version.v11_redaction:
            pdu.pop("origin", None)
        else:
            pdu["origin"] = self.server_name
        return version, hash_and_sign_pdu(pdu, version, self.server_name, self.signing_key)

    # --- knock ---------------------------------------------------------------------
    async def knock(self, user_id: str, room_id: str, servers: Iterable[str], content: dict[str, Any]) -> str:
        self.join_policy.check(room_id, user_id)
        candidates = await self.candidate_servers(user_id, room_id, servers)
        if not candidates:
            raise not_found("No known servers to knock through")
        last: MatrixError | None = None
        for destination in candidates:
            try:
                path = f"{V1}/make_knock/{seg(room_id)}/{seg(user_id)}"
                answer = await self.client.get_json(destination, path, {"ver": supported_versions()},
                                                    timeout=HANDSHAKE_TIMEOUT)
                _version, event = self._fill_template(answer, room_id, user_id, "knock", content)
                path = f"{V1}/send_knock/{seg(room_id)}/{seg(event.event_id)}"
                reply = await self.client.put_json(destination, path, federation_pdu(event),
                                                   timeout=HANDSHAKE_TIMEOUT)
                state = reply.get("knock_room_state") if isinstance(reply, dict) else None
                stripped = [stripped_state(e) for e in state or [] if isinstance(e, dict)]
                await self.out_of_band.record(room_id, user_id, event, destination, stripped)
                return room_id
            except FederationError as e:
                last = remote_error(e, f"Knocking through {destination} failed")
            except MatrixError as e:
                last = e
        assert last is not None
        raise last

    # --- leave (reject an invite, retract a knock) -------------------------------------
    async def leave(self, user_id: str, room_id: str, content: dict[str, Any]) -> None:
        """spec: "Leaving Rooms (Rejecting Invites)" — make_leave / send_leave v2."""
        oob = await self.out_of_band.get(room_id, user_id)
        if oob is None or oob.membership not in ("invite", "knock"):
            raise forbidden("You are not invited to or knocking on this room")
        last: Exception | None = None
        for destination in await self.candidate_servers(user_id, room_id, []):
            try:
                path = f"{V1}/make_leave/{seg(room_id)}/{seg(user_id)}"
                answer = await self.client.get_json(destination, path, timeout=HANDSHAKE_TIMEOUT)
                _version, event = self._fill_template(answer, room_id, user_id, "leave", content)
                path = f"{V2}/send_leave/{seg(room_id)}/{seg(event.event_id)}"
                await self.client.put_json(destination, path, federation_pdu(event), timeout=HANDSHAKE_TIMEOUT)
                await self.out_of_band.record(room_id, user_id, event, destination, oob.stripped_state)
                return
            except (FederationError, MatrixError) as e:
                logger.info("remote leave of %s from %s via %s failed: %s", user_id, room_id, destination, e)
                last = e
        # No resident answered: reject locally so the user is not stuck with the invite
        # (what Synapse does too); the inviting server is not told.
        logger.warning("rejecting %s's invite to %s locally: %s", user_id, room_id, last)
        version = KNOWN_ROOM_VERSIONS[oob.room_version]
        event = build_event(
            room_version=version, room_id=room_id, sender=user_id, event_type="m.room.member",
            content={**content, "membership": "leave"}, state_key=user_id,
            prev_event_ids=[oob.event_id], auth_event_ids=[oob.event_id],
            depth=int(oob.pdu.get("depth", 0)) + 1, origin_server_ts=self.clock.time_ms(),
            server_name=self.server_name, signing_key=self.signing_key,
            reference_hashes={oob.event_id: reference_hash_base64(oob.pdu, version)}
            if version.event_id_in_pdu else None,
        )
        await self.out_of_band.record(room_id, user_id, event, self.server_name, oob.stripped_state)

    # --- invite a remote user ----------------------------------------------------------
    async def invite(self, room: RoomState, sender: str, target: str, content: dict[str, Any]) -> Event:
        """spec: "Inviting to a room" — the invitee's server countersigns before we persist."""
        destination = server_of(target)
        if "displayname" not in content:
            content = {**await self._invitee_profile(target), **content}
        version = room.version
        keys = auth_types_for_event(version, "m.room.member", target, sender, content)
        auth_events = {k: room.state[k] for k in keys if k in room.state}
        event = build_event(
            room_version=version, room_id=room.room_id, sender=sender, event_type="m.room.member",
            content=content, state_key=target, prev_event_ids=room.extremities[-MAX_PREV_EVENTS:],
            auth_event_ids=[e.event_id for e in auth_events.values()], depth=room.max_depth + 1,
            origin_server_ts=self.clock.time_ms(), server_name=self.server_name,
            signing_key=self.signing_key, reference_hashes=room.reference_hashes(auth_events.values()),
        )
        try:
            check_auth_rules(event, auth_events, room.create_event,
                             is_signed_by=lambda _ev, server: server == self.server_name)
        except AuthError as e:
            raise forbidden(str(e)) from None
        body = {
            "event": federation_pdu(event),
            "invite_room_state": room_state_pdus(room, sender),
            "room_version": version.identifier,
        }
        path = f"{V2}/invite/{seg(room.room_id)}/{seg(event.event_id)}"
        try:
            reply = await self.client.put_json(destination, path, body, timeout=HANDSHAKE_TIMEOUT)
        except FederationError as e:
            raise remote_error(e, f"{destination} did not accept the invite") from None
        signed = reply.get("event") if isinstance(reply, dict) else None
        if not isinstance(signed, dict) or compute_event_id(signed, version) != event.event_id:
            raise MatrixError("M_UNKNOWN", 502, f"{destination} answered the invite with another event")
        # The invitee's server must have signed it (spec: invites-v2, 200 response).
        from federation.keys import SignatureError

        try:
            await self.keyring.verify_json(destination, redact_pdu(signed, version),
                                           strict_json=version.strict_canonical_json)
        except SignatureError as e:
            raise MatrixError("M_UNKNOWN", 502, f"{destination} did not sign the invite: {e}") from None
        persisted = await self.federation_events.persist_remote_event(destination, signed)
        return persisted if isinstance(persisted, Event) else Event(event.event_id, signed, version)

    async def _invitee_profile(self, user_id: str) -> dict[str, Any]:
        """Synapse puts the invitee's profile into invites (include_profile_data_on_invite)."""
        try:
            profile = await self.query_profile(user_id)
        except MatrixError:
            return {}
        return {k: v for k, v in profile.items() if k in ("displayname", "avatar_url") and isinstance(v, str)}

    # --- queries -------------------------------------------------------------------
    async def query_alias(self, alias: str) -> dict[str, Any]:
        """spec: GET /query/directory on the alias's server → {room_id, servers}."""
        destination = alias.split(":", 1)[1]
        try:
            answer = await self.client.get_json(destination, f"{V1}/query/directory", {"room_alias": alias},
                                                timeout=QUERY_TIMEOUT)
        except FederationError as e:
            if isinstance(e, FederationHttpError) and e.status == 404:
                raise not_found("Room alias not found") from None
            raise remote_error(e, f"Asking {destination} about the alias failed") from None
        room_id = answer.get("room_id") if isinstance(answer, dict) else None
        servers = answer.get("servers") if isinstance(answer, dict) else None
        if not isinstance(room_id, str) or not isinstance(servers, list):
            raise MatrixError("M_UNKNOWN", 502, f"{destination} sent a malformed directory answer")
        return {"room_id": room_id, "servers": [s for s in servers if isinstance(s, str)]}

    async def query_profile(self, user_id: str, field: str | None = None) -> dict[str, Any]:
        """spec: GET /query/profile on the user's server."""
        query = {"user_id": user_id}
        if field is not None:
            query["field"] = field
        destination = server_of(user_id)
        try:
            answer = await self.client.get_json(destination, f"{V1}/query/profile", query, timeout=QUERY_TIMEOUT)
        except FederationError as e:
            if isinstance(e, FederationHttpError) and e.status == 404:
                raise not_found("Profile not found") from None
            raise remote_error(e, f"Asking {destination} for the profile failed") from None
        if not isinstance(answer, dict):
            raise MatrixError("M_UNKNOWN", 502, f"{destination} sent a malformed profile")
        return {k: v for k, v in answer.items() if k in ("displayname", "avatar_url") and isinstance(v, str)}

    async def public_rooms(self, server: str, *, limit: int | None, since: str | None,
                           search: str | None, include_all_networks: bool = False,
                           third_party_instance_id: str | None = None) -> dict[str, Any]:
        """A remote server's published room directory (spec: "Public Room Directory")."""
        path = f"{V1}/publicRooms"
        try:
            if search is None:
                query: dict[str, Any] = {"include_all_networks": include_all_networks}
                if limit is not None:
                    query["limit"] = limit
                if since:
                    query["since"] = since
                if third_party_instance_id:
                    query["third_party_instance_id"] = third_party_instance_id
                answer = await self.client.get_json(server, path, query, timeout=QUERY_TIMEOUT)
            else:
                body: dict[str, Any] = {"filter": {"generic_search_term": search},
                                        "include_all_networks": include_all_networks}
                if limit is not None:
                    body["limit"] = limit
                if since:
                    body["since"] = since
                if third_party_instance_id:
                    body["third_party_instance_id"] = third_party_instance_id
                answer = await self.client.post_json(server, path, body, timeout=QUERY_TIMEOUT)
        except FederationError as e:
            raise remote_error(e, f"Fetching the room directory of {server} failed") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("chunk"), list):
            raise MatrixError("M_UNKNOWN", 502, f"{server} sent a malformed room directory")
        return answer
