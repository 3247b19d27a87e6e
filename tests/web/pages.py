"""What a person does in the web client, as steps for Playwright tests."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

PASSWORD = "correct horse battery"


async def open_client(browser: Any, base_url: str, locale: str = "en-GB") -> Page:
    """A new browser profile (context) on the web client, with console errors recorded."""
    context = await browser.new_context(locale=locale, base_url=base_url)
    page = await context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    # A 4xx the client expects (the 401 that starts user-interactive auth, a 404 for
    # account data not set yet) is logged by Chromium as "Failed to load resource";
    # those are recorded apart, in page.failed_requests, as method, path and status.
    page.failed_requests = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
            and page.console_errors.append(m.text))  # type: ignore[attr-defined]
    page.on("response", lambda r: r.status >= 400 and page.failed_requests.append(  # type: ignore[attr-defined]
        (r.request.method, r.url.split("?")[0].split("/", 3)[-1], r.status)))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))  # type: ignore[attr-defined]
    await page.goto("/")
    return page


async def sign_up(page: Page, username: str, password: str = PASSWORD) -> None:
    await page.goto("/#/register")
    await page.get_by_label("User name").fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_label("Password again").fill(password)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator(".user-header")).to_contain_text(f"@{username}:", timeout=20_000)


async def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    await page.goto("/#/login")
    await page.get_by_label("User name").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".user-header")).to_contain_text(f"@{username}:", timeout=20_000)
