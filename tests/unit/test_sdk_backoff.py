"""Backoff delays for the sync loop and send retries."""

from __future__ import annotations

import random

import pytest

from clients.sdk.backoff import Backoff


def test_delay_doubles_from_initial() -> None:
    b = Backoff(initial=0.5, factor=2, maximum=100)
    assert [b.delay(n) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]


def test_delay_is_capped() -> None:
    b = Backoff(initial=1, factor=2, maximum=30)
    assert b.delay(10) == 30
    assert b.delay(10_000) == 30  # no overflow


def test_server_retry_after_wins_when_longer() -> None:
    b = Backoff(initial=0.5, maximum=30)
    assert b.delay(0, retry_after_ms=5000) == 5.0
    assert b.delay(5, retry_after_ms=100) == 16.0


def test_jitter_stays_within_bounds() -> None:
    b = Backoff(initial=8, maximum=8, jitter=0.5)
    rng = random.Random(1)
    delays = [b.delay(0, rng=rng) for _ in range(100)]
    assert all(4 <= d <= 8 for d in delays) and len(set(delays)) > 1


def test_negative_attempt_is_an_error() -> None:
    with pytest.raises(ValueError):
        Backoff().delay(-1)
