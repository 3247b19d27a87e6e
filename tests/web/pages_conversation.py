"""Steps for the conversation view's tests: setting up accounts and rooms over HTTP (fast,
and not what is under test), then what a person does in a room in the browser."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from playwright.async_api import Locator, Page, expect

from tests.web.pages import PASSWORD, sign_in

CLIENT = "/_matrix/client/v3"


class Account:
    """One user's access to the homeserver's client-server API, for setting up tests."""

    def __init__(self, base_url: str, user_id: str, token: str) -> None:
        self.base_url = base_url
        self.user_id = user_id
        self.token = token
        self._txn = 0

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                      params: dict[str, str] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session, session.request(
            method, self.base_url + CLIENT + path, json=body, params=params, headers=headers,
        ) as resp:
            data = await resp.json()
            assert resp.status == 200, (method, path, resp.status, data)
            return data  # type: ignore[no-any-return]

    async def create_room(self, name: str, invite: list[Account] = (), encrypted: bool = False) -> str:  # type: ignore[assignment]
        body: dict[str, Any] = {"name": name, "preset": "private_chat", "invite": [a.user_id for a in invite]}
        if encrypted:
            body["initial_state"] = [{"type": "m.room.encryption", "state_key": "",
                                      "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
        room_id = (await self.request("POST", "/createRoom", body))["room_id"]
        for other in invite:
            await other.request("POST", f"/join/{room_id}", {})
        return str(room_id)

    async def send_text(self, room_id: str, body: str) -> str:
        self._txn += 1
        data = await self.request("PUT", f"/rooms/{room_id}/send/m.room.message/t{self._txn}",
                                  {"msgtype": "m.text", "body": body})
        return str(data["event_id"])

    async def messages(self, room_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The room's events, newest first, as the server has them."""
        data = await self.request("GET", f"/rooms/{room_id}/messages",
                                  params={"dir": "b", "limit": str(limit)})
        return list(data["chunk"])

    async def texts(self, room_id: str) -> list[tuple[str, str]]:
        """(sender, body) of the room's messages, oldest first."""
        return [(e["sender"], e["content"].get("body", "")) for e in reversed(await self.messages(room_id))
                if e["type"] == "m.room.message"]


async def register(base_url: str, username: str, password: str = PASSWORD) -> Account:
    """A new account, registered through the dummy user-interactive auth stage; its
    display name is the user name with a capital ("alice" -> "Alice")."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        body: dict[str, Any] = {"username": username, "password": password}
        async with session.post(base_url + CLIENT + "/register", json=body) as resp:
            data = await resp.json()
        if resp.status == 401:
            body["auth"] = {"type": "m.login.dummy", "session": data.get("session")}
            async with session.post(base_url + CLIENT + "/register", json=body) as resp:
                data = await resp.json()
        assert resp.status == 200, data
    account = Account(base_url, data["user_id"], data["access_token"])
    await account.request("PUT", f"/profile/{account.user_id}/displayname", {"displayname": username.capitalize()})
    return account


async def open_room(page: Page, username: str, room_name: str) -> None:
    """Signs `username` in and opens the room called `room_name`."""
    await sign_in(page, username)
    await page.get_by_role("navigation", name="Conversations").get_by_role("link", name=room_name).click()
    await expect(page.locator(".room-header h2")).to_have_text(room_name)


def composer(page: Page) -> Locator:
    return page.get_by_role("textbox", name=re.compile(r"^Message "))


async def send(page: Page, text: str) -> None:
    box = composer(page)
    await box.fill(text)
    await box.press("Enter")
    await expect(message(page, text)).to_be_visible()


def message(page: Page, text: str) -> Locator:
    """The timeline row of the message whose body is exactly `text`."""
    return page.locator("li.message").filter(has=page.locator(".body", has_text=re.compile(f"^{re.escape(text)}$")))


async def message_actions(page: Page, text: str) -> Locator:
    """The action toolbar of a message (shown when the pointer is over it)."""
    row = message(page, text)
    await row.hover()
    return row.get_by_role("toolbar", name="Message options")
