"""The mix: everyone-but-you per listener, from one decoded frame per speaker.

Pure numpy, no I/O. Each participant's audio is decoded once (by aiortc's receiver); the
mixer sums all unmuted inputs once (int32), and each listener gets that sum minus its own
input, clipped back to int16 — one subtraction per listener instead of an N-way sum, and
one Opus encode per listener (by aiortc's sender).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz, the Opus frame aiortc decodes and encodes
PcmFrame = npt.NDArray[np.int16]

SILENCE: PcmFrame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
SILENCE.setflags(write=False)

# Speaking: the frame's RMS above this (dBFS). Speech sits around -30..-10 dBFS; room
# noise from a real microphone well below -50.
SPEAKING_DBFS = -45.0


def to_mono(samples: npt.NDArray[Any], channels: int) -> PcmFrame:
    """Interleaved s16 samples (aiortc's Opus decoder output) as one mono frame of FRAME_SAMPLES (padded or cut)."""
    if channels > 1:
        frame = samples.reshape(-1, channels).astype(np.int32).sum(axis=1) // channels
        mono = frame.astype(np.int16)
    else:
        mono = samples.astype(np.int16, copy=False)
    if mono.shape[0] == FRAME_SAMPLES:
        return mono
    out = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    n = min(FRAME_SAMPLES, mono.shape[0])
    out[:n] = mono[:n]
    return out


def level_dbfs(frame: PcmFrame) -> float:
    """RMS level of a frame in dB relative to full scale (-inf for digital silence)."""
    power = float(np.mean(np.square(frame, dtype=np.float64)))
    if power <= 0.0:
        return float("-inf")
    return 10.0 * float(np.log10(power / (32768.0 * 32768.0)))


def mix_minus(inputs: Mapping[str, PcmFrame], listeners: list[str]) -> dict[str, PcmFrame]:
    """For each listener, the sum of every input but its own, clipped to int16."""
    if not inputs:
        return {listener: SILENCE for listener in listeners}
    total = np.zeros(FRAME_SAMPLES, dtype=np.int32)
    for frame in inputs.values():
        total += frame
    out: dict[str, PcmFrame] = {}
    for listener in listeners:
        own = inputs.get(listener)
        mixed = total - own if own is not None else total
        out[listener] = np.clip(mixed, -32768, 32767).astype(np.int16)
    return out
