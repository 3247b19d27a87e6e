"""The aiortc side of a 1:1 call: one ``RTCPeerConnection`` sending one audio source and
handing what it hears to a sink.

ICE servers come from the caller (``ice_servers_from_turn`` turns a
``/voip/turnServer`` answer into them). An empty list means host candidates only: aiortc
would otherwise add a public STUN server, so tests and loopback use ``[]``.

aiortc gathers every candidate before ``setLocalDescription`` returns, so the SDP we
produce already carries them (the ``m.call.candidates`` we send are just the
end-of-candidates marker). Candidates the other side trickles are added with
``add_remote_candidates``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from clients.voice.audio import AudioSink, AudioSource

log = logging.getLogger(__name__)


def ice_servers_from_turn(answer: dict[str, Any] | None) -> list[RTCIceServer]:
    """RTCIceServer list from a ``GET /voip/turnServer`` body (spec: voip.yaml); [] if none."""
    if not isinstance(answer, dict):
        return []
    uris = answer.get("uris")
    if not isinstance(uris, list):
        return []
    urls = [u for u in uris if isinstance(u, str) and u.startswith(("turn:", "turns:", "stun:"))]
    if not urls:
        return []
    username, password = answer.get("username"), answer.get("password")
    return [RTCIceServer(
        urls=urls,
        username=username if isinstance(username, str) else None,
        credential=password if isinstance(password, str) else None,
    )]


class CallPeer:
    """One peer connection: ``create_offer`` / ``accept_offer`` / ``accept_answer``."""

    def __init__(self, source: AudioSource, sink: AudioSink, *, ice_servers: list[RTCIceServer]) -> None:
        self.source = source
        self.sink = sink
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=list(ice_servers)))
        self.pc.addTrack(source.track)
        self.connected = asyncio.Event()
        self.failed = asyncio.Event()  # the connection failed or closed
        self.remote_tracks: list[MediaStreamTrack] = []
        self._sink_started = False
        self._closed = False

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                self.remote_tracks.append(track)
                self.sink.addTrack(track)

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            state = self.pc.connectionState
            log.debug("peer connection %s", state)
            if state == "connected":
                self.connected.set()
            elif state in ("failed", "closed"):
                self.failed.set()

    async def create_offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept_offer(self, sdp: str) -> str:
        """Apply the remote offer; our answer SDP."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self._start_sink()
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def accept_answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        await self._start_sink()

    async def renegotiate(self, description_type: str, sdp: str) -> str | None:
        """An ``m.call.negotiate`` description: an offer gets our answer SDP back."""
        if description_type not in ("offer", "answer"):
            return None
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=description_type))
        if description_type == "answer":
            return None
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def add_remote_candidates(self, candidates: list[dict[str, Any]]) -> None:
        """Trickled candidates from ``m.call.candidates`` (``""`` ends them; bad ones skipped)."""
        for item in candidates:
            line = item.get("candidate")
            if not isinstance(line, str) or not line:
                continue
            try:
                candidate = candidate_from_sdp(line.removeprefix("candidate:"))
            except (ValueError, IndexError):
                log.info("ignoring a malformed ICE candidate")
                continue
            candidate.sdpMid = item.get("sdpMid") if isinstance(item.get("sdpMid"), str) else None
            index = item.get("sdpMLineIndex")
            candidate.sdpMLineIndex = index if isinstance(index, int) else None
            await self.pc.addIceCandidate(candidate)

    async def _start_sink(self) -> None:
        if not self._sink_started:
            self._sink_started = True
            await self.sink.start()

    async def close(self) -> None:
        """Stop sending, finish the sink (a WAV file is complete after this), close."""
        if self._closed:
            return
        self._closed = True
        self.source.close()
        try:
            if self._sink_started:
                await self.sink.stop()
        finally:
            await self.pc.close()
            self.failed.set()
