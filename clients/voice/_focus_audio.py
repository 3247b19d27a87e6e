"""A WAV recorder for voice rooms (mono, 48 kHz, s16) that tests and benchmarks can wait on.

The sources (tone, file, device) are ``clients.voice.audio``'s; this recorder differs from
its ``wav_sink`` (aiortc's MediaRecorder) by writing mono and counting frames as they come.
"""

from __future__ import annotations

import asyncio
import logging
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
TIME_BASE = Fraction(1, SAMPLE_RATE)


def _frame(samples: np.ndarray, pts: int) -> AudioFrame:
    frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = TIME_BASE
    return frame


class WavRecorder:
    """Writes what a received track carries to a mono 48 kHz WAV file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.frames_written = 0
        self._task: asyncio.Task[None] | None = None
        self._wav: wave.Wave_write | None = None
        self._progress = asyncio.Event()

    def start(self, track: MediaStreamTrack) -> None:
        if self._task is not None:
            return  # one remote track per connection
        wav = wave.open(str(self.path), "wb")  # noqa: SIM115 (closed in stop)
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        self._wav = wav
        self._task = asyncio.get_running_loop().create_task(self._run(track), name=f"wav {self.path.name}")

    async def _run(self, track: MediaStreamTrack) -> None:
        assert self._wav is not None
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, AudioFrame):
                continue
            channels = len(frame.layout.channels)
            data = frame.to_ndarray().reshape(-1)
            if channels > 1:
                data = data.reshape(-1, channels).astype(np.int32).mean(axis=1)
            self._wav.writeframes(data.astype("<i2").tobytes())
            self.frames_written += 1
            self._progress.set()

    async def wait_for_frames(self, count: int) -> None:
        """Return once ``count`` frames have been written (callers bound it with a timeout)."""
        while self.frames_written < count:
            self._progress.clear()
            await self._progress.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._wav is not None:
            self._wav.close()
            self._wav = None


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono samples (int16) and the sample rate of a WAV file written by WavRecorder."""
    with wave.open(str(path), "rb") as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return data, wav.getframerate()
