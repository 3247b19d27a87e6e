"""The settings page: display name, avatar, password change, devices, language; and the
home page in French and on a 360 px wide phone."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.parleyd_process import Parleyd
from tests.web.pages import PASSWORD, open_client, sign_in, sign_up
from tests.web.pages_social import Api

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


async def test_profile_password_and_device_removal(
    browser: Any, parleyd: Parleyd, tmp_path: Path, screenshot: Any
) -> None:
    page = await open_client(browser, parleyd.base_url)
    await sign_up(page, "alice")
    other = await Api.login(parleyd.base_url, "alice")  # a second device to remove
    await page.get_by_role("link", name="Settings").click()

    await page.get_by_label("Display name").fill("Alice Liddell")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".user-header .display-name")).to_have_text("Alice Liddell", timeout=15_000)
    picture = tmp_path / "me.png"
    picture.write_bytes(PNG)
    await page.get_by_label("Profile picture").set_input_files(str(picture))
    await expect(page.locator(".settings-section").first.get_by_role("status")).to_have_text("Saved.", timeout=15_000)
    profile = await other.get("/profile/@alice:localhost")
    assert profile["displayname"] == "Alice Liddell"
    assert profile["avatar_url"].startswith("mxc://")

    # Devices: this one and the API login; remove the latter with the password.
    devices = page.locator(".devices .device")
    await expect(devices).to_have_count(2, timeout=15_000)
    await screenshot(page, "settings")
    await expect(page.locator(".devices .device", has_text="(This device)")).to_have_count(1)
    second = await other.get("/account/whoami")
    await page.get_by_role("button", name=f"Remove: {second['device_id']}").click()
    await page.get_by_label(re.compile("Your password, to remove")).fill("wrong password")
    await page.locator(".confirm-remove").get_by_role("button", name="Remove").click()
    await expect(page.locator(".settings-section", has=page.locator("#devices-title")).get_by_role("alert")).to_be_visible()
    await page.get_by_label(re.compile("Your password, to remove")).fill(PASSWORD)
    await page.locator(".confirm-remove").get_by_role("button", name="Remove").click()
    await expect(devices).to_have_count(1, timeout=15_000)
    status, _ = await other.request("GET", "/account/whoami")
    assert status == 401

    # Password change, then signing in with the new password.
    await page.get_by_label("Current password").fill(PASSWORD)
    await page.get_by_label("New password", exact=True).fill("a brand new secret")
    await page.get_by_label("New password again").fill("a brand new secret")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_text("Password changed.")).to_be_visible(timeout=15_000)
    await page.get_by_role("button", name="Sign out on this device").click()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await sign_in(page, "alice", "a brand new secret")
    await expect(page.locator(".user-header .display-name")).to_have_text("Alice Liddell")
    assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]


async def test_french_interface_and_language_switch(browser: Any, parleyd: Parleyd) -> None:
    page = await open_client(browser, parleyd.base_url, locale="fr-FR")
    await page.goto("/#/register")
    await page.get_by_label("Nom d'utilisateur").fill("amelie")
    await page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    await page.get_by_label("Mot de passe (encore)").fill(PASSWORD)
    await page.get_by_role("button", name="Créer le compte").click()
    await expect(page.get_by_role("heading", name="Salons")).to_be_visible(timeout=20_000)
    await expect(page.get_by_role("heading", name="Messages directs")).to_be_visible()
    await expect(page.get_by_role("button", name="Créer un salon")).to_be_visible()
    await page.get_by_role("link", name="Ami·es").click()
    await expect(page.get_by_role("heading", name="Ami·es", level=1)).to_be_visible()
    await page.get_by_role("link", name="Paramètres").click()
    await expect(page.get_by_role("heading", name="Appareils")).to_be_visible()
    await page.get_by_role("combobox", name="Langue").select_option("en")
    await expect(page.get_by_role("heading", name="Devices")).to_be_visible()
    await expect(page.get_by_role("heading", name="Rooms")).to_be_visible()


async def test_home_usable_at_360_px(browser: Any, parleyd: Parleyd, screenshot: Any) -> None:
    page = await open_client(browser, parleyd.base_url)
    await page.set_viewport_size({"width": 360, "height": 740})
    await sign_up(page, "alice")
    await page.get_by_role("button", name="Create a room").click()
    dialog = page.get_by_role("dialog", name="Create a room")
    await dialog.get_by_label("Name").fill("Pocket")
    await dialog.get_by_role("button", name="Create", exact=True).click()
    await expect(page.locator(".room-header h2")).to_have_text("Pocket", timeout=15_000)
    # The room fills the screen; the way back to the list is a link.
    await expect(page.locator(".sidebar")).to_be_hidden()
    await page.get_by_role("link", name="Back to rooms").click()
    await expect(page.locator(".sidebar")).to_be_visible()
    await expect(page.get_by_role("link", name=re.compile("Pocket"))).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    await screenshot(page, "phone")
