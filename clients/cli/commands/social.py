"""friends (DM contacts and requests), search (users or messages), space (hierarchy)."""

from __future__ import annotations

import argparse
import logging

from clients.cli.errors import CliError, ExitCode, not_found_as
from clients.cli.session import Context, resolve_room
from clients.cli.users import user_id_for
from clients.sdk import MatrixRequestError
from clients.sdk.friends import Friend

log = logging.getLogger(__name__)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("friends", help="DM contacts, their online status and pending requests")
    actions = p.add_subparsers(dest="friends_action")
    add = actions.add_parser("add", help="send a friend request (a direct-message invite)")
    add.add_argument("user")
    accept = actions.add_parser("accept", help="accept a friend request")
    accept.add_argument("user")
    decline = actions.add_parser("decline", help="decline a friend request (leaves and forgets its room)")
    decline.add_argument("user")
    remove = actions.add_parser("remove", help="unfriend, or withdraw a request (leaves and forgets the DM)")
    remove.add_argument("user")
    p.set_defaults(func=friends)

    p = sub.add_parser("search", help="search the user directory, or messages with --messages")
    p.add_argument("term")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--messages", action="store_true", help="search message text instead of users")
    p.add_argument("--room", help="with --messages: only this room (ID, alias or name)")
    p.add_argument("--recent", action="store_true", help="with --messages: newest first instead of best match")
    p.set_defaults(func=search)

    p = sub.add_parser("space", help="list the rooms of a space (its hierarchy)")
    p.add_argument("space", help="space room ID, alias or name")
    p.add_argument("--max-depth", type=int, default=None)
    p.add_argument("--suggested", action="store_true", help="only suggested rooms")
    p.set_defaults(func=space)


STATUS_TEXT = {"contact": "", "outgoing": "request sent", "incoming": "wants to be friends"}


async def _presence_of(ctx: Context, friend: Friend) -> str | None:
    if friend.presence is not None or friend.status != "contact":
        return friend.presence
    try:
        return (await ctx.logged_in_client().get_presence(friend.user_id)).presence
    except MatrixRequestError as e:
        # A server without presence answers 404/405 (M_UNRECOGNIZED): status unknown.
        if e.status in (404, 405) or e.errcode == "M_UNRECOGNIZED":
            log.debug("no presence for %s: %s", friend.user_id, e)
            return None
        raise


async def friends(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    await ctx.synced_state()
    if args.friends_action is not None:
        return await _friends_action(ctx, args.friends_action, user_id_for(ctx, args.user))
    records = []
    for friend in client.friends():
        records.append({
            "user_id": friend.user_id, "display_name": friend.display_name, "status": friend.status,
            "room_id": friend.room_id, "presence": await _presence_of(ctx, friend),
        })

    def human() -> str:
        if not records:
            return "No friends yet. Add one with `parley friends add USER`."
        lines = []
        for r in records:
            name = f"{r['display_name']} ({r['user_id']})" if r["display_name"] else r["user_id"]
            note = STATUS_TEXT[str(r["status"])] or (r["presence"] or "presence unknown")
            lines.append(f"{name} — {note}")
        return "\n".join(lines)

    ctx.out.emit(records, human)
    return ExitCode.OK


async def _friends_action(ctx: Context, action: str, user_id: str) -> int:
    client = ctx.logged_in_client()
    if action == "add":
        if user_id == client.user_id:
            raise CliError(ExitCode.USAGE, "you cannot send yourself a friend request")
        with not_found_as(f"no such user: {user_id}"):
            room_id = await client.add_friend(user_id)
        ctx.out.emit({"user_id": user_id, "room_id": room_id}, f"Friend request sent to {user_id} ({room_id})")
        return ExitCode.OK
    if action == "accept":
        with not_found_as(f"no pending request from {user_id}"):
            room_id = await client.accept_friend(user_id)
        ctx.out.emit({"user_id": user_id, "room_id": room_id}, f"You and {user_id} are now friends ({room_id})")
        return ExitCode.OK
    with not_found_as(f"no friend or request {user_id}"):
        left = await client.remove_friend(user_id)
    done = "Declined the request from" if action == "decline" else "Removed"
    ctx.out.emit({"user_id": user_id, "rooms_left": left, "action": action}, f"{done} {user_id}")
    return ExitCode.OK


async def _room_names(ctx: Context, room_ids: set[str]) -> dict[str, str]:
    """Display names for rooms we are in, the m.room.name (or the ID) for ones we left."""
    state = await ctx.synced_state()
    names: dict[str, str] = {}
    for room_id in room_ids:
        room = state.rooms.get(room_id)
        if room is not None:
            names[room_id] = room.display_name
            continue
        try:
            name = (await ctx.logged_in_client().get_state_event(room_id, "m.room.name")).get("name")
        except MatrixRequestError:
            name = None
        names[room_id] = name if isinstance(name, str) and name else room_id
    return names


async def search_messages(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    rooms = [await resolve_room(ctx, args.room)] if args.room else None
    results, _ = await client.search_messages(
        args.term, rooms=rooms, order_by="recent" if args.recent else "rank", limit=args.limit
    )
    names = await _room_names(ctx, {r.room_id for r in results})
    records = [{
        "room_id": r.room_id, "room_name": names[r.room_id], "event_id": r.event.get("event_id"),
        "sender": r.event.get("sender"),
        "origin_server_ts": r.event.get("origin_server_ts"), "body": (r.event.get("content") or {}).get("body"),
        "rank": r.rank,
    } for r in results]
    ctx.out.emit(records, lambda: "\n".join(
        f"{r['room_name']}  {r['sender']}: {r['body'] or ''}" for r in records
    ) or "No messages found.")
    return ExitCode.OK if records else ExitCode.NOT_FOUND


async def space(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    space_id = await resolve_room(ctx, args.space)
    rooms = await client.space_hierarchy(space_id, max_depth=args.max_depth, suggested_only=args.suggested)
    records = [{
        "room_id": r.get("room_id"), "name": r.get("name"), "room_type": r.get("room_type"),
        "join_rule": r.get("join_rule"), "num_joined_members": r.get("num_joined_members"),
        "children": [c.get("state_key") for c in r.get("children_state", [])],
    } for r in rooms]

    def human() -> str:
        lines = []
        for r in records:
            kind = "space" if r["room_type"] == "m.space" else "room"
            label = r["name"] or r["room_id"]
            lines.append(f"{label} ({kind}, {r['num_joined_members']} joined, {r['join_rule']}) {r['room_id']}")
        return "\n".join(lines)

    ctx.out.emit(records, human)
    return ExitCode.OK


async def search(ctx: Context, args: argparse.Namespace) -> int:
    if args.messages:
        return await search_messages(ctx, args)
    client = ctx.logged_in_client()
    results = await client.search_users(args.term, args.limit)
    records = [{"user_id": r.user_id, "display_name": r.display_name, "avatar_url": r.avatar_url} for r in results]
    ctx.out.emit(records, lambda: "\n".join(
        f"{r['user_id']}" + (f" ({r['display_name']})" if r["display_name"] else "") for r in records
    ) or "No users found.")
    return ExitCode.OK if records else ExitCode.NOT_FOUND
