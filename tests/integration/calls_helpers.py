"""Shared by the call tests: loopback-only ICE and waiting for recorded audio."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aioice.ice
import pytest

# One second of what aiortc records from Opus: 48 kHz, stereo, 16-bit.
RECORDED_BYTES_PER_SECOND = 48_000 * 2 * 2
WAV_HEADER = 44


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """aioice offers every interface's address; tests use 127.0.0.1 only."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def recorded_seconds(path: Path) -> float:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0.0
    return max(0, size - WAV_HEADER) / RECORDED_BYTES_PER_SECOND


async def wait_for_audio(path: Path, seconds: float, timeout: float) -> None:
    await wait_for(lambda: recorded_seconds(path) >= seconds, timeout, f"{seconds}s of audio in {path.name}")
