"""The web client in a real headless browser: Debian's chromium driven by Playwright.

Playwright cannot download browsers here, so it drives /usr/bin/chromium through
`executable_path`. Without chromium these tests skip, except under CI (CI=true), where
.ci/run installs it and a missing browser is a failure.

Screenshots of the pages land in test-artifacts/web/ (override: $PARLEY_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.parleyd_process import REPO, Parleyd

CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Voice: a fake microphone playing a tone, no permission prompt, and 127.0.0.1 ICE
    # candidates (without this flag Chromium gathers none on loopback).
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
ARTIFACTS = Path(os.environ.get("PARLEY_TEST_ARTIFACTS", REPO / "test-artifacts" / "web"))


def _require_chromium() -> None:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    if not (REPO / "clients" / "web" / "dist" / "index.html").is_file():
        pytest.fail("clients/web/dist is not built: run scripts/build-web")


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def parleyd(tmp_path: Path) -> AsyncIterator[Parleyd]:
    server = Parleyd(tmp_path / "hs")
    await server.init()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[object, str], Awaitable[None]]:
    """Saves a page's screenshot as a test artifact: <test name>-<label>.png."""

    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async def take(page: object, label: str) -> None:
        await page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{label}.png"))  # type: ignore[attr-defined]

    return take
