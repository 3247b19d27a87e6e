"""Creating rooms of each kind, and running one from the room settings dialog: roles,
invites, kicks, bans, requests to join, leaving and hiding a conversation."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from tests.parleyd_process import Parleyd
from tests.web.pages import open_client, sign_up
from tests.web.pages_social import Api, create_room, left_rooms, open_room_settings, register_api


async def test_create_public_private_knock_and_encrypted_rooms(browser: Any, parleyd: Parleyd, screenshot: Any) -> None:
    alice = await open_client(browser, parleyd.base_url)
    await sign_up(alice, "alice")
    public = await create_room(alice, "Town square", "public", topic="Everyone welcome")
    private = await create_room(alice, "Backroom", "private")
    knock = await create_room(alice, "Guild", "knock")
    secret = await create_room(alice, "Vault", "private", encrypted=True)

    api = await Api.login(parleyd.base_url, "alice")
    rules = {room: (await api.state(room, "m.room.join_rules"))["join_rule"] for room in (public, private, knock, secret)}
    assert rules == {public: "public", private: "invite", knock: "knock", secret: "invite"}
    assert (await api.state(public, "m.room.topic"))["topic"] == "Everyone welcome"
    assert (await api.state(secret, "m.room.encryption"))["algorithm"] == "m.megolm.v1.aes-sha2"
    status, _ = await api.request("GET", f"/rooms/{public}/state/m.room.encryption/")
    assert status == 404

    # Newest first in the sidebar's room section.
    names = await alice.locator(".room-list .rooms .room-name").all_inner_texts()
    assert names == ["Vault", "Guild", "Backroom", "Town square"], names
    await screenshot(alice, "home")
    assert alice.console_errors == [], alice.console_errors  # type: ignore[attr-defined]


async def test_knock_approved_from_notifications_and_denied_from_room_settings(
    browser: Any, parleyd: Parleyd, screenshot: Any
) -> None:
    alice = await open_client(browser, parleyd.base_url)
    await sign_up(alice, "alice")
    room_id = await create_room(alice, "Guild", "knock")
    bob = await open_client(browser, parleyd.base_url)
    await sign_up(bob, "bob")
    carol = await register_api(parleyd.base_url, "carol")
    alice_api = await Api.login(parleyd.base_url, "alice")

    # Bob asks to join by the room's ID.
    await bob.get_by_role("button", name="Join a room").click()
    dialog = bob.get_by_role("dialog", name="Join a room")
    await dialog.get_by_label("Room address or ID").fill(room_id)
    await dialog.get_by_label("Message to the moderators").fill("I make swords")
    await dialog.get_by_role("button", name="Ask to join").click()
    await expect(dialog.get_by_role("status")).to_contain_text("Request sent")
    assert await alice_api.membership(room_id, "@bob:localhost") == "knock"

    # Alice approves from her notification zone: Bob is invited, and accepts.
    zone = alice.locator(".notification-zone")
    await expect(zone).to_contain_text("asks to join Guild", timeout=15_000)
    await zone.get_by_role("button", name="Approve").click()
    await expect(zone).to_be_hidden(timeout=15_000)
    assert await alice_api.membership(room_id, "@bob:localhost") == "invite"
    await bob.keyboard.press("Escape")
    bob_zone = bob.locator(".notification-zone")
    await expect(bob_zone).to_contain_text("invites you to Guild", timeout=15_000)
    await bob_zone.get_by_role("button", name="Accept").click()
    await expect(bob.locator(".room-header h2")).to_have_text("Guild", timeout=15_000)
    assert await alice_api.membership(room_id, "@bob:localhost") == "join"

    # Carol knocks; Alice denies in the room settings, with a reason.
    status, data = await carol.request("POST", f"/knock/{room_id}", {"reason": "let me in"})
    assert status == 200, data
    dialog = await open_room_settings(alice)
    await dialog.get_by_role("tab", name="Members").click()
    await expect(dialog.locator(".knocks")).to_contain_text("@carol:localhost", timeout=15_000)
    await screenshot(alice, "room-settings")
    await dialog.get_by_label("Reason").fill("not today")
    await dialog.get_by_role("button", name=re.compile("Deny: .*carol")).click()
    await expect(dialog.locator(".knocks")).not_to_contain_text("@carol:localhost", timeout=15_000)
    member = await alice_api.state(room_id, "m.room.member", "@carol:localhost")
    assert (member["membership"], member.get("reason")) == ("leave", "not today")


async def test_roles_invite_kick_ban_leave_and_forget(browser: Any, parleyd: Parleyd) -> None:
    alice = await open_client(browser, parleyd.base_url)
    await sign_up(alice, "alice")
    bob = await open_client(browser, parleyd.base_url)
    await sign_up(bob, "bob")
    await register_api(parleyd.base_url, "carol")
    await register_api(parleyd.base_url, "dave")
    room_id = await create_room(alice, "Workshop", "private")
    alice_api = await Api.login(parleyd.base_url, "alice")

    dialog = await open_room_settings(alice)
    await dialog.get_by_role("tab", name="Members").click()
    for user in ("@bob:localhost", "@carol:localhost", "@dave:localhost"):
        await dialog.get_by_label("Invite someone").fill(user)
        await dialog.get_by_role("button", name="Invite", exact=True).click()
        await expect(dialog.get_by_role("status")).to_have_text(f"Invited {user}.")
        assert await alice_api.membership(room_id, user) == "invite"

    # Bob accepts and is made a moderator.
    bob_zone = bob.locator(".notification-zone")
    await bob_zone.get_by_role("button", name="Accept").click()
    await expect(bob.locator(".room-header h2")).to_have_text("Workshop", timeout=15_000)
    role = dialog.get_by_label(re.compile("Role of (bob|@bob:localhost)"))
    await expect(role).to_be_visible(timeout=15_000)
    await role.select_option(label="Moderator")
    await expect(role).to_have_value("50", timeout=15_000)
    assert (await alice_api.state(room_id, "m.room.power_levels"))["users"]["@bob:localhost"] == 50

    # Carol's invitation is withdrawn (a kick), Dave is banned, both with a reason.
    await dialog.get_by_label("Reason").fill("wrong room")
    await dialog.get_by_role("button", name=re.compile("Remove: .*carol")).click()
    await expect(dialog.locator(".invited")).not_to_contain_text("@carol:localhost", timeout=15_000)
    await dialog.get_by_role("button", name=re.compile("Ban: .*dave")).click()
    await expect(dialog.locator(".banned")).to_contain_text("@dave:localhost", timeout=15_000)
    carol = await alice_api.state(room_id, "m.room.member", "@carol:localhost")
    dave = await alice_api.state(room_id, "m.room.member", "@dave:localhost")
    assert (carol["membership"], carol.get("reason")) == ("leave", "wrong room")
    assert (dave["membership"], dave.get("reason")) == ("ban", "wrong room")

    # Bob leaves, then hides the conversation (forget).
    bob_dialog = await open_room_settings(bob)
    await bob_dialog.get_by_role("tab", name="Leave").click()
    await bob_dialog.get_by_role("button", name="Leave the room").click()
    await expect(bob_dialog.get_by_text("You have left this room.")).to_be_visible(timeout=15_000)
    assert await alice_api.membership(room_id, "@bob:localhost") == "leave"
    bob_api = await Api.login(parleyd.base_url, "bob")
    assert room_id in await left_rooms(bob_api)
    await bob_dialog.get_by_role("button", name="Hide the conversation").click()
    await expect(bob).to_have_url(re.compile("#/home$"), timeout=15_000)
    assert room_id not in await left_rooms(bob_api)
    await expect(bob.locator(".room-list")).not_to_contain_text("Workshop")
    assert alice.console_errors == [], alice.console_errors  # type: ignore[attr-defined]
