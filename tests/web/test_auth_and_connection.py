"""Mistakes and faults in the browser: a wrong password, a taken user name, a server
that goes away and comes back. Each shows a clear message and keeps what was typed."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession
from playwright.async_api import expect

from tests.http_client import MatrixHttp
from tests.parleyd_process import Parleyd
from tests.web.pages import PASSWORD, open_client, sign_up


async def test_wrong_password_and_taken_name_are_explained(browser: Any, parleyd: Parleyd) -> None:
    async with ClientSession() as http:
        await MatrixHttp(http, parleyd.base_url).register("alice", PASSWORD)
    page = await open_client(browser, parleyd.base_url)

    await page.get_by_label("User name").fill("alice")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    # Nothing typed is lost: the name and the password stay for a correction.
    await expect(page.get_by_label("User name")).to_have_value("alice")
    await expect(page.get_by_label("Password")).to_have_value("not the password")

    await page.goto("/#/register")
    await page.get_by_label("User name").fill("alice")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Password again").fill(PASSWORD + "!")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert")).to_have_text("The two passwords differ.")
    await page.get_by_label("Password again").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert")).to_have_text("That user name is taken. Try another one.")
    await expect(page.get_by_label("User name")).to_have_value("alice")


async def test_unreachable_homeserver_is_named(browser: Any, parleyd: Parleyd) -> None:
    page = await open_client(browser, parleyd.base_url)
    await page.get_by_label("Homeserver").fill("http://127.0.0.1:9")  # discard port: nothing listens
    await page.get_by_label("User name").fill("alice")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("http://127.0.0.1:9")
    await expect(page.get_by_role("alert")).to_contain_text("cannot be reached")


async def test_french_from_the_browser_language_and_the_switch(browser: Any, parleyd: Parleyd) -> None:
    page = await open_client(browser, parleyd.base_url, locale="fr-FR")
    await expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == "fr"
    await page.get_by_label("Langue").select_option("en")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await page.reload()  # the choice is remembered
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()


async def test_lost_server_shows_a_banner_and_the_client_reconnects(
    browser: Any, parleyd: Parleyd, screenshot: Any
) -> None:
    page = await open_client(browser, parleyd.base_url)
    await sign_up(page, "alice")
    await expect(page.locator(".connection-banner")).to_have_count(0)

    await parleyd.stop()
    await expect(page.locator(".connection-banner")).to_have_text(
        "Connection to the server lost. Reconnecting…", timeout=60_000)
    await screenshot(page, "connection-lost")
    await parleyd.start()  # same port, same data
    await expect(page.locator(".connection-banner")).to_have_text("Connected again.", timeout=60_000)
    await expect(page.locator(".connection-banner")).to_have_count(0, timeout=10_000)
    # Still signed in, on the same account.
    await expect(page.locator(".user-header")).to_contain_text("@alice:")
