"""Spaces as groups of rooms: create one, file two rooms under it, and find them in the
space switcher and the space's hierarchy, joinable by someone else."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.parleyd_process import Parleyd
from tests.web.pages import open_client, sign_up
from tests.web.pages_social import Api, create_room


async def test_space_with_two_rooms_in_switcher_and_hierarchy(browser: Any, parleyd: Parleyd, screenshot: Any) -> None:
    alice = await open_client(browser, parleyd.base_url)
    await sign_up(alice, "alice")
    await alice.get_by_role("button", name="Create a space").click()
    dialog = alice.get_by_role("dialog", name="Create a space")
    await dialog.get_by_label("Name").fill("Makers")
    await dialog.get_by_label("Public").check()
    await dialog.get_by_role("button", name="Create", exact=True).click()
    space_button = alice.get_by_role("navigation", name="Spaces").get_by_role("button", name="Makers")
    await expect(space_button).to_have_attribute("aria-pressed", "true", timeout=15_000)
    await expect(alice.locator("#space-title")).to_have_text("Makers")
    space_id = alice.url.split("#/space/", 1)[1].replace("%21", "!").replace("%3A", ":")

    # One room created from the space's page, one from the sidebar's dialog with the space picked.
    await alice.get_by_role("button", name="Create a room here").click()
    dialog = alice.get_by_role("dialog", name="Create a room")
    await dialog.get_by_label("Name").fill("Woodwork")
    await dialog.get_by_label("Public").check()
    await dialog.get_by_label("End-to-end encrypted").uncheck()
    await dialog.get_by_role("button", name="Create", exact=True).click()
    await expect(alice.locator(".room-header h2")).to_have_text("Woodwork", timeout=15_000)
    await create_room(alice, "Metalwork", "public", space="Makers")

    api = await Api.login(parleyd.base_url, "alice")
    assert (await api.state(space_id, "m.room.create"))["type"] == "m.space"
    hierarchy = await api.get(f"/_matrix/client/v1/rooms/{space_id}/hierarchy")
    children = {r["name"] for r in hierarchy["rooms"] if r["room_id"] != space_id}
    assert children == {"Woodwork", "Metalwork"}

    await space_button.click()
    sidebar = alice.locator(".space-rooms")
    await expect(sidebar.locator(".room-name")).to_have_count(2, timeout=15_000)
    await expect(alice.locator(".hierarchy .card")).to_have_count(2)
    await screenshot(alice, "space")

    # Bob joins the space from its ID, and a room of it from the hierarchy.
    bob = await open_client(browser, parleyd.base_url)
    await sign_up(bob, "bob")
    await bob.get_by_role("button", name="Join a room").click()
    join = bob.get_by_role("dialog", name="Join a room")
    await join.get_by_label("Room address or ID").fill(space_id)
    await join.get_by_role("button", name="Join", exact=True).click()
    await expect(bob.locator("#space-title")).to_have_text("Makers", timeout=15_000)
    await bob.locator(".hierarchy").get_by_role("button", name="Join: Woodwork").click()
    await expect(bob.locator(".room-header h2")).to_have_text("Woodwork", timeout=15_000)
    bob_api = await Api.login(parleyd.base_url, "bob")
    joined = set(await bob_api.joined_rooms())
    assert space_id in joined and len(joined) == 2
    assert alice.console_errors == [], alice.console_errors  # type: ignore[attr-defined]
