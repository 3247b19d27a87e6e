"""1:1 voice calls on top of ``AsyncClient`` (spec: client-server-api "Voice over IP").

``CallManager`` listens to the ``m.call.*`` events of every room through the client's
callbacks, drives one ``clients.voice.call.Call`` state machine per call and one aiortc
``CallPeer`` per call with media. Signalling goes out with ``client.send_event``, so it
is encrypted in encrypted rooms like any event.

The application keeps the client syncing (``sync_forever``); incoming calls ring (the
``on_ring`` callback and ``wait_for_ringing``) only after the whole sync response that
carried the invite was processed, so an invite already hung up or answered elsewhere in
the same batch never rings (spec: "Call Event Liveness").

    >>> calls = CallManager(client, ice_servers=[])
    >>> handle = await calls.place_call(room_id, tone_source(440), wav_sink("heard.wav"))
    >>> await handle.wait_connected(30)
    >>> await calls.hangup(handle)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCIceServer
from aiortc.exceptions import InvalidStateError

from clients.sdk.api import CLIENT_V3, Request
from clients.sdk.client import AsyncClient
from clients.sdk.errors import MatrixRequestError, TransportError
from clients.sdk.rooms import Room
from clients.voice.audio import AudioSink, AudioSource
from clients.voice.call import (
    CALL_EVENT_TYPES,
    DEFAULT_LIFETIME_MS,
    Call,
    CallError,
    CallLog,
    CallState,
    Direction,
    Effect,
    Ended,
    RemoteAnswer,
    RemoteCandidates,
    RemoteNegotiate,
    Send,
    glare_keeps_incoming,
)
from clients.voice.peer import CallPeer, ice_servers_from_turn

log = logging.getLogger(__name__)

TURN_REQUEST_TIMEOUT = 10.0
RingCallback = Callable[["CallHandle"], Awaitable[None] | None]


class CallHandle:
    """One call as the application sees it. After glare resolution the handle may carry
    the other party's call instead of the one we placed (the swap is seamless)."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.peer: CallPeer | None = None
        self.source: AudioSource | None = None
        self.sink: AudioSink | None = None
        self.ringing = asyncio.Event()
        self.ended = asyncio.Event()
        self._expiry: asyncio.Task[None] | None = None

    @property
    def room_id(self) -> str:
        return self.call.room_id

    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def state(self) -> CallState:
        return self.call.state

    @property
    def caller(self) -> str | None:
        return self.call.user_id if self.call.direction is Direction.OUTBOUND else self.call.opponent_user_id

    @property
    def end_reason(self) -> str | None:
        return self.call.end_reason

    async def wait_connected(self, timeout: float) -> None:
        """Until media flows (ICE and DTLS connected); raises if the call ends or fails first."""
        async with asyncio.timeout(timeout):
            while True:
                peer = self.peer
                if peer is None:  # not set up yet, or between the two calls of a glare swap
                    await _first_of(self.ended.wait(), asyncio.sleep(0.05))
                else:
                    await _first_of(peer.connected.wait(), self.ended.wait(), peer.failed.wait())
                if self.ended.is_set():
                    raise CallError(f"the call ended before connecting: {self.end_reason}")
                if peer is not None and self.peer is peer:
                    if peer.connected.is_set():
                        return
                    if peer.failed.is_set():
                        raise CallError("the connection failed")

    async def wait_ended(self, timeout: float | None = None) -> str | None:
        async with asyncio.timeout(timeout):
            await self.ended.wait()
        return self.end_reason


