"""`parley search --messages` and `parley space`, driven as subprocesses against a real server,
plus the SDK calls under them."""

from __future__ import annotations

from pathlib import Path

from clients.sdk.client import AsyncClient
from tests.conftest import RunningHomeserver
from tests.integration.test_cli import Parley


async def test_cli_searches_messages_in_a_room(tmp_path: Path, homeserver: RunningHomeserver) -> None:
    parley = Parley(tmp_path / "config", homeserver)
    await parley.register("a", "alice")
    await parley.ok("-p", "a", "create", "Garden")
    await parley.ok("-p", "a", "create", "Kitchen")
    await parley.ok("-p", "a", "send", "Garden", "the tomatoes are ripe")
    await parley.ok("-p", "a", "send", "Kitchen", "tomatoes go in the sauce")
    found = (await parley.ok("-p", "a", "--json", "search", "--messages", "tomato", "--room", "Garden")).json()
    assert [r["body"] for r in found] == ["the tomatoes are ripe"]
    everywhere = (await parley.ok("-p", "a", "--json", "search", "--messages", "tomatoes", "--recent")).json()
    assert [r["body"] for r in everywhere] == ["tomatoes go in the sauce", "the tomatoes are ripe"]
    assert (await parley("-p", "a", "search", "--messages", "cucumber")).code == 4


async def test_cli_lists_a_space(tmp_path: Path, homeserver: RunningHomeserver) -> None:
    client = AsyncClient(homeserver.base_url)
    try:
        await client.register("alice", "pw")
        space = await client.create_space("Allotment", preset="public_chat")
        shed = await client.create_room(name="Shed", preset="public_chat")
        await client.add_space_child(space, shed)
        rooms = await client.space_hierarchy(space)
        assert [r["room_id"] for r in rooms] == [space, shed]
        parley = Parley(tmp_path / "config", homeserver)
        await parley.ok("-p", "a", "login", "alice", "-H", homeserver.base_url, "--password-stdin", stdin="pw\n")
        listed = (await parley.ok("-p", "a", "--json", "space", space)).json()
        assert [(r["name"], r["room_type"]) for r in listed] == [("Allotment", "m.space"), ("Shed", None)]
        assert listed[0]["children"] == [shed]
    finally:
        await client.close()
