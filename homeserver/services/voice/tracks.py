"""The outbound track of one listener: mixed frames handed to aiortc's Opus encoder."""

from __future__ import annotations

import asyncio
from fractions import Fraction

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from homeserver.services.voice.mixer import FRAME_SAMPLES, SAMPLE_RATE, PcmFrame

# Frames waiting for the encoder; more means the listener's sender is behind and we drop
# the oldest rather than let latency grow.
OUTBOUND_QUEUE_FRAMES = 3
TIME_BASE = Fraction(1, SAMPLE_RATE)


class MixedAudioTrack(MediaStreamTrack):
    """Audio paced by the focus's mixing clock: ``recv`` waits for the next pushed frame."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[AudioFrame | None] = asyncio.Queue(maxsize=OUTBOUND_QUEUE_FRAMES)
        self._pts = 0

    def push(self, pcm: PcmFrame) -> None:
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += FRAME_SAMPLES
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            raise MediaStreamError
        return frame

    def stop(self) -> None:
        super().stop()
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)  # wake a waiting recv
