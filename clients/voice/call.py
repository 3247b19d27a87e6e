"""One 1:1 Matrix VoIP call as a sans-I/O state machine (spec: client-server-api
"Voice over IP", ``m.call.*`` version "1").

No network and no media here: methods return the event contents to send, and
``receive`` turns a room event into ``Effect``s for the caller to act on (apply an SDP
answer, add candidates, the call ended). Time is passed in (``now``, monotonic seconds).

Parties are (user ID, party_id). Our own events come back through sync: an event with
our user *and* our party_id is remote echo and ignored — except a hangup or reject we
did not send ourselves, which means another process acting as this party (``parley
hangup`` from a second terminal) ended the call.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

VERSION = "1"
DEFAULT_LIFETIME_MS = 90_000  # the spec's minimal recommended lifetime
# Do not ring for an invite that would expire before anyone could pick it up.
MIN_RING_SECONDS = 3.0
CALL_EVENT_TYPES = (
    "m.call.invite", "m.call.candidates", "m.call.answer", "m.call.select_answer",
    "m.call.negotiate", "m.call.reject", "m.call.hangup",
)
_ID_ALPHABET = string.ascii_letters + string.digits


def new_party_id() -> str:
    """8+ mixed-case alphanumerics, as the spec recommends (we use 12)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def new_call_id() -> str:
    return "c" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(23))


