"""`parley chat` shows a call ringing for us, and stops when it is hung up."""

from __future__ import annotations

from clients.cli.chat.app import ChatApp
from clients.sdk import AsyncClient
from tests.integration.test_cli_chat import pair, text_of, until

__all__ = ["pair"]


async def test_chat_shows_an_incoming_call_until_it_is_hung_up(pair: tuple[AsyncClient, AsyncClient]) -> None:
    alice, bob = pair
    room_id = await bob.create_room(name="Calls", invite=[alice.require_user_id()])
    await alice.join(room_id)
    await bob.set_displayname("Bob\x1b[2J")  # terminal controls in a name are shown, not obeyed
    base = {"call_id": "call1", "party_id": "BOBPARTY1", "version": "1"}

    app = ChatApp(alice, sync_timeout_ms=2000)
    async with app.run_test(size=(120, 40)) as pilot:
        app.select_room(room_id)
        await until(pilot, lambda: app.current_room is not None and "Bob" in app.current_room.member_name(bob.user_id or ""))
        await bob.send_event(room_id, "m.call.invite", {
            **base, "lifetime": 90_000, "offer": {"type": "offer", "sdp": "v=0\r\n"}})
        await until(pilot, lambda: "is calling" in text_of(app, "#timeline"))
        line = next(x for x in text_of(app, "#timeline").splitlines() if "is calling" in x)
        assert line == f"📞 Bob␛[2J is calling — run `parley answer {room_id}`"
        await bob.send_event(room_id, "m.call.hangup", {**base, "reason": "user_hangup"})
        await bob.send_text(room_id, "never mind")
        await until(pilot, lambda: "never mind" in text_of(app, "#timeline"))
        assert "is calling" not in text_of(app, "#timeline")
