"""The focus's mix-minus and levels (homeserver/services/voice/mixer.py), as tables of cases."""

from __future__ import annotations

import numpy as np
import pytest

from homeserver.services.voice.mixer import FRAME_SAMPLES, SILENCE, level_dbfs, mix_minus, to_mono


def const(value: int) -> np.ndarray:
    return np.full(FRAME_SAMPLES, value, dtype=np.int16)


@pytest.mark.parametrize(
    ("inputs", "listeners", "expected"),
    [
        ({}, ["a", "b"], {"a": 0, "b": 0}),                                    # nobody talks
        ({"a": const(100)}, ["a", "b"], {"a": 0, "b": 100}),                   # you never hear yourself
        ({"a": const(100), "b": const(20)}, ["a", "b", "c"], {"a": 20, "b": 100, "c": 120}),
        ({"a": const(30000), "b": const(30000)}, ["c"], {"c": 32767}),        # clipped, not wrapped
        ({"a": const(-30000), "b": const(-30000)}, ["c"], {"c": -32768}),
    ],
)
def test_each_listener_hears_everyone_but_themselves(
    inputs: dict[str, np.ndarray], listeners: list[str], expected: dict[str, int]
) -> None:
    out = mix_minus(inputs, listeners)
    assert set(out) == set(listeners)
    for listener, value in expected.items():
        assert out[listener].dtype == np.int16
        assert (out[listener] == value).all(), (listener, out[listener][:3])


def test_stereo_is_averaged_and_short_frames_padded() -> None:
    stereo = np.array([100, 300] * 10, dtype=np.int16)
    mono = to_mono(stereo, 2)
    assert mono.shape == (FRAME_SAMPLES,)
    assert (mono[:10] == 200).all() and (mono[10:] == 0).all()


@pytest.mark.parametrize(
    ("frame", "low", "high"),
    [(SILENCE, float("-inf"), float("-inf")), (const(32767), -0.01, 0.01), (const(328), -40.1, -39.9)],
)
def test_level_in_dbfs(frame: np.ndarray, low: float, high: float) -> None:
    level = level_dbfs(frame)
    assert low <= level <= high
