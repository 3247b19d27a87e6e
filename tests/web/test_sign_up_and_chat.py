"""Two people sign up in their browsers on one parleyd and chat."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.parleyd_process import Parleyd
from tests.web.pages import open_client, sign_in, sign_up


async def test_sign_up_sign_out_sign_in_and_chat(browser: Any, parleyd: Parleyd, screenshot: Any) -> None:
    alice = await open_client(browser, parleyd.base_url)
    await screenshot(alice, "login")
    await sign_up(alice, "alice")
    bob = await open_client(browser, parleyd.base_url)
    await sign_up(bob, "bob")
    await screenshot(alice, "home")

    # Signing out and in again keeps the account.
    await alice.get_by_role("button", name="Sign out").click()
    await expect(alice.get_by_role("button", name="Sign in")).to_be_visible()
    await sign_in(alice, "alice")
    assert alice.console_errors == [], alice.console_errors  # type: ignore[attr-defined]
    # The only refusals: the 401 that opens sign-up's user-interactive auth, and 404s
    # for things that do not exist yet (no key backup) or that Parley does not serve.
    expected = {"_matrix/client/v3/register", "_matrix/client/v3/room_keys/version",
                "_matrix/client/unstable/org.matrix.msc4143/rtc/transports"}
    assert {path for _m, path, _s in alice.failed_requests} <= expected, alice.failed_requests  # type: ignore[attr-defined]
