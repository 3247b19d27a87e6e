"""Audio sources and sinks for calls, as aiortc media tracks.

Sources: a sine test tone (``ToneTrack``), a file (WAV/OGG/MP3 through aiortc's
``MediaPlayer``), the default capture device (PulseAudio, else ALSA). Sinks: a WAV file
(aiortc's ``MediaRecorder``), the default playback device, or nothing (``MediaBlackhole``).
A machine without sound hardware (headless CI) has no device: opening one raises
``AudioUnavailableError`` with a message saying what was tried, and callers fall back or
tell the user.

``dominant_frequency`` / ``wav_dominant_frequency`` are pure helpers (numpy FFT) used to
check which tone a recording carries.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import os
import time
import wave
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np
from aiortc.contrib.media import MediaBlackhole, MediaPlayer, MediaRecorder
from aiortc.mediastreams import MediaStreamTrack

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz, Opus's usual frame
TONE_AMPLITUDE = 0.3

# (ffmpeg input/output format, device name), tried in order.
DEVICE_BACKENDS: tuple[tuple[str, str], ...] = (("pulse", "default"), ("alsa", "default"))


class AudioUnavailableError(Exception):
    """No audio device could be opened (e.g. a headless machine)."""


class ToneTrack(MediaStreamTrack):
    """An endless sine tone, paced in real time, as 20 ms mono s16 frames at 48 kHz."""

    kind = "audio"

    def __init__(self, frequency: float, *, amplitude: float = TONE_AMPLITUDE,
                 sample_rate: int = SAMPLE_RATE) -> None:
        super().__init__()
        if not 0 < frequency < sample_rate / 2:
            raise ValueError(f"tone frequency must be between 0 and {sample_rate // 2} Hz")
        self.frequency = frequency
        self.amplitude = amplitude
        self.sample_rate = sample_rate
        self._pts = 0
        self._started: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            from aiortc.mediastreams import MediaStreamError

            raise MediaStreamError
        if self._started is None:
            self._started = time.monotonic()
        else:
            due = self._started + self._pts / self.sample_rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        samples = tone_samples(self.frequency, self._pts, FRAME_SAMPLES, self.sample_rate, self.amplitude)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.sample_rate)
        self._pts += FRAME_SAMPLES
        return frame


def tone_samples(frequency: float, start: int, count: int, sample_rate: int = SAMPLE_RATE,
                 amplitude: float = TONE_AMPLITUDE) -> np.ndarray[Any, np.dtype[np.int16]]:
    """`count` s16 samples of a sine starting at sample index `start` (phase-continuous)."""
    t = (np.arange(count, dtype=np.float64) + start) / sample_rate
    wave_ = amplitude * np.sin(2 * math.pi * frequency * t)
    return (wave_ * 32767).astype(np.int16)


class AudioSource(Protocol):
    """What a call sends: one audio track, and something to stop when done."""

    @property
    def track(self) -> MediaStreamTrack: ...

    def close(self) -> None: ...


class TrackSource:
    """A source that is just a track (the test tone)."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.track = track

    def close(self) -> None:
        self.track.stop()


class PlayerSource:
    """A file or capture device read by aiortc's ``MediaPlayer``."""

    def __init__(self, player: MediaPlayer) -> None:
        if player.audio is None:
            raise AudioUnavailableError("the input has no audio stream")
        self.player = player
        self.track: MediaStreamTrack = player.audio

    def close(self) -> None:
        self.track.stop()


def tone_source(frequency: float) -> TrackSource:
    return TrackSource(ToneTrack(frequency))


