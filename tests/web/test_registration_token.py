"""Sign-up on a server that asks for a registration token (m.login.registration_token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import expect

from tests.parleyd_process import Parleyd
from tests.web.pages import PASSWORD, open_client


@pytest.fixture
async def token_parleyd(tmp_path: Path) -> AsyncIterator[Parleyd]:
    server = Parleyd(tmp_path / "hs")
    await server.init()
    config = yaml.safe_load(server.config.read_text())
    config["registration"]["tokens"] = ["open-sesame"]
    server.config.write_text(yaml.safe_dump(config))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_the_token_field_appears_a_wrong_token_is_refused_and_the_right_one_works(
    token_parleyd: Parleyd, browser: Any
) -> None:
    page = await open_client(browser, token_parleyd.base_url)
    await page.goto("/#/register")
    token = page.get_by_label("Registration token")
    await expect(token).to_be_visible()  # asked for because the server's only flow needs it
    await page.get_by_label("User name").fill("dora")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Password again").fill(PASSWORD)
    await token.fill("wrong")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert")).to_have_text("Invalid registration token")  # the server's words
    await expect(page.locator(".user-header")).to_have_count(0)
    await expect(page.get_by_label("User name")).to_have_value("dora")

    await token.fill("open-sesame")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator(".user-header")).to_contain_text("@dora:", timeout=20_000)
