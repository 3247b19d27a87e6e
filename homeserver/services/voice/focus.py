"""The media focus of the voice channels of the rooms this server is in.

A participant's client sends an SDP offer (one audio track, one data channel); the focus
answers with aiortc, decodes the participant's audio once, and every 20 ms sends each
listener the mix of everyone but them (``mixer.mix_minus``), one Opus encode per
listener. The data channel carries the roster (who is there, muted, speaking) to every
participant. A participant whose peer connection fails or who sends no audio for
``drop_after_s`` is removed, and a local user's MatrixRTC member state is cleared.

Design note: the channel is the unit of media; an SFU mode would replace ``_tick``'s mix
with per-listener forwarding of the received packets and keep everything else.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdatachannel import RTCDataChannel
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from av import AudioFrame

from federation.rooms.power_levels import required_power_level, user_power_level
from homeserver.clock import Clock
from homeserver.errors import MatrixError, forbidden, invalid_param, not_found
from homeserver.services.graph.events import EventService
from homeserver.services.voice.mixer import (
    SPEAKING_DBFS,
    PcmFrame,
    level_dbfs,
    mix_minus,
    to_mono,
)
from homeserver.services.voice.openid import OpenIdToken, OpenIdVerifier, unknown_token
from homeserver.services.voice.tracks import MixedAudioTrack

logger = logging.getLogger(__name__)

# MatrixRTC membership (MSC3401/MSC4143): one state event per participating device.
CALL_MEMBER_TYPES = ("org.matrix.msc3401.call.member", "m.call.member")
FOCUS_TYPE = "parley"
TICK_S = 0.020
INBOX_FRAMES = 2  # per-speaker jitter allowance; older frames are dropped (latency bound)
SPEAKING_HOLD_S = 0.4
SERVER_JITTER_PREFETCH = 1
MAX_SDP_BYTES = 65_536
NEGOTIATION_TIMEOUT_S = 10.0


def member_state_key(user_id: str, device_id: str) -> str:
    # MSC4143: "_{user_id}_{device_id}" — the leading underscore keeps it sendable by
    # the user under the stable auth rules (state keys starting with "@" must be the sender).
    return f"_{user_id}_{device_id}"


def _shorten_jitter_buffer(receiver: RTCRtpReceiver) -> None:
    """Start playout after SERVER_JITTER_PREFETCH packets instead of aiortc's 4 (80 ms).

    The focus is one of two jitter buffers on the mouth-to-ear path, and the mixer's own
    inbox already absorbs a frame of jitter; aiortc has no option for it, hence the
    private attribute (checked, so an aiortc upgrade that renames it only costs latency).
    """
    attr = "_RTCRtpReceiver__jitter_buffer"
    if isinstance(getattr(receiver, attr, None), JitterBuffer):
        setattr(receiver, attr, JitterBuffer(capacity=16, prefetch=SERVER_JITTER_PREFETCH))
    else:
        logger.warning("voice: aiortc's receiver has no %s; keeping its jitter buffer", attr)


@dataclass(eq=False)
class Participant:
    participant_id: str
    room_id: str
    user_id: str
    device_id: str
    pc: RTCPeerConnection
    outbound: MixedAudioTrack
    joined_at: float
    last_audio_at: float
    muted: bool = False
    speaking: bool = False
    speaking_until: float = 0.0
    inbox: deque[PcmFrame] = field(default_factory=lambda: deque(maxlen=INBOX_FRAMES))
    channel: RTCDataChannel | None = None
    reader: asyncio.Task[None] | None = None
    frames_received: int = 0

    def roster_entry(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "device_id": self.device_id,
                "muted": self.muted, "speaking": self.speaking}


@dataclass(eq=False)
class VoiceChannel:
    room_id: str
    participants: dict[str, Participant] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


@dataclass(frozen=True, slots=True)
class JoinAnswer:
    sdp: str
    participant_id: str


class VoiceFocus:
    """Voice channels of rooms: join/leave/mute, the mixing clock, dropped-peer removal."""

    def __init__(
        self,
        events: EventService,
        verify_openid: OpenIdVerifier,
        clock: Clock,
        is_mine: Callable[[str], bool],
        *,
        drop_after_s: float = 3.0,
        join_grace_s: float = 10.0,
    ) -> None:
        self._events = events
        self._verify_openid = verify_openid
        self._clock = clock
        self._is_mine = is_mine
        self.drop_after_s = drop_after_s
        self.join_grace_s = join_grace_s
        self._channels: dict[str, VoiceChannel] = {}
        self._by_id: dict[str, Participant] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # sha256(token) -> monotonic expiry: an OpenID token opens one session only.
        self._used_tokens: dict[bytes, float] = {}
        self._stopping = False

    # --- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False

    async def stop(self) -> None:
        self._stopping = True
        for p in list(self._by_id.values()):
            self._remove(p, "server shutting down", clear_state=False)
        tasks = list(self._tasks) + [c.task for c in self._channels.values() if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._channels.clear()

    # --- authentication --------------------------------------------------------------
    async def authenticate(self, token: OpenIdToken) -> str:
        """The user the token was issued to; a token already used here is refused."""
        now = self._clock.monotonic()
        self._used_tokens = {k: exp for k, exp in self._used_tokens.items() if exp > now}
        digest = hashlib.sha256(f"{token.matrix_server_name}\0{token.access_token}".encode()).digest()
        if digest in self._used_tokens:
            raise unknown_token("This OpenID token has already been used")
        user_id = await self._verify_openid(token.model_dump())
        self._used_tokens[digest] = now + max(60, min(token.expires_in, 86_400))
        return user_id

    # --- the API -------------------------------------------------------------------------
    async def join(self, room_id: str, user_id: str, device_id: str, offer_sdp: str) -> JoinAnswer:
        if self._stopping:
            raise MatrixError("M_UNAVAILABLE", 503, "The voice focus is shutting down")
        await self._check_may_join(room_id, user_id)
        if len(offer_sdp.encode()) > MAX_SDP_BYTES:
            raise invalid_param("sdp is too large")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            answer = await self._negotiate(pc, offer_sdp)
        except BaseException:
            await pc.close()
            raise
        now = self._clock.monotonic()
        p = Participant(
            participant_id=secrets.token_urlsafe(18), room_id=room_id, user_id=user_id,
            device_id=device_id, pc=pc, outbound=answer[1], joined_at=now, last_audio_at=now,
        )
        self._attach(p, answer[2])
        old = next((q for q in self._channel(room_id).participants.values()
                    if q.user_id == user_id and q.device_id == device_id), None)
        if old is not None:  # the same device joining again replaces its old session
            self._remove(old, "rejoined", clear_state=False)
        channel = self._channel(room_id)
        channel.participants[p.participant_id] = p
        self._by_id[p.participant_id] = p
        if channel.task is None:
            channel.task = asyncio.get_running_loop().create_task(
                self._run(channel), name=f"voice-mix {room_id}")
        logger.info("voice: %s (%s) joined %s", user_id, device_id, room_id)
        self._broadcast(channel)
        return JoinAnswer(sdp=answer[0], participant_id=p.participant_id)

    def leave(self, room_id: str, participant_id: str) -> None:
        p = self._participant(room_id, participant_id)
        # A client that says goodbye empties its own member event (MatrixRTC).
        self._remove(p, "left", clear_state=False)

    def set_muted(self, room_id: str, participant_id: str, muted: bool) -> None:
        p = self._participant(room_id, participant_id)
        if p.muted != muted:
            p.muted = muted
            p.speaking = p.speaking and not muted
            self._broadcast(self._channel(room_id))

    def roster(self, room_id: str) -> list[dict[str, Any]]:
        channel = self._channels.get(room_id)
        if channel is None:
            return []
        return [p.roster_entry() for p in channel.participants.values()]

    # --- checks ------------------------------------------------------------------------
    async def _check_may_join(self, room_id: str, user_id: str) -> None:
        room = await self._events.get_room(room_id)
        if room is None:
            raise not_found("This server is not in that room")
        if room.membership(user_id) != "join":
            raise forbidden("You are not joined to this room")
        # As in MatrixRTC clients: whoever may publish a call member event may join.
        pl_event = room.state.get(("m.room.power_levels", ""))
        pl = pl_event.content if pl_event is not None else None
        needed = required_power_level(CALL_MEMBER_TYPES[0], True, pl)
        if user_power_level(user_id, pl, room.create_event, room.version) < needed:
            raise forbidden(f"Joining the voice channel needs power level {needed}")

    def _participant(self, room_id: str, participant_id: str) -> Participant:
        p = self._by_id.get(participant_id)
        if p is None or p.room_id != room_id:
            raise not_found("No such participant in this room's voice channel")
        return p

    def _channel(self, room_id: str) -> VoiceChannel:
        channel = self._channels.get(room_id)
        if channel is None:
            channel = self._channels[room_id] = VoiceChannel(room_id)
        return channel

    # --- WebRTC ------------------------------------------------------------------------
    async def _negotiate(
        self, pc: RTCPeerConnection, offer_sdp: str
    ) -> tuple[str, MixedAudioTrack, list[MediaStreamTrack]]:
        received: list[MediaStreamTrack] = []
        pc.on("track", received.append)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise invalid_param(f"sdp is not a usable offer: {e}") from None
        audio = [t for t in pc.getTransceivers() if t.kind == "audio"]
        if not audio:
            raise invalid_param("sdp offers no audio")
        for transceiver in audio:
            _shorten_jitter_buffer(transceiver.receiver)
        outbound = MixedAudioTrack()
        pc.addTrack(outbound)  # takes the offer's first audio transceiver
        async with asyncio.timeout(NEGOTIATION_TIMEOUT_S):
            await pc.setLocalDescription(await pc.createAnswer())
        local = pc.localDescription
        return local.sdp, outbound, received

    def _attach(self, p: Participant, tracks: list[MediaStreamTrack]) -> None:
        loop = asyncio.get_running_loop()

        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and p.reader is None:
                p.reader = loop.create_task(self._read(p, track), name=f"voice-in {p.participant_id}")

        for track in tracks:
            on_track(track)
        p.pc.on("track", on_track)

        @p.pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            p.channel = channel

            @channel.on("open")
            def on_open() -> None:
                self._broadcast(self._channel(p.room_id))

            if channel.readyState == "open":
                self._broadcast(self._channel(p.room_id))

        @p.pc.on("connectionstatechange")
        def on_state() -> None:
            if p.pc.connectionState in ("failed", "closed") and p.participant_id in self._by_id:
                self._remove(p, f"connection {p.pc.connectionState}", clear_state=True)

    async def _read(self, p: Participant, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, AudioFrame):
                continue
            pcm = to_mono(frame.to_ndarray().reshape(-1), len(frame.layout.channels))
            now = self._clock.monotonic()
            p.inbox.append(pcm)
            p.last_audio_at = now
            p.frames_received += 1
            if level_dbfs(pcm) > SPEAKING_DBFS:
                p.speaking_until = now + SPEAKING_HOLD_S

    # --- the mixing clock --------------------------------------------------------------
    async def _run(self, channel: VoiceChannel) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        try:
            while channel.participants:
                self._tick(channel, self._clock.monotonic())
                next_at += TICK_S
                delay = next_at - loop.time()
                if delay < -5 * TICK_S:  # fell far behind (CPU): skip ahead, do not burst
                    next_at = loop.time()
                    delay = 0.0
                await asyncio.sleep(max(0.0, delay))
        finally:
            if self._channels.get(channel.room_id) is channel and not channel.participants:
                del self._channels[channel.room_id]
            channel.task = None

    def _tick(self, channel: VoiceChannel, now: float) -> None:
        inputs: dict[str, PcmFrame] = {}
        speaking_changed = False
        for pid, p in list(channel.participants.items()):
            if p.inbox:
                frame = p.inbox.popleft()
                if not p.muted:
                    inputs[pid] = frame
            # Before its first frame a peer gets the grace of ICE and DTLS set-up.
            deadline = (p.last_audio_at + self.drop_after_s if p.frames_received
                        else p.joined_at + self.join_grace_s)
            if now > deadline:
                self._remove(p, "no audio", clear_state=True)
                continue
            speaking = not p.muted and now < p.speaking_until
            if speaking != p.speaking:
                p.speaking = speaking
                speaking_changed = True
        listeners = list(channel.participants)
        for pid, pcm in mix_minus(inputs, listeners).items():
            channel.participants[pid].outbound.push(pcm)
        if speaking_changed:
            self._broadcast(channel)

    # --- leaving -----------------------------------------------------------------------
    def _remove(self, p: Participant, reason: str, *, clear_state: bool) -> None:
        if self._by_id.pop(p.participant_id, None) is None:
            return
        channel = self._channels.get(p.room_id)
        if channel is not None:
            channel.participants.pop(p.participant_id, None)
            self._broadcast(channel)
        logger.info("voice: %s (%s) left %s: %s", p.user_id, p.device_id, p.room_id, reason)
        if p.reader is not None:
            p.reader.cancel()
        p.outbound.stop()
        self._spawn(self._close(p, clear_state), f"voice-close {p.participant_id}")

    async def _close(self, p: Participant, clear_state: bool) -> None:
        await p.pc.close()
        if clear_state and not self._stopping and self._is_mine(p.user_id):
            await self._clear_member_state(p)

    async def _clear_member_state(self, p: Participant) -> None:
        """Empty a local user's call member events for this device (MatrixRTC "left")."""
        # A remote user's event can only be sent by their own server; it ends with its
        # `expires` or when their client leaves (docs/voice.md).
        room = await self._events.get_room(p.room_id)
        if room is None or room.membership(p.user_id) != "join":
            return
        key = member_state_key(p.user_id, p.device_id)
        for event_type in CALL_MEMBER_TYPES:
            if room.state_content(event_type, key):
                try:
                    await self._events.send(p.room_id, p.user_id, event_type, {}, key)
                except MatrixError as e:
                    logger.warning("voice: could not clear %s of %s in %s: %s",
                                   event_type, p.user_id, p.room_id, e.message)

    def _broadcast(self, channel: VoiceChannel) -> None:
        message = json.dumps({"type": "roster",
                              "participants": [q.roster_entry() for q in channel.participants.values()]})
        for p in channel.participants.values():
            if p.channel is not None and p.channel.readyState == "open":
                p.channel.send(message)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("voice: %s failed", task.get_name(), exc_info=task.exception())
