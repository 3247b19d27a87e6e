"""The same Simplified Sliding Sync (MSC4186) requests to Synapse and to Parley, for
equivalent rooms: the responses must have the same shape (keys and value types), since
Element X is built against Synapse's. Values (IDs, positions, timestamps) differ."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp
from tests.integration.sliding_sync_helpers import sliding_sync
from tests.interop.synapse_peer import SynapsePeer

REQUIRED_STATE = [
    ["m.room.create", ""], ["m.room.name", ""], ["m.room.member", "$LAZY"], ["m.room.member", "$ME"],
]
# Keys every client event carries (the rest of "unsigned" is server-specific).
EVENT_KEYS = {"type", "content", "sender", "event_id", "origin_server_ts"}


def request() -> dict[str, Any]:
    return {
        "lists": {"all": {"ranges": [[0, 9]], "timeline_limit": 3, "required_state": REQUIRED_STATE}},
        "extensions": {
            "to_device": {"enabled": True},
            "e2ee": {"enabled": True},
            "account_data": {"enabled": True},
            "receipts": {"enabled": True},
            "typing": {"enabled": True},
        },
    }


def shape(value: Any) -> Any:
    """Keys and value types; lists by the shapes of their items; events by their core keys."""
    if isinstance(value, dict):
        if "type" in value and "content" in value:
            # An event (or account data): its contents are the sender's business.
            keys = EVENT_KEYS | ({"state_key"} if "state_key" in value else set())
            return ("event", tuple(sorted(k for k in keys if k in value)))
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes = []
        for item in value:
            s = shape(item)
            if s not in shapes:
                shapes.append(s)
        return ["list", *shapes]
    return type(value).__name__


def by_role(response: dict[str, Any], roles: dict[str, str]) -> dict[str, Any]:
    """The response with room IDs replaced by their roles, and the volatile parts dropped."""
    out = dict(response)
    out["rooms"] = {roles[room_id]: room for room_id, room in response["rooms"].items()}
    for name, sections in (response.get("extensions") or {}).items():
        if isinstance(sections, dict) and isinstance(sections.get("rooms"), dict):
            # Synapse lists every room in scope, with [] when it has no account data;
            # Parley only the rooms that have some. Clients read both the same way.
            rooms = {roles[r]: v for r, v in sections["rooms"].items() if v != []}
            out["extensions"] = {**out["extensions"], name: {**sections, "rooms": rooms}}
    receipts = out["extensions"].get("receipts", {}).get("rooms", {})
    for role, receipt in receipts.items():
        # Keyed by event ID; the scenario reads one event.
        assert len(receipt["content"]) == 1
        receipts[role] = {**receipt, "content": {"$event": next(iter(receipt["content"].values()))}}
    return out


async def scenario(alice: MatrixHttp, bob: MatrixHttp) -> dict[str, dict[str, Any]]:
    """Alice: a named room she chats in with bob, a quiet room of her own, an invite for bob."""
    named = await alice.create_room(name="Shapes", preset="private_chat", invite=[bob.user_id])
    await bob.join(named)
    quiet = await alice.create_room(preset="private_chat")
    invite = await alice.create_room(name="Invitation", preset="private_chat", invite=[bob.user_id])
    await alice.send(named, "hello")
    await bob.send(named, "hi alice")
    await alice.request(
        "PUT", f"/_matrix/client/v3/user/{alice.user_id}/account_data/org.example.shape", {"x": 1}
    )
    roles = {named: "named", quiet: "quiet", invite: "invite"}
    alice_first = await sliding_sync(alice, request())
    bob_first = await sliding_sync(bob, request())
    event_id = await bob.send(named, "news")
    await bob.request("POST", f"/_matrix/client/v3/rooms/{named}/receipt/m.read/{event_id}", {})
    alice_next = await sliding_sync(alice, request(), pos=alice_first["pos"], timeout=2000)
    return {
        "alice initial": by_role(alice_first, roles),
        "bob initial": by_role(bob_first, roles),
        "alice incremental": by_role(alice_next, roles),
    }


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours:
                out.append(f"{path}/{key}: only Synapse has it ({theirs[key]})")
            elif key not in theirs:
                out.append(f"{path}/{key}: only Parley has it ({ours[key]})")
            else:
                out += differences(ours[key], theirs[key], f"{path}/{key}")
        return out
    return [] if ours == theirs else [f"{path}: Parley {ours} != Synapse {theirs}"]


async def test_sliding_sync_shapes_match_synapse(synapse: SynapsePeer, homeserver: RunningHomeserver) -> None:
    async with ClientSession() as session:
        responses = {}
        for server, make in (
            ("synapse", lambda: MatrixHttp(session, synapse.client_url)),
            ("parley", lambda: MatrixHttp(session, homeserver.base_url)),
        ):
            alice, bob = make(), make()
            await alice.register("alice")
            await bob.register("bob")
            responses[server] = await scenario(alice, bob)
    problems = []
    for step, ours in responses["parley"].items():
        problems += differences(shape(ours), shape(responses["synapse"][step]), step)
    assert not problems, "\n".join(problems)
