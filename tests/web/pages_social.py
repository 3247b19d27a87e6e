"""Steps and server-side checks for the social parts of the web client (home, friends,
spaces, settings): a parleyd whose user directory lists every local user, and small
Client-Server API calls that check what the browser did."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml
from playwright.async_api import Page, expect

from tests.parleyd_process import Parleyd
from tests.web.pages import PASSWORD


@asynccontextmanager
async def directory_parleyd(tmp: Path) -> AsyncIterator[Parleyd]:
    """A parleyd whose /user_directory/search finds every local user (search_all_users)."""
    server = Parleyd(tmp / "hs")
    await server.init()
    config = yaml.safe_load(server.config.read_text())
    config.setdefault("user_directory", {})["search_all_users"] = True
    server.config.write_text(yaml.safe_dump(config))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class Api:
    """A signed-in Client-Server API session, to check on the server what a browser did."""

    def __init__(self, base_url: str, token: str, user_id: str) -> None:
        self.base_url = base_url
        self.token = token
        self.user_id = user_id

    @classmethod
    async def login(cls, base_url: str, username: str, password: str = PASSWORD) -> Api:
        body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": username}, "password": password}
        async with aiohttp.ClientSession() as http, http.post(
            f"{base_url}/_matrix/client/v3/login", json=body
        ) as resp:
            data = await resp.json()
            assert resp.status == 200, data
        return cls(base_url, data["access_token"], data["user_id"])

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        url = self.base_url + (path if path.startswith("/_matrix/") else f"/_matrix/client/v3{path}")
        async with aiohttp.ClientSession() as http, http.request(
            method, url, json=body, headers=headers
        ) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str) -> Any:
        status, data = await self.request("GET", path)
        assert status == 200, (path, data)
        return data

    async def state(self, room_id: str, event_type: str, state_key: str = "") -> Any:
        return await self.get(f"/rooms/{quote(room_id)}/state/{event_type}/{quote(state_key)}")

    async def membership(self, room_id: str, user_id: str) -> str | None:
        status, data = await self.request("GET", f"/rooms/{quote(room_id)}/state/m.room.member/{quote(user_id)}")
        return data.get("membership") if status == 200 else None

    async def joined_rooms(self) -> list[str]:
        return (await self.get("/joined_rooms"))["joined_rooms"]

    async def account_data(self, event_type: str) -> Any:
        status, data = await self.request("GET", f"/user/{quote(self.user_id)}/account_data/{event_type}")
        return data if status == 200 else None


def room_id_of(page: Page) -> str:
    """The room the page shows (#/room/<id>)."""
    from urllib.parse import unquote

    fragment = page.url.split("#", 1)[1]
    assert fragment.startswith("/room/"), page.url
    return unquote(fragment[len("/room/"):])


async def create_room(page: Page, name: str, access: str = "private", encrypted: bool = False,
                      topic: str = "", space: str | None = None) -> str:
    """Creates a room through the sidebar's dialog; returns its ID once the room is open."""
    labels = {"public": "Public", "private": "Private", "knock": "On approval"}
    await page.get_by_role("button", name="Create a room").first.click()
    dialog = page.get_by_role("dialog", name="Create a room")
    await dialog.get_by_label("Name").fill(name)
    if topic:
        await dialog.get_by_label("Topic (optional)").fill(topic)
    await dialog.get_by_label(labels[access]).check()
    checkbox = dialog.get_by_label("End-to-end encrypted")
    if encrypted:
        await checkbox.check()
    else:
        await checkbox.uncheck()
    if space:
        await dialog.get_by_label("Add to space").select_option(label=space)
    await dialog.get_by_role("button", name="Create", exact=True).click()
    await expect(dialog).to_be_hidden(timeout=15_000)
    await expect(page.locator(".room-header h2")).to_have_text(name, timeout=15_000)
    return room_id_of(page)


async def open_room_settings(page: Page) -> Any:
    await page.get_by_role("button", name="Room settings").click()
    return page.get_by_role("dialog")


async def register_api(base_url: str, username: str, password: str = PASSWORD) -> Api:
    """An account made over the API (for people the test does not need a browser for)."""
    url = f"{base_url}/_matrix/client/v3/register"
    body: dict[str, Any] = {"username": username, "password": password}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body) as resp:
            data = await resp.json()
        if resp.status == 401:
            body["auth"] = {"type": "m.login.dummy", "session": data.get("session")}
            async with http.post(url, json=body) as resp:
                data = await resp.json()
        assert resp.status == 200, data
    return Api(base_url, data["access_token"], data["user_id"])


async def left_rooms(api: Api) -> set[str]:
    """Rooms an initial sync lists as left (forgotten ones are not)."""
    import json

    filter_json = quote(json.dumps({"room": {"include_leave": True, "timeline": {"limit": 1}}}))
    data = await api.get(f"/sync?filter={filter_json}")
    return set(data.get("rooms", {}).get("leave", {}))