class Direction(Enum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class CallState(Enum):
    FRESH = "fresh"  # outbound, invite not sent yet ("preparing to send")
    INVITE_SENT = "invite_sent"  # outbound, waiting for an answer
    RINGING = "ringing"  # inbound, not answered yet
    ANSWERED = "answered"  # inbound, our answer sent, waiting for select_answer
    CONNECTED = "connected"  # both sides agreed on the parties (media may still be connecting)
    ENDED = "ended"


# --- effects ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Send:
    """Send this event into the call's room."""

    type: str
    content: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RemoteAnswer:
    sdp: str


@dataclass(frozen=True, slots=True)
class RemoteCandidates:
    candidates: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RemoteNegotiate:
    """A renegotiation description (an offer needs ``Call.negotiate`` with our answer)."""

    type: str
    sdp: str


@dataclass(frozen=True, slots=True)
class Ended:
    reason: str
    by_remote: bool


Effect = Send | RemoteAnswer | RemoteCandidates | RemoteNegotiate | Ended


class CallError(Exception):
    """An action that the call's state does not allow (e.g. answering an ended call)."""


def _str(content: dict[str, Any], key: str) -> str | None:
    value = content.get(key)
    return value if isinstance(value, str) else None


def _description(content: dict[str, Any], wanted: str | None) -> tuple[str, str] | None:
    """(type, sdp) of an ``offer``/``answer``/``description`` object, if well formed."""
    for key in ("offer", "answer", "description"):
        desc = content.get(key)
        if isinstance(desc, dict):
            dtype, sdp = desc.get("type"), desc.get("sdp")
            if isinstance(dtype, str) and isinstance(sdp, str) and sdp and (wanted is None or dtype == wanted):
                return dtype, sdp
    return None


@dataclass
class Call:
    room_id: str
    call_id: str
    user_id: str  # ours
    party_id: str  # ours
    direction: Direction
    state: CallState
    lifetime_ms: int = DEFAULT_LIFETIME_MS
    invitee: str | None = None
    # The other party, once known (the caller for inbound calls; the selected answerer).
    opponent_user_id: str | None = None
    opponent_party_id: str | None = None
    expires_at: float | None = None  # monotonic seconds; while unanswered
    remote_offer: str | None = None  # inbound: the invite's SDP
    end_reason: str | None = None
    ended_by_remote: bool = False
    # Outbound: candidates from answerers not selected yet, by (user, party).
    _pending_candidates: dict[tuple[str, str | None], list[dict[str, Any]]] = field(default_factory=dict)
    _sent_end: bool = False

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def outbound(cls, room_id: str, user_id: str, *, invitee: str | None = None,
                 lifetime_ms: int = DEFAULT_LIFETIME_MS, call_id: str | None = None,
                 party_id: str | None = None) -> Call:
        return cls(room_id=room_id, call_id=call_id or new_call_id(), user_id=user_id,
                   party_id=party_id or new_party_id(), direction=Direction.OUTBOUND,
                   state=CallState.FRESH, lifetime_ms=lifetime_ms, invitee=invitee)

    @classmethod
    def from_invite(cls, room_id: str, event: dict[str, Any], user_id: str, now: float, *,
                    party_id: str | None = None, min_ring_seconds: float = MIN_RING_SECONDS) -> Call | None:
        """An inbound call for an ``m.call.invite`` we should ring for, else None: not for
        us (another invitee, our own echo), malformed, or expired (``age`` + ``lifetime``)."""
        content = event.get("content")
        sender = event.get("sender")
        if event.get("type") != "m.call.invite" or not isinstance(content, dict) or not isinstance(sender, str):
            return None
        call_id, offer = _str(content, "call_id"), _description(content, "offer")
        lifetime = content.get("lifetime")
        if not call_id or offer is None or not isinstance(lifetime, int) or isinstance(lifetime, bool):
            return None
        invitee = _str(content, "invitee")
        if invitee is not None and invitee != user_id:
            return None
        if sender == user_id and invitee != user_id:
            return None  # our own call (from this or another device), unless we called ourselves
        remaining = invite_remaining_seconds(event, now=0.0)
        if remaining is None or remaining < min_ring_seconds:
            return None
        return cls(room_id=room_id, call_id=call_id, user_id=user_id, party_id=party_id or new_party_id(),
                   direction=Direction.INBOUND, state=CallState.RINGING, lifetime_ms=lifetime,
                   invitee=invitee, opponent_user_id=sender, opponent_party_id=_str(content, "party_id"),
                   expires_at=now + remaining, remote_offer=offer[1])

    # --- what we send -----------------------------------------------------------------------
    def _content(self, **fields: Any) -> dict[str, Any]:
        return {"call_id": self.call_id, "party_id": self.party_id, "version": VERSION, **fields}

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED

    def invite(self, offer_sdp: str, now: float) -> Send:
        if self.state is not CallState.FRESH:
            raise CallError(f"cannot invite in state {self.state.value}")
        self.state = CallState.INVITE_SENT
        self.expires_at = now + self.lifetime_ms / 1000
        extra: dict[str, Any] = {"invitee": self.invitee} if self.invitee else {}
        return Send("m.call.invite", self._content(
            lifetime=self.lifetime_ms, offer={"type": "offer", "sdp": offer_sdp}, **extra))

    def answer(self, answer_sdp: str) -> Send:
        if self.state is not CallState.RINGING:
            raise CallError(f"cannot answer in state {self.state.value}")
        self.state = CallState.ANSWERED
        self.expires_at = None
        return Send("m.call.answer", self._content(answer={"type": "answer", "sdp": answer_sdp}))

    def candidates(self, candidates: list[dict[str, Any]], *, end_of_candidates: bool = True) -> Send:
        """Our candidates; with ``end_of_candidates`` the empty candidate ends the list."""
        items = list(candidates) + ([{"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}] if end_of_candidates else [])
        return Send("m.call.candidates", self._content(candidates=items))

    def negotiate(self, description_type: str, sdp: str, lifetime_ms: int = 10_000) -> Send:
        if self.state is not CallState.CONNECTED:
            raise CallError("renegotiation needs a connected call")
        return Send("m.call.negotiate", self._content(
            description={"type": description_type, "sdp": sdp}, lifetime=lifetime_ms))

    def reject(self) -> Send:
        """Decline a ringing call everywhere (version 1)."""
        if self.state is not CallState.RINGING:
            raise CallError(f"cannot reject in state {self.state.value}")
        self._end("user_hangup", by_remote=False)
        self._sent_end = True
        return Send("m.call.reject", self._content())

    def hangup(self, reason: str = "user_hangup") -> Send | None:
        """End the call; None if it already ended. A ringing call is rejected instead."""
        if self.state is CallState.ENDED:
            return None
        if self.state is CallState.RINGING:
            return self.reject()
        if self.state is CallState.FRESH:
            self._end(reason, by_remote=False)  # nothing was sent: nothing to hang up
            return None
        self._end(reason, by_remote=False)
        self._sent_end = True
        return Send("m.call.hangup", self._content(reason=reason))

    def expire(self, now: float) -> list[Effect]:
        """Unanswered past its lifetime: the caller hangs up (invite_timeout); a ringing
        callee stops ringing without sending anything."""
        if self.expires_at is None or now < self.expires_at:
            return []
        if self.state is CallState.INVITE_SENT:
            send = self.hangup("invite_timeout")
            return [send, Ended("invite_timeout", by_remote=False)] if send else []
        if self.state is CallState.RINGING:
            self._end("invite_timeout", by_remote=True)
            return [Ended("invite_timeout", by_remote=True)]
        return []

    def member_left(self, user_id: str) -> list[Effect]:
        """Spec "Behaviour on Room Leave": the other party leaving is a hangup; the invitee
        of our unanswered call leaving is as good as a rejection."""
        if self.state is CallState.ENDED:
            return []
        if user_id == self.opponent_user_id or (
            self.state is CallState.INVITE_SENT and self.invitee is not None and user_id == self.invitee
        ):
            self._end("user_hangup", by_remote=True)
            return [Ended("user_hangup", by_remote=True)]
        return []

    def _end(self, reason: str, *, by_remote: bool) -> None:
        self.state = CallState.ENDED
        self.end_reason = reason
        self.ended_by_remote = by_remote
        self.expires_at = None

    # --- what we receive ----------------------------------------------------------------------
    def receive(self, event: dict[str, Any]) -> list[Effect]:
        """Effects of a room event of this call (events of other calls give none)."""
        content = event.get("content")
        sender, etype = event.get("sender"), event.get("type")
        if not isinstance(content, dict) or not isinstance(sender, str) or content.get("call_id") != self.call_id:
            return []
        if self.state is CallState.ENDED:
            return []
        party = _str(content, "party_id")
        if sender == self.user_id and party == self.party_id:
            # Remote echo — or this party ended the call from another process.
            if etype in ("m.call.hangup", "m.call.reject") and not self._sent_end:
                reason = _str(content, "reason") or "user_hangup"
                self._end(reason, by_remote=False)
                return [Ended(reason, by_remote=False)]
            return []
        handler = {
            "m.call.answer": self._on_answer,
            "m.call.select_answer": self._on_select_answer,
            "m.call.candidates": self._on_candidates,
            "m.call.negotiate": self._on_negotiate,
            "m.call.reject": self._on_reject,
            "m.call.hangup": self._on_hangup,
        }.get(str(etype))
        return handler(sender, party, content) if handler else []

    def _is_opponent(self, sender: str, party: str | None) -> bool:
        return sender == self.opponent_user_id and party == self.opponent_party_id

    def _on_answer(self, sender: str, party: str | None, content: dict[str, Any]) -> list[Effect]:
        if self.direction is Direction.INBOUND:
            if sender == self.user_id and self.state is CallState.RINGING:
                # Another of our devices picked up: stop ringing here.
                self._end("answered_elsewhere", by_remote=True)
                return [Ended("answered_elsewhere", by_remote=True)]
            return []
        answer = _description(content, "answer")
        if self.state is not CallState.INVITE_SENT or answer is None:
            return []
        # The first answer wins; later answerers see a select_answer naming someone else.
        self.state = CallState.CONNECTED
        self.expires_at = None
        self.opponent_user_id, self.opponent_party_id = sender, party
        effects: list[Effect] = [
            Send("m.call.select_answer", self._content(selected_party_id=party)),
            RemoteAnswer(answer[1]),
        ]
        pending = self._pending_candidates.pop((sender, party), [])
        self._pending_candidates.clear()
        if pending:
            effects.append(RemoteCandidates(pending))
        return effects

    def _on_select_answer(self, sender: str, party: str | None, content: dict[str, Any]) -> list[Effect]:
        if self.direction is not Direction.INBOUND or not self._is_opponent(sender, party):
            return []
        if self.state is not CallState.ANSWERED:
            return []
        if content.get("selected_party_id") == self.party_id:
            self.state = CallState.CONNECTED
            return []
        self._end("answered_elsewhere", by_remote=True)
        return [Ended("answered_elsewhere", by_remote=True)]

    def _on_candidates(self, sender: str, party: str | None, content: dict[str, Any]) -> list[Effect]:
        items = content.get("candidates")
        candidates = [c for c in items if isinstance(c, dict)] if isinstance(items, list) else []
        if not candidates:
            return []
        if self.opponent_user_id is not None:
            return [RemoteCandidates(candidates)] if self._is_opponent(sender, party) else []
        # Outbound, before an answer is chosen: keep them for whichever party we select.
        self._pending_candidates.setdefault((sender, party), []).extend(candidates)
        return []

    def _on_negotiate(self, sender: str, party: str | None, content: dict[str, Any]) -> list[Effect]:
        desc = _description(content, None)
        if self.state is not CallState.CONNECTED or not self._is_opponent(sender, party) or desc is None:
            return []
        return [RemoteNegotiate(*desc)]

    def _on_reject(self, sender: str, party: str | None, content: dict[str, Any]) -> list[Effect]:
        if self.direction is Direction.OUTBOUND and self.state is CallState.INVITE_SENT:
            self._end("rejected", by_remote=True)
            return [Ended("rejected", by_remote=True)]
        if self.direction is Direction.INBOUND and self.state is CallState.RINGING and sender == self.user_id:
            self._end("rejected_elsewhere", by_remote=True)
            return [Ended("rejected_elsewhere", by_remote=True)]
        return []

    def _on_hangup(self, sender: str, party: str | None, content: dict[str, Any]) -> list[Effect]:
        # Before an answer is chosen the caller has no opponent: any other party's hangup ends it.
        if self.opponent_user_id is not None and not self._is_opponent(sender, party):
            return []
        reason = _str(content, "reason") or "user_hangup"
        self._end(reason, by_remote=True)
        return [Ended(reason, by_remote=True)]


def invite_remaining_seconds(event: dict[str, Any], now: float = 0.0) -> float | None:
    """Seconds an invite stays valid after it was received (``lifetime - unsigned.age``),
    plus `now`; None when malformed. Without ``age`` the whole lifetime is left."""
    content = event.get("content")
    lifetime = content.get("lifetime") if isinstance(content, dict) else None
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0:
        return None
    unsigned = event.get("unsigned")
    age = unsigned.get("age") if isinstance(unsigned, dict) else None
    age_ms = age if isinstance(age, int) and not isinstance(age, bool) and age >= 0 else 0
    return now + (lifetime - age_ms) / 1000


# --- glare --------------------------------------------------------------------------------
def glare_keeps_incoming(ours: Call, incoming_call_id: str) -> bool:
    """Spec "Glare": an invite arrives in the room of our outbound call. True when we
    should abandon ours and accept theirs: we had not sent our invite yet, or theirs has
    the lesser call ID."""
    if ours.direction is not Direction.OUTBOUND or ours.ended:
        return True
    if ours.state is CallState.FRESH:
        return True
    if ours.state is CallState.INVITE_SENT:
        return incoming_call_id < ours.call_id
    return False  # ours is already answered: the incoming one is a separate call


# --- calls seen in a room (for `parley hangup` and the chat view) -------------------------------
@dataclass
class ObservedCall:
    room_id: str
    call_id: str
    caller: str
    caller_party: str | None
    invitee: str | None
    expires_at: float | None  # while unanswered
    answerer: str | None = None
    answerer_party: str | None = None
    ended: bool = False

    def ringing_for(self, user_id: str, now: float) -> bool:
        return (not self.ended and self.answerer is None and self.caller != user_id
                and self.invitee in (None, user_id) and self.expires_at is not None and now < self.expires_at)

    def open(self, now: float) -> bool:
        if self.ended:
            return False
        return self.answerer is not None or (self.expires_at is not None and now < self.expires_at)


class CallLog:
    """Every call seen in the timeline and whether it is still open (pure bookkeeping)."""

    def __init__(self) -> None:
        self.calls: dict[str, ObservedCall] = {}

    def observe(self, room_id: str, event: dict[str, Any], now: float) -> ObservedCall | None:
        content, sender, etype = event.get("content"), event.get("sender"), event.get("type")
        if not isinstance(content, dict) or not isinstance(sender, str) or not isinstance(etype, str):
            return None
        call_id = _str(content, "call_id")
        if call_id is None:
            return None
        if etype == "m.call.invite":
            if call_id in self.calls:
                return self.calls[call_id]
            remaining = invite_remaining_seconds(event, now)
            invite = ObservedCall(room_id, call_id, sender, _str(content, "party_id"), _str(content, "invitee"),
                                  remaining)
            self.calls[call_id] = invite
            return invite
        seen = self.calls.get(call_id)
        if seen is None or seen.room_id != room_id:
            return None
        if etype == "m.call.answer" and seen.answerer is None:
            seen.answerer, seen.answerer_party = sender, _str(content, "party_id")
        elif etype == "m.call.select_answer" and sender == seen.caller:
            selected = _str(content, "selected_party_id")
            if selected is not None and selected != seen.answerer_party:
                seen.answerer_party = selected
        elif etype in ("m.call.hangup", "m.call.reject"):
            seen.ended = True
        return seen

    def open_calls(self, room_id: str | None, now: float) -> list[ObservedCall]:
        return [c for c in self.calls.values() if (room_id is None or c.room_id == room_id) and c.open(now)]

    def ringing(self, user_id: str, room_id: str | None, now: float) -> list[ObservedCall]:
        return [c for c in self.calls.values()
                if (room_id is None or c.room_id == room_id) and c.ringing_for(user_id, now)]


def end_observed(call: ObservedCall, user_id: str) -> tuple[str, dict[str, Any]] | None:
    """The event ending an open call from another process of the same account: a hangup
    as the party we were in it, or a reject of a call ringing for us; None if we are not in it."""
    base = {"call_id": call.call_id, "version": VERSION}
    if call.caller == user_id and call.caller_party is not None:
        return "m.call.hangup", {**base, "party_id": call.caller_party, "reason": "user_hangup"}
    if call.answerer == user_id and call.answerer_party is not None:
        return "m.call.hangup", {**base, "party_id": call.answerer_party, "reason": "user_hangup"}
    if call.answerer is None and call.invitee in (None, user_id):
        return "m.call.reject", {**base, "party_id": new_party_id()}
    return None
