"""Local users' memberships in rooms this server is not in (invites, knocks, rejections).

A remote invite (``PUT /v2/invite``) or a knock sent through a resident server
(``send_knock``) gives a local user a membership in a room whose graph we do not
hold. Such a membership gets a position in the events stream, a
``room_memberships`` row and a wake-up, so /sync lists it under ``rooms.invite`` /
``rooms.knock`` with the stripped state that came with it, and under
``rooms.leave`` once it is rejected or retracted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from federation.keys import KeyRing
from federation.rooms.events import Event
from federation.rooms.versions import KNOWN_ROOM_VERSIONS
from homeserver.core.event_format import client_event, stripped_state_event
from homeserver.core.pdu_checks import InvalidPdu, event_from_pdu
from homeserver.services.graph.events import EventService
from homeserver.services.graph.notifier import Notifier
from homeserver.storage.out_of_band_memberships import OutOfBandMembership, OutOfBandMembershipStore

logger = logging.getLogger(__name__)


class OutOfBandMembershipService:
    def __init__(
        self,
        store: OutOfBandMembershipStore,
        events: EventService,
        notifier: Notifier,
        keyring: KeyRing,
        is_mine: Callable[[str], bool],
    ) -> None:
        self.store = store
        self.events = events
        self.notifier = notifier
        self.keyring = keyring
        self.is_mine = is_mine

    async def load(self) -> None:
        """After EventService.load: our positions in the events stream are not in the events
        table, so the stream must not restart below them (or /sync would hide them)."""
        top = await self.store.max_stream_ordering()
        if top > self.events.persisted_stream:
            self.events.advance_persisted_stream(top)

    async def record(
        self, room_id: str, user_id: str, event: Event, origin: str, stripped: list[dict[str, Any]]
    ) -> None:
        """Keep ``event`` as the user's membership in ``room_id`` and wake their /sync."""
        events = self.events
        membership = event.membership or "leave"
        # A position in the events stream, so that incremental syncs pick it up once.
        stream = events.allocate_stream()
        event.stream_ordering = stream
        await self.store.put(OutOfBandMembership(
            room_id=room_id, user_id=user_id, event_id=event.event_id, membership=membership,
            room_version=event.room_version.identifier, origin=origin, stream_ordering=stream,
            pdu=event.pdu, stripped_state=stripped,
        ))
        events.advance_persisted_stream(stream)
        (await events.rooms_for_user(user_id))[room_id] = membership
        self.notifier.notify_users([user_id])

    async def on_pdu_for_unknown_room(self, origin: str, raw: Any) -> bool:
        """A PDU (from /send) for a room we do not hold that ends a local user's out-of-band
        invite or knock: the invite revoked, the knock refused, a ban. Returns whether it was kept.

        We cannot auth it against room state we do not have; it must be signed by its
        sender's server, be a leave or ban of a local user, and name our invite/knock
        event among its auth_events (spec: "Auth events selection" picks the target's
        current membership), so only an event built on top of ours is taken.
        """
        if not isinstance(raw, dict) or raw.get("type") != "m.room.member":
            return False
        room_id, target = raw.get("room_id"), raw.get("state_key")
        if not isinstance(room_id, str) or not isinstance(target, str) or not self.is_mine(target):
            return False
        current = await self.store.get(room_id, target)
        if current is None or current.membership not in ("invite", "knock"):
            return False
        version = KNOWN_ROOM_VERSIONS[current.room_version]
        try:
            event, hash_ok = event_from_pdu(raw, version, room_id)
        except InvalidPdu:
            return False
        if not hash_ok or event.membership not in ("leave", "ban") or current.event_id not in event.auth_event_ids:
            return False
        from federation.keys import SignatureError

        try:
            await self.keyring.verify_event_signatures(event)
        except SignatureError as e:
            logger.info("membership PDU %s from %s has a bad signature: %s", event.event_id, origin, e)
            return False
        await self.record(room_id, target, event, origin, current.stripped_state)
        return True

    async def get(self, room_id: str, user_id: str) -> OutOfBandMembership | None:
        return await self.store.get(room_id, user_id)

    async def sync_section(
        self, user_id: str, room_id: str, since: int | None, upto: int,
        hidden_senders: frozenset[str] = frozenset(),
    ) -> tuple[str, dict[str, Any]] | None:
        """("invite" | "knock" | "leave", section) for /sync, or None if nothing to show."""
        m = await self.store.get(room_id, user_id)
        if m is None or m.stream_ordering > upto:
            return None
        if m.membership == "invite" and m.pdu.get("sender") in hidden_senders:
            return None  # spec: modules/ignore_users.md — no invites from ignored users
        if since is not None and m.stream_ordering <= since:
            return None
        version = KNOWN_ROOM_VERSIONS.get(m.room_version)
        if version is None:
            return None
        event = Event(m.event_id, m.pdu, version, stream_ordering=m.stream_ordering)
        own = stripped_state_event(event)
        state = [s for s in m.stripped_state
                 if (s.get("type"), s.get("state_key")) != ("m.room.member", user_id)] + [own]
        if m.membership == "invite":
            return "invite", {"invite_state": {"events": state}}
        if m.membership == "knock":
            return "knock", {"knock_state": {"events": state}}
        if since is None:
            return None  # spec: an initial sync leaves out rooms the user has left
        return "leave", {
            "timeline": {"events": [client_event(event)], "limited": False},
            "state": {"events": []},
            "account_data": {"events": []},
        }
