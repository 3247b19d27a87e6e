"""Shared by the call tests: loopback-only ICE and waiting for recorded audio."""

from __future__ import annotations

import asyncio
import os
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


SITECUSTOMIZE = '''\
"""Test-only: ICE host candidates on 127.0.0.1 alone (aioice offers every interface)."""
import aioice.ice

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
'''


def loopback_env(site_dir: Path) -> dict[str, str]:
    """Environment for `parley` subprocesses: a sitecustomize restricting ICE to loopback."""
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    existing = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": str(site_dir) + (os.pathsep + existing if existing else "")}


async def read_until(proc: asyncio.subprocess.Process, text: str, timeout: float) -> list[str]:
    """stderr lines of `proc` up to and including the first containing `text`."""
    assert proc.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while True:
            raw = await proc.stderr.readline()
            if not raw:
                raise AssertionError(f"process ended before {text!r}; stderr: {''.join(lines)}")
            lines.append(raw.decode())
            if text in lines[-1]:
                return lines
