"""The resident side of membership over federation: make_/send_ join, leave and knock, and
receiving invites for local users.

spec: server-server-api.md, "Joining Rooms", "Knocking upon a room", "Inviting to a room",
"Leaving Rooms (Rejecting Invites)"; data/api/server-server/{joins-v1,joins-v2,knocks,
leaving-v1,leaving-v2,invites-v2}.yaml. Outbound halves live in ``federated_membership.py``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from federation.crypto.signing import SigningKey
from federation.keys import KeyRing
from federation.rooms.auth import AuthError, auth_types_for_event, check_auth_rules
from federation.rooms.builder import add_server_signature
from federation.rooms.events import Event, StateKey
from federation.rooms.hashes import event_references
from federation.rooms.power_levels import invite_level, user_power_level
from federation.rooms.versions import KNOWN_ROOM_VERSIONS, RoomVersion
from federation.sender import FederationSender
from homeserver.clock import Clock
from homeserver.core.event_format import STRIPPED_STATE_TYPES
from homeserver.core.pdu_checks import InvalidPdu, event_from_pdu
from homeserver.core.room_state import RoomState
from homeserver.errors import MatrixError, forbidden, not_found
from homeserver.services.federation.events import FederatedEventHandler
from homeserver.services.federation.out_of_band import OutOfBandMembershipService
from homeserver.services.graph.events import EventService
from homeserver.services.graph.join_policy import JoinPolicy
from homeserver.services.graph.server_acl import check_server_acl
from homeserver.storage.accounts import AccountStore
from homeserver.storage.events import EventStore

logger = logging.getLogger(__name__)

MAX_PREV_EVENTS = 10
# Memberships a resident server builds templates for, and the room version feature they need.
TEMPLATE_MEMBERSHIPS = ("join", "leave", "knock")

# check(room_id, user_id) raises MatrixError to keep a local user out of a room (blocked
# rooms); registered by a higher layer's wiring.


def server_of(user_id: str) -> str:
    # spec: appendices.md, "Server Name" — the server name may carry a port: split once.
    return user_id.split(":", 1)[1] if ":" in user_id else ""


def federation_pdu(event: Event) -> dict[str, Any]:
    """The PDU as sent to other servers: our bookkeeping in ``unsigned`` stays here."""
    return {k: v for k, v in event.pdu.items() if k != "unsigned"}


def stripped_state(pdu: dict[str, Any]) -> dict[str, Any]:
    """spec: client-server-api, "Stripped state"."""
    return {
        "content": pdu.get("content", {}),
        "sender": pdu.get("sender"),
        "state_key": pdu.get("state_key"),
        "type": pdu.get("type"),
    }


def incompatible_version(version_id: str) -> MatrixError:
    return MatrixError(
        "M_INCOMPATIBLE_ROOM_VERSION", 400,
        f"Your homeserver does not support the features required to join room version {version_id}",
        room_version=version_id,
    )


def joined_servers(room: RoomState) -> list[str]:
    """Servers with joined members, in a stable order (spec: servers_in_room)."""
    return sorted({server_of(u) for u in room.members_with("join")})


def room_state_pdus(room: RoomState, sender: str | None = None) -> list[dict[str, Any]]:
    """Full PDUs of the stripped-state types (and the sender's member event): what
    invite_room_state / knock_room_state carry from spec v1.16 (MSC4311)."""
    out = [federation_pdu(room.state[(t, "")]) for t in STRIPPED_STATE_TYPES if (t, "") in room.state]
    if sender is not None and ("m.room.member", sender) in room.state:
        out.append(federation_pdu(room.state[("m.room.member", sender)]))
    return out


class ResidentMembershipService:
    def __init__(
        self,
        events: EventService,
        event_store: EventStore,
        account_store: AccountStore,
        federation_events: FederatedEventHandler,
        out_of_band: OutOfBandMembershipService,
        keyring: KeyRing,
        federation_sender: FederationSender,
        clock: Clock,
        server_name: str,
        signing_key: SigningKey,
        is_mine: Callable[[str], bool],
        join_policy: JoinPolicy,
    ) -> None:
        self.events = events
        self.event_store = event_store
        self.account_store = account_store
        self.federation_events = federation_events
        self.out_of_band = out_of_band
        self.keyring = keyring
        self.federation_sender = federation_sender
        self.clock = clock
        self.server_name = server_name
        self.signing_key = signing_key
        self.is_mine = is_mine
        self.join_policy = join_policy

    # --- make_join / make_leave / make_knock ---------------------------------------
    async def make_membership(
        self, origin: str, room_id: str, user_id: str, membership: str, supported_versions: Sequence[str]
    ) -> dict[str, Any]:
        """A template ``m.room.member`` event for a remote user (no hashes or signatures)."""
        assert membership in TEMPLATE_MEMBERSHIPS
        room = await self._room_for(origin, room_id)
        if server_of(user_id) != origin:
            raise forbidden("The user is not on the requesting server")
        version = room.version
        # spec: make_join/make_knock — refuse joining servers that cannot speak the version.
        if membership != "leave" and version.identifier not in supported_versions:
            raise incompatible_version(version.identifier)
        if membership == "knock" and not version.knock_join_rule:
            raise incompatible_version(version.identifier)
        content: dict[str, Any] = {"membership": membership}
        if membership == "join":
            authoriser = await self._restricted_join_authoriser(room, user_id)
            if authoriser is not None:
                content["join_authorised_via_users_server"] = authoriser
        auth_keys = auth_types_for_event(version, "m.room.member", user_id, user_id, content)
        auth_events = [room.state[k] for k in auth_keys if k in room.state]
        auth_refs: list[Any] = [e.event_id for e in auth_events]
        prev_refs: list[Any] = room.extremities[-MAX_PREV_EVENTS:]
        hashes = room.reference_hashes(auth_events)
        if hashes is not None:
            # spec: pdu_v1.yaml — room versions 1 and 2 list [event_id, {"sha256": hash}].
            auth_refs, prev_refs = event_references(auth_refs, hashes), event_references(prev_refs, hashes)
        pdu: dict[str, Any] = {
            "auth_events": auth_refs,
            "content": content,
            "depth": room.max_depth + 1,
            "origin_server_ts": self.clock.time_ms(),
            "prev_events": prev_refs,
            "room_id": room.room_id,
            "sender": user_id,
            "state_key": user_id,
            "type": "m.room.member",
        }
        if not version.v11_redaction:
            pdu["origin"] = origin  # v6 event format (room version 10) still has `origin`
        # spec: make_join 403 — "the room does not permit the user to join"; the same check
        # the send_ step runs, with signatures assumed (the joining server adds them).
        template = Event("$template", pdu, version)
        try:
            check_auth_rules(
                template, self._auth_events(room, template), room.create_event,
                is_signed_by=lambda _ev, _server: True,
            )
        except AuthError as e:
            raise forbidden(f"You are not allowed to {membership} this room: {e}") from None
        return {"event": pdu, "room_version": version.identifier}

    async def _restricted_join_authoriser(self, room: RoomState, user_id: str) -> str | None:
        """spec: server-server-api.md, "Restricted rooms" — a local user who may invite,
        when the join rule is restricted and the user is not already invited or joined."""
        rule = room.state_content("m.room.join_rules")
        if rule.get("join_rule") not in ("restricted", "knock_restricted"):
            return None
        if room.membership(user_id) in ("invite", "join"):
            return None
        allowed_rooms = [
            a.get("room_id") for a in rule.get("allow") or []
            if isinstance(a, dict) and a.get("type") == "m.room_membership"
        ]
        if not any(isinstance(r, str) for r in allowed_rooms):
            # No usable allow condition (e.g. a mangled list): nobody may join this way.
            raise forbidden("The join rule allows no room's members to join")
        known = [await self.events.get_room(r) for r in allowed_rooms if isinstance(r, str)]
        known_rooms = [r for r in known if r is not None and any(self.is_mine(u) for u in r.members_with("join"))]
        if not known_rooms:
            raise MatrixError("M_UNABLE_TO_AUTHORISE_JOIN", 400, "None of the allowed rooms is known here")
        if not any(r.membership(user_id) == "join" for r in known_rooms):
            raise forbidden("You are not a member of any room that grants access")
        pl = room.state_content("m.room.power_levels") or None
        needed = invite_level(pl)
        for member in room.members_with("join"):
            if self.is_mine(member) and user_power_level(member, pl, room.create_event, room.version) >= needed:
                return member
        raise MatrixError("M_UNABLE_TO_GRANT_JOIN", 400, "No user here may authorise this join")

    # --- send_join / send_leave / send_knock -------------------------------------------
    async def accept_membership(
        self, origin: str, room_id: str, event_id: str, pdu: dict[str, Any], membership: str
    ) -> tuple[Event, dict[StateKey, Event], RoomState]:
        """Validate, countersign, persist and broadcast a remote user's membership event.

        Returns the persisted event, the room state before it, and the room.
        """
        room = await self._room_for(origin, room_id)
        version = room.version
        self._check_membership_pdu(origin, room_id, pdu, membership)
        self._check_pdu(pdu, version, room_id, event_id)
        # spec: joins-v2 — "the signature must be added before sending or persisting the event".
        bare = {k: v for k, v in pdu.items() if k != "unsigned"}
        signed = add_server_signature(bare, version, self.server_name, self.signing_key)
        event = Event(event_id, signed, version)
        await self._verify_signatures(event)
        try:
            check_auth_rules(
                event, self._auth_events(room, event), room.create_event,
                is_signed_by=lambda ev, server: server in (ev.pdu.get("signatures") or {}),
            )
        except AuthError as e:
            raise forbidden(f"The {membership} is not allowed: {e}") from None
        state_before = dict(room.state)
        persisted = await self.federation_events.persist_remote_event(origin, signed)
        if isinstance(persisted, Event):
            if persisted.rejected_reason is not None:
                raise forbidden(f"The {membership} was rejected: {persisted.rejected_reason}")
            event = persisted
        await self._broadcast(room, event, exclude={origin})
        return event, state_before, room

    def send_join_response(self, event: Event, state_before: dict[StateKey, Event],
                           auth_chain: list[Event]) -> dict[str, Any]:
        # omit_members is not honoured: the full state goes back, so the joining server
        # needs no partial-state resync (spec: joins-v2, members_omitted false).
        return {
            "auth_chain": [federation_pdu(e) for e in auth_chain],
            "event": federation_pdu(event),
            "members_omitted": False,
            "origin": self.server_name,
            "state": [federation_pdu(e) for e in state_before.values()],
        }

    async def auth_chain(self, events: Iterable[Event]) -> list[Event]:
        """Every event reachable through auth_events from ``events`` (spec: "auth chain")."""
        seen: dict[str, Event] = {}
        todo = {aid for e in events for aid in e.auth_event_ids}
        while todo:
            found = await self.event_store.get_events(todo)
            todo = set()
            for eid, ev in found.items():
                if eid not in seen:
                    seen[eid] = ev
                    todo.update(a for a in ev.auth_event_ids if a not in seen)
        return sorted(seen.values(), key=lambda e: e.depth)

    def _check_membership_pdu(self, origin: str, room_id: str, pdu: dict[str, Any], membership: str) -> None:
        # spec: joins-v2 send_join — M_INVALID_PARAM for the listed shape errors.
        content = pdu.get("content")
        sender = pdu.get("sender")
        if pdu.get("type") != "m.room.member" or not isinstance(content, dict):
            raise MatrixError("M_INVALID_PARAM", 400, "Not an m.room.member event")
        if content.get("membership") != membership:
            raise MatrixError("M_INVALID_PARAM", 400, f"The membership is not {membership}")
        if not isinstance(sender, str) or server_of(sender) != origin:
            raise MatrixError("M_INVALID_PARAM", 400, "The sender is not a user of the requesting server")
        if pdu.get("state_key") != sender:
            raise MatrixError("M_INVALID_PARAM", 400, "The state_key is not the sender")
        if pdu.get("room_id") != room_id:
            raise MatrixError("M_INVALID_PARAM", 400, "The event is for another room")

    # --- invites to local users ------------------------------------------------------
    async def receive_invite(
        self, origin: str, room_id: str, event_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """PUT /v2/invite: countersign an invite of a local user; keep it for their /sync."""
        version_id = body.get("room_version")
        pdu = body.get("event")
        if not isinstance(version_id, str) or not isinstance(pdu, dict):
            raise MatrixError("M_BAD_JSON", 400, "room_version and event are required")
        version = KNOWN_ROOM_VERSIONS.get(version_id)
        if version is None:
            raise incompatible_version(version_id)
        target = pdu.get("state_key")
        sender = pdu.get("sender")
        content = pdu.get("content")
        if pdu.get("type") != "m.room.member" or not isinstance(content, dict) or content.get("membership") != "invite":
            raise MatrixError("M_INVALID_PARAM", 400, "Not an invite event")
        if pdu.get("room_id") != room_id:
            raise MatrixError("M_INVALID_PARAM", 400, "The event is for another room")
        if not isinstance(sender, str) or server_of(sender) != origin:
            raise MatrixError("M_INVALID_PARAM", 400, "The sender is not a user of the requesting server")
        if not isinstance(target, str) or not self.is_mine(target):
            raise forbidden("The invited user is not on this server")
        user = await self.account_store.get_user(target)
        if user is None or user.deactivated:
            raise not_found("No such user")
        self.join_policy.check(room_id, target)
        self._check_pdu(pdu, version, room_id, event_id)
        await self._check_acl(origin, room_id)
        bare = {k: v for k, v in pdu.items() if k != "unsigned"}
        event = Event(event_id, bare, version)
        await self._verify_signatures(event)
        stripped = self._invite_room_state(version, room_id, body.get("invite_room_state"))
        signed = add_server_signature(bare, version, self.server_name, self.signing_key)
        room = await self.events.get_room(room_id)
        if room is None or not any(self.is_mine(u) for u in room.members_with("join")):
            # We are not in the room: the invite reaches the user only through this request.
            await self.out_of_band.record(
                room_id, target, Event(event_id, signed, version), origin, stripped
            )
        # Otherwise the inviting server also sends it in a transaction, like any room event.
        return {"event": signed}

    def _invite_room_state(self, version: RoomVersion, room_id: str, raw: Any) -> list[dict[str, Any]]:
        """Stripped copies of invite_room_state, checked as spec v1.16 asks for v12 rooms."""
        if raw is None:
            raw = []
        if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
            raise MatrixError("M_INVALID_PARAM", 400, "invite_room_state must be a list of events")
        creates = [e for e in raw if e.get("type") == "m.room.create"]
        if version.hash_room_ids:
            # spec: invites-v2 — m.room.create is required, formatted per the room version,
            # and in v12 its event ID names the room.
            if not creates:
                raise MatrixError("M_MISSING_PARAM", 400, "invite_room_state lacks the m.room.create event")
            try:
                create, _hash_ok = event_from_pdu(creates[0], version)
            except InvalidPdu as e:
                raise MatrixError("M_INVALID_PARAM", 400, f"Invalid m.room.create in invite_room_state: {e}") from None
            if create.room_id != room_id:
                raise MatrixError("M_INVALID_PARAM", 400, "The m.room.create event is not this room's")
        return [stripped_state(e) for e in raw]

    # --- shared ----------------------------------------------------------------------
    @staticmethod
    def _check_pdu(pdu: dict[str, Any], version: RoomVersion, room_id: str, event_id: str) -> None:
        """A well-formed PDU of the room version, with the claimed ID and an intact content hash."""
        try:
            event, hash_ok = event_from_pdu(pdu, version, room_id)
        except InvalidPdu as e:
            raise MatrixError("M_BAD_JSON", 400, f"Invalid PDU: {e}") from None
        if event.event_id != event_id:
            raise MatrixError("M_INVALID_PARAM", 400, "The event ID does not match the event")
        if not hash_ok:
            raise MatrixError("M_INVALID_PARAM", 400, "The event's content hash does not match")

    async def _room_for(self, origin: str, room_id: str) -> RoomState:
        room = await self.events.get_room(room_id)
        if room is None or not any(self.is_mine(u) for u in room.members_with("join")):
            raise not_found("This server is not in the room")
        await self._check_acl(origin, room_id)
        return room

    async def _check_acl(self, origin: str, room_id: str) -> None:

        await check_server_acl(self.events, origin, room_id)

    async def _verify_signatures(self, event: Event) -> None:
        from federation.keys import SignatureError

        try:
            await self.keyring.verify_event_signatures(event)
        except SignatureError as e:
            raise MatrixError("M_INVALID_PARAM", 400, f"Bad signature: {e}") from None

    @staticmethod
    def _auth_events(room: RoomState, event: Event) -> dict[StateKey, Event]:
        keys = auth_types_for_event(room.version, event.type, event.state_key, event.sender, event.content)
        return {k: room.state[k] for k in keys if k in room.state}

    async def _broadcast(self, room: RoomState, event: Event, exclude: set[str]) -> None:
        """spec: "The resident server must also send the event to other servers"."""
        destinations = [s for s in joined_servers(room) if s != self.server_name and s not in exclude]
        if not destinations:
            return
        result = self.federation_sender.send_pdu(event, destinations)
        if inspect.isawaitable(result):
            await result