def file_source(path: str | Path, *, loop: bool = False) -> PlayerSource:
    """WAV/OGG/MP3 (anything ffmpeg reads), sent once (or looped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such audio file: {path}")
    try:
        return PlayerSource(MediaPlayer(str(path), loop=loop))
    except av.FFmpegError as e:
        raise AudioUnavailableError(f"cannot read {path} as audio: {e}") from e


def sound_backends() -> list[tuple[str, str]]:
    """The (format, device) pairs worth trying here: ffmpeg must know the format and the
    machine must have the service (a PulseAudio socket) or hardware (an ALSA card)."""
    found = []
    for fmt, device in DEVICE_BACKENDS:
        if fmt not in av.formats_available:
            continue
        if fmt == "pulse" and not _pulse_running():
            continue
        if fmt == "alsa" and not _alsa_cards():
            continue
        found.append((fmt, device))
    return found


def _pulse_running() -> bool:
    if os.environ.get("PULSE_SERVER"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return Path(runtime, "pulse", "native").exists()


def _alsa_cards() -> bool:
    try:
        cards = Path("/proc/asound/cards").read_text()
    except OSError:
        return False
    return bool(cards.strip()) and "no soundcards" not in cards


def device_source() -> PlayerSource:
    """The default microphone, through PulseAudio or ALSA."""
    errors = []
    backends = sound_backends()
    if not backends:
        raise AudioUnavailableError("no audio input device (no PulseAudio server and no ALSA sound card)")
    for fmt, device in backends:
        try:
            return PlayerSource(MediaPlayer(device, format=fmt))
        except (av.FFmpegError, OSError, ValueError, AudioUnavailableError) as e:
            errors.append(f"{fmt}: {e}")
    raise AudioUnavailableError("no audio input device (" + "; ".join(errors) + ")")


class AudioSink(Protocol):
    """Where a call's received audio goes."""

    def addTrack(self, track: MediaStreamTrack) -> None: ...  # noqa: N802 (aiortc's name)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def wav_sink(path: str | Path) -> MediaRecorder:
    """Writes what is heard to a WAV file (PCM s16); the file is complete after ``stop()``."""
    return MediaRecorder(str(path), format="wav")


def device_sink() -> MediaRecorder:
    """The default speaker, through PulseAudio or ALSA."""
    errors = []
    backends = sound_backends()
    if not backends:
        raise AudioUnavailableError("no audio output device (no PulseAudio server and no ALSA sound card)")
    for fmt, device in backends:
        try:
            return MediaRecorder(device, format=fmt)
        except (av.FFmpegError, OSError, ValueError) as e:
            errors.append(f"{fmt}: {e}")
    raise AudioUnavailableError("no audio output device (" + "; ".join(errors) + ")")


def null_sink() -> MediaBlackhole:
    return MediaBlackhole()


# --- measuring ----------------------------------------------------------------------------
def dominant_frequency(samples: np.ndarray[Any, Any], sample_rate: int) -> float:
    """The frequency (Hz) with the most energy in `samples` (mono), by FFT with a Hann window.

    Raises ValueError on silence or too few samples, so a test cannot pass on nothing.
    """
    data = np.asarray(samples, dtype=np.float64).reshape(-1)
    if data.size < 256:
        raise ValueError(f"too few samples to measure ({data.size})")
    data = data - data.mean()
    if not np.any(np.abs(data) > 1e-9):
        raise ValueError("the audio is silent")
    spectrum = np.abs(np.fft.rfft(data * np.hanning(data.size)))
    spectrum[0] = 0.0
    peak = int(np.argmax(spectrum))
    return float(peak * sample_rate / data.size)


def read_wav(path: str | Path) -> tuple[np.ndarray[Any, Any], int]:
    """(mono float samples, sample rate) of a PCM s16 WAV file; channels are averaged."""
    with wave.open(str(path), "rb") as f:
        if f.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * f.getsampwidth()}-bit")
        channels, rate = f.getnchannels(), f.getframerate()
        raw = f.readframes(f.getnframes())
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if channels > 1:
        samples = samples[: samples.size - samples.size % channels].reshape(-1, channels).mean(axis=1)
    return samples, rate


def wav_dominant_frequency(path: str | Path) -> float:
    samples, rate = read_wav(path)
    return dominant_frequency(samples, rate)


def wav_seconds(path: str | Path) -> float:
    with wave.open(str(path), "rb") as f:
        return f.getnframes() / f.getframerate()
