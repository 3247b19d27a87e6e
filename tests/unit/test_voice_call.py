"""The sans-I/O m.call.* state machine and the FFT helper (spec: voip_events.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from clients.voice.audio import dominant_frequency, tone_samples
from clients.voice.call import (
    Call,
    CallError,
    CallLog,
    CallState,
    Ended,
    RemoteAnswer,
    RemoteCandidates,
    RemoteNegotiate,
    Send,
    end_observed,
    glare_keeps_incoming,
    invite_remaining_seconds,
)

ALICE, BOB, ROOM = "@alice:hs", "@bob:hs", "!room:hs"


def event(sender: str, etype: str, send: Send | dict[str, Any], **unsigned: Any) -> dict[str, Any]:
    content = send.content if isinstance(send, Send) else send
    return {"type": etype, "sender": sender, "content": content, "unsigned": unsigned}


def placed(now: float = 0.0, **kw: Any) -> tuple[Call, Send]:
    call = Call.outbound(ROOM, ALICE, **kw)
    return call, call.invite("v=0 offer", now)


def rung(invite: Send, now: float = 0.0, user: str = BOB, **unsigned: Any) -> Call:
    call = Call.from_invite(ROOM, event(ALICE, "m.call.invite", invite, **unsigned), user, now)
    assert call is not None
    return call


def test_invite_answer_select_answer_hangup() -> None:
    caller, invite = placed(call_id="c1")
    assert invite.type == "m.call.invite"
    assert invite.content["version"] == "1" and invite.content["lifetime"] == 90_000
    assert len(invite.content["party_id"]) >= 8 and invite.content["offer"] == {"type": "offer", "sdp": "v=0 offer"}
    callee = rung(invite)
    assert callee.state is CallState.RINGING and callee.remote_offer == "v=0 offer"
    answer = callee.answer("v=0 answer")
    effects = caller.receive(event(BOB, "m.call.answer", answer))
    select = effects[0]
    assert isinstance(select, Send) and select.type == "m.call.select_answer"
    assert select.content["selected_party_id"] == callee.party_id
    assert effects[1] == RemoteAnswer("v=0 answer")
    assert callee.receive(event(ALICE, "m.call.select_answer", select)) == []
    assert caller.state is callee.state is CallState.CONNECTED
    hangup = callee.hangup()
    assert hangup is not None and hangup.content["reason"] == "user_hangup"
    assert caller.receive(event(BOB, "m.call.hangup", hangup)) == [Ended("user_hangup", by_remote=True)]
    assert caller.ended and callee.ended and callee.hangup() is None


def test_own_echo_is_ignored_but_a_hangup_as_our_party_from_elsewhere_ends_the_call() -> None:
    caller, invite = placed()
    assert caller.receive(event(ALICE, "m.call.invite", invite)) == []
    callee = rung(invite)
    caller.receive(event(BOB, "m.call.answer", callee.answer("sdp")))
    sent = caller.candidates([])
    assert caller.receive(event(ALICE, "m.call.candidates", sent)) == []
    # `parley hangup` in another terminal sends a hangup as the same party.
    from_elsewhere = {"call_id": caller.call_id, "party_id": caller.party_id, "version": "1", "reason": "user_hangup"}
    assert caller.receive(event(ALICE, "m.call.hangup", from_elsewhere)) == [Ended("user_hangup", by_remote=False)]
    # ...while our own hangup coming back is just echo.
    other, invite2 = placed()
    echo = other.hangup()
    assert echo is not None and other.receive(event(ALICE, "m.call.hangup", echo)) == []


def test_second_answer_loses_and_the_loser_stops() -> None:
    caller, invite = placed()
    first, second = rung(invite), rung(invite, user="@carol:hs")
    a1, a2 = first.answer("sdp1"), second.answer("sdp2")
    select = caller.receive(event(BOB, "m.call.answer", a1))[0]
    assert caller.receive(event("@carol:hs", "m.call.answer", a2)) == []
    assert isinstance(select, Send)
    assert second.receive(event(ALICE, "m.call.select_answer", select)) == [Ended("answered_elsewhere", by_remote=True)]
    assert first.receive(event(ALICE, "m.call.select_answer", select)) == []
    assert first.state is CallState.CONNECTED


def test_answer_or_reject_on_another_device_stops_ringing() -> None:
    _, invite = placed()
    here, there = rung(invite), rung(invite)
    assert here.receive(event(BOB, "m.call.answer", there.answer("sdp"))) == [Ended("answered_elsewhere", by_remote=True)]
    here2, there2 = rung(invite), rung(invite)
    assert here2.receive(event(BOB, "m.call.reject", there2.reject())) == [Ended("rejected_elsewhere", by_remote=True)]


def test_reject_ends_the_callers_call() -> None:
    caller, invite = placed()
    callee = rung(invite)
    reject = callee.reject()
    assert reject.type == "m.call.reject" and callee.ended
    assert caller.receive(event(BOB, "m.call.reject", reject)) == [Ended("rejected", by_remote=True)]
    with pytest.raises(CallError):
        callee.answer("sdp")


def test_candidates_before_the_answer_are_kept_for_the_selected_party() -> None:
    caller, invite = placed()
    callee = rung(invite)
    early = callee.candidates([{"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}])
    assert caller.receive(event(BOB, "m.call.candidates", early)) == []
    effects = caller.receive(event(BOB, "m.call.answer", callee.answer("sdp")))
    assert isinstance(effects[-1], RemoteCandidates) and len(effects[-1].candidates) == 2
    later = callee.candidates([], end_of_candidates=True)
    assert caller.receive(event(BOB, "m.call.candidates", later)) == [RemoteCandidates(later.content["candidates"])]
    # Candidates from a stranger (not the selected party) are ignored.
    stranger = dict(later.content, party_id="someone")
    assert caller.receive(event(BOB, "m.call.candidates", stranger)) == []


def test_negotiate_reaches_the_peer_once_connected() -> None:
    caller, invite = placed()
    callee = rung(invite)
    select = caller.receive(event(BOB, "m.call.answer", callee.answer("sdp")))[0]
    assert isinstance(select, Send)
    callee.receive(event(ALICE, "m.call.select_answer", select))
    offer = caller.negotiate("offer", "v=0 again")
    assert callee.receive(event(ALICE, "m.call.negotiate", offer)) == [RemoteNegotiate("offer", "v=0 again")]


def test_invite_liveness_uses_age_and_lifetime() -> None:
    _, invite = placed(lifetime_ms=60_000)
    assert invite_remaining_seconds(event(ALICE, "m.call.invite", invite, age=20_000)) == 40.0
    fresh = rung(invite, now=100.0, age=20_000)
    assert fresh.expires_at == 140.0
    assert Call.from_invite(ROOM, event(ALICE, "m.call.invite", invite, age=59_000), BOB, 0.0) is None
    assert fresh.expire(139.0) == []
    assert fresh.expire(140.0) == [Ended("invite_timeout", by_remote=True)] and fresh.ended
    caller, _ = placed(now=10.0, lifetime_ms=60_000)
    effects = caller.expire(70.0)
    assert isinstance(effects[0], Send) and effects[0].content["reason"] == "invite_timeout"


def test_invites_not_for_us_or_malformed_do_not_ring() -> None:
    _, invite = placed(invitee="@carol:hs")
    assert Call.from_invite(ROOM, event(ALICE, "m.call.invite", invite), BOB, 0.0) is None
    assert Call.from_invite(ROOM, event(ALICE, "m.call.invite", invite), "@carol:hs", 0.0) is not None
    _, own = placed()
    assert Call.from_invite(ROOM, event(ALICE, "m.call.invite", own), ALICE, 0.0) is None
    for broken in ({}, {"call_id": "x", "lifetime": 90000}, {"call_id": "x", "offer": {"sdp": "s", "type": "offer"}},
                   {"call_id": "x", "lifetime": True, "offer": {"sdp": "s", "type": "offer"}}):
        assert Call.from_invite(ROOM, event(ALICE, "m.call.invite", broken), BOB, 0.0) is None


def test_glare_keeps_the_lesser_call_id() -> None:
    preparing = Call.outbound(ROOM, ALICE, call_id="m")
    assert glare_keeps_incoming(preparing, "z")  # not sent yet: take theirs
    sent, _ = placed(call_id="m")
    assert glare_keeps_incoming(sent, "a")
    assert not glare_keeps_incoming(sent, "z")


def test_call_log_finds_the_open_call_and_how_to_end_it() -> None:
    log = CallLog()
    caller, invite = placed()
    log.observe(ROOM, event(ALICE, "m.call.invite", invite), now=0.0)
    assert [c.call_id for c in log.ringing(BOB, ROOM, now=1.0)] == [caller.call_id]
    assert log.ringing(ALICE, ROOM, now=1.0) == []
    ringing = log.open_calls(ROOM, 1.0)[0]
    ending = end_observed(ringing, BOB)
    assert ending is not None and ending[0] == "m.call.reject"
    callee = rung(invite)
    log.observe(ROOM, event(BOB, "m.call.answer", callee.answer("sdp")), now=2.0)
    open_call = log.open_calls(ROOM, 500.0)[0]  # answered calls stay open past the lifetime
    assert end_observed(open_call, ALICE) == ("m.call.hangup", {
        "call_id": caller.call_id, "version": "1", "party_id": caller.party_id, "reason": "user_hangup"})
    hangup_as_bob = end_observed(open_call, BOB)
    assert hangup_as_bob is not None and hangup_as_bob[1]["party_id"] == callee.party_id
    log.observe(ROOM, event(BOB, "m.call.hangup", callee.hangup() or {}), now=3.0)
    assert log.open_calls(ROOM, 3.0) == []


@pytest.mark.parametrize("frequency", [440.0, 880.0, 1234.0])
def test_dominant_frequency_of_a_tone(frequency: float) -> None:
    samples = tone_samples(frequency, 0, 48_000)
    assert dominant_frequency(samples, 48_000) == pytest.approx(frequency, abs=2)


def test_dominant_frequency_refuses_silence() -> None:
    with pytest.raises(ValueError):
        dominant_frequency(np.zeros(48_000), 48_000)


def test_the_other_party_leaving_is_a_hangup() -> None:
    caller, invite = placed()
    callee = rung(invite)
    caller.receive(event(BOB, "m.call.answer", callee.answer("sdp")))
    assert caller.member_left("@carol:hs") == []
    assert caller.member_left(BOB) == [Ended("user_hangup", by_remote=True)]
    assert callee.member_left(ALICE) == [Ended("user_hangup", by_remote=True)]
    unanswered, _ = placed(invitee=BOB)
    assert unanswered.member_left(BOB) == [Ended("user_hangup", by_remote=True)]