async def _first_of(*aws: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


class CallManager:
    def __init__(
        self,
        client: AsyncClient,
        *,
        ice_servers: list[RTCIceServer] | None = None,
        lifetime_ms: int = DEFAULT_LIFETIME_MS,
        on_ring: RingCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        # None: ask the homeserver (/voip/turnServer) on first use.
        self.ice_servers = ice_servers
        self.lifetime_ms = lifetime_ms
        self.on_ring = on_ring
        self.clock = clock
        self.log = CallLog()
        self.handles: dict[str, CallHandle] = {}
        self._just_invited: list[CallHandle] = []
        self._ringing_changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[Any]] = set()
        for event_type in CALL_EVENT_TYPES:
            client.callbacks.on_event(event_type)(self._on_event)
        client.callbacks.on_event("m.room.member")(self._on_member)
        client.callbacks.on_sync(self._on_sync)

    # --- ICE servers ----------------------------------------------------------------------
    async def fetch_ice_servers(self) -> list[RTCIceServer]:
        """TURN servers from ``GET /voip/turnServer``; [] when the server has none."""
        request = Request("GET", f"{CLIENT_V3}/voip/turnServer", timeout=TURN_REQUEST_TIMEOUT)
        try:
            answer = await self.client.request(request)
        except (MatrixRequestError, TransportError) as e:
            log.info("no TURN servers (%s); host candidates only", e)
            return []
        return ice_servers_from_turn(answer)

    async def _ice(self) -> list[RTCIceServer]:
        if self.ice_servers is None:
            self.ice_servers = await self.fetch_ice_servers()
        return self.ice_servers

    # --- placing, answering, ending ----------------------------------------------------------
    async def place_call(self, room_id: str, source: AudioSource, sink: AudioSink, *,
                         invitee: str | None = None) -> CallHandle:
        call = Call.outbound(room_id, self.client.require_user_id(), invitee=invitee, lifetime_ms=self.lifetime_ms)
        handle = CallHandle(call)
        handle.source, handle.sink = source, sink
        self.handles[call.call_id] = handle
        peer = CallPeer(source, sink, ice_servers=await self._ice())
        handle.peer = peer
        try:
            offer = await peer.create_offer()
        except InvalidStateError:
            if handle.call is call:
                raise
            offer = ""  # glare while preparing closed this peer
        if call.state is not CallState.FRESH or handle.call is not call:
            return handle  # glare while preparing: we answered their call instead
        await self._run(handle, [call.invite(offer, self.clock())])
        await self._run(handle, [call.candidates([])])
        self._arm_expiry(handle)
        return handle

    async def answer(self, handle: CallHandle, source: AudioSource, sink: AudioSink) -> None:
        call = handle.call
        if call.state is not CallState.RINGING or call.remote_offer is None:
            raise CallError(f"cannot answer a call in state {call.state.value}")
        handle.source, handle.sink = source, sink
        peer = CallPeer(source, sink, ice_servers=await self._ice())
        handle.peer = peer
        answer_sdp = await peer.accept_offer(call.remote_offer)
        if call.state is not CallState.RINGING:  # hung up while we prepared
            await self._finish(handle)
            raise CallError(f"the call ended: {call.end_reason}")
        await self._run(handle, [call.answer(answer_sdp)])
        await self._run(handle, [call.candidates([])])

    async def reject(self, handle: CallHandle) -> None:
        await self._run(handle, [handle.call.reject(), Ended("user_hangup", by_remote=False)])

    async def hangup(self, handle: CallHandle, reason: str = "user_hangup") -> None:
        send = handle.call.hangup(reason)
        effects: list[Effect] = [send] if send else []
        await self._run(handle, [*effects, Ended(reason, by_remote=False)])

    def ringing(self, room_id: str | None = None) -> list[CallHandle]:
        return [h for h in self.handles.values()
                if h.state is CallState.RINGING and h.ringing.is_set() and room_id in (None, h.room_id)]

    async def wait_for_ringing(self, room_id: str | None, timeout: float) -> CallHandle:
        """The first call ringing for us (in `room_id`, if given); another task must sync."""
        async with asyncio.timeout(timeout):
            async with self._ringing_changed:
                while True:
                    self._expire_due()
                    found = self.ringing(room_id)
                    if found:
                        return found[0]
                    await self._ringing_changed.wait()

    async def close(self) -> None:
        """Hang up every open call and release its media."""
        for handle in list(self.handles.values()):
            if not handle.call.ended and handle.call.state is not CallState.RINGING:
                try:
                    await self.hangup(handle)
                except (MatrixRequestError, TransportError) as e:
                    log.warning("hangup failed: %s", e)
            await self._finish(handle)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- events -----------------------------------------------------------------------------
    async def _on_event(self, room: Room, event: dict[str, Any]) -> None:
        now = self.clock()
        self.log.observe(room.room_id, event, now)
        content = event.get("content")
        call_id = content.get("call_id") if isinstance(content, dict) else None
        if not isinstance(call_id, str):
            return
        handle = self.handles.get(call_id)
        if handle is not None:
            await self._run(handle, handle.call.receive(event))
            return
        if event.get("type") != "m.call.invite":
            return
        call = Call.from_invite(room.room_id, event, self.client.require_user_id(), now)
        if call is None:
            return
        ours = next((h for h in self.handles.values() if h.room_id == room.room_id
                     and h.call.direction is Direction.OUTBOUND
                     and h.state in (CallState.FRESH, CallState.INVITE_SENT)), None)
        if ours is not None:
            await self._glare(ours, call)
            return
        handle = CallHandle(call)
        self.handles[call_id] = handle
        self._just_invited.append(handle)

    async def _on_member(self, room: Room, event: dict[str, Any]) -> None:
        content = event.get("content")
        user_id = event.get("state_key")
        if not isinstance(content, dict) or not isinstance(user_id, str):
            return
        if content.get("membership") not in ("leave", "ban"):
            return
        for handle in list(self.handles.values()):
            if handle.room_id == room.room_id and handle.call.call_id in self.handles:
                await self._run(handle, handle.call.member_left(user_id))

    async def _glare(self, ours: CallHandle, incoming: Call) -> None:
        """Spec "Glare": keep the call with the lesser ID; if that is theirs, drop ours and
        answer theirs with the same media, so it looks as if they had answered."""
        if not glare_keeps_incoming(ours.call, incoming.call_id):
            log.info("glare: keeping our call %s over %s", ours.call_id, incoming.call_id)
            return
        log.info("glare: replacing our call %s with %s", ours.call_id, incoming.call_id)
        old_call, old_peer = ours.call, ours.peer
        send = old_call.hangup("user_hangup")
        if send is not None:
            await self._send(old_call.room_id, send)
        if ours._expiry is not None:
            ours._expiry.cancel()
        if old_peer is not None:
            await old_peer.pc.close()  # keeps the source track and the sink for the new call
        ours.call = incoming
        ours.peer = None
        self.handles[incoming.call_id] = ours
        assert ours.source is not None and ours.sink is not None
        await self.answer(ours, ours.source, ours.sink)

    async def _on_sync(self, response: dict[str, Any]) -> None:
        invited, self._just_invited = self._just_invited, []
        for handle in invited:
            if handle.state is CallState.RINGING:
                handle.ringing.set()
                self._arm_expiry(handle)
                if self.on_ring is not None:
                    result = self.on_ring(handle)
                    if asyncio.iscoroutine(result):
                        await result
        self._expire_due()
        async with self._ringing_changed:
            self._ringing_changed.notify_all()

    # --- effects ----------------------------------------------------------------------------
    async def _run(self, handle: CallHandle, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                await self._send(handle.room_id, effect)
            elif isinstance(effect, RemoteAnswer) and handle.peer is not None:
                await handle.peer.accept_answer(effect.sdp)
            elif isinstance(effect, RemoteCandidates) and handle.peer is not None:
                await handle.peer.add_remote_candidates(effect.candidates)
            elif isinstance(effect, RemoteNegotiate) and handle.peer is not None:
                answer = await handle.peer.renegotiate(effect.type, effect.sdp)
                if answer is not None:
                    await self._send(handle.room_id, handle.call.negotiate("answer", answer))
            elif isinstance(effect, Ended):
                await self._finish(handle)

    async def _send(self, room_id: str, send: Send) -> None:
        await self.client.send_event(room_id, send.type, send.content)

    async def _finish(self, handle: CallHandle) -> None:
        if handle._expiry is not None and handle._expiry is not asyncio.current_task():
            handle._expiry.cancel()
        if handle.peer is not None:
            await handle.peer.close()
        elif handle.source is not None:
            handle.source.close()
        handle.ended.set()

    def _arm_expiry(self, handle: CallHandle) -> None:
        expires_at = handle.call.expires_at
        if expires_at is None or handle._expiry is not None:
            return

        async def expire() -> None:
            await asyncio.sleep(max(0.0, expires_at - self.clock()))
            await self._run(handle, handle.call.expire(self.clock()))
            async with self._ringing_changed:
                self._ringing_changed.notify_all()

        task = asyncio.create_task(expire(), name=f"call-expiry-{handle.call_id}")
        handle._expiry = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _expire_due(self) -> None:
        now = self.clock()
        for handle in self.handles.values():
            if handle.state is CallState.RINGING and handle.call.expires_at is not None and now >= handle.call.expires_at:
                handle.call.expire(now)
                handle.ended.set()
