"""Rooms joined with approval (knock, requests, approve, refuse), roles, and deleting messages."""

from __future__ import annotations

import argparse
from typing import Any

from clients.cli.errors import CliError, ExitCode
from clients.cli.session import Context, resolve_room
from clients.cli.users import user_id_for
from clients.sdk import MatrixRequestError

# Power levels of the usual roles (spec: "m.room.power_levels"; Element uses the same).
ROLES = {"admin": 100, "moderator": 50, "member": 0}


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("knock", help="ask to join a room whose join rule is knock")
    p.add_argument("room", help="room ID or alias")
    p.add_argument("--reason", help="a note for the room's moderators")
    p.set_defaults(func=knock)

    p = sub.add_parser("requests", help="list the pending requests to join a room (knocks)")
    p.add_argument("room")
    p.set_defaults(func=requests)

    p = sub.add_parser("approve", help="let someone who knocked in (invites them)")
    p.add_argument("room")
    p.add_argument("user")
    p.set_defaults(func=approve)

    p = sub.add_parser("refuse", help="turn down a request to join (kicks the knock)")
    p.add_argument("room")
    p.add_argument("user")
    p.add_argument("--reason")
    p.set_defaults(func=refuse)

    p = sub.add_parser("role", help="make someone an admin (100), moderator (50) or member (0)")
    p.add_argument("room")
    p.add_argument("user")
    p.add_argument("role", choices=sorted(ROLES))
    p.set_defaults(func=role)

    p = sub.add_parser("delete", help="delete (redact) a message")
    p.add_argument("room")
    p.add_argument("event_id")
    p.add_argument("--reason")
    p.set_defaults(func=delete)


async def knock(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    if not args.room.startswith(("!", "#")):
        raise CliError(ExitCode.USAGE, "knock needs a room ID (!…) or alias (#…)")
    try:
        room_id = await client.knock(args.room, args.reason)
    except MatrixRequestError as e:
        if e.errcode == "M_FORBIDDEN":
            raise CliError(ExitCode.ERROR, f"cannot knock on {args.room}: {e.message}") from None
        raise
    ctx.out.emit({"room_id": room_id, "membership": "knock"},
                 f"Asked to join {room_id}; a moderator will approve or refuse the request")
    return ExitCode.OK


async def _pending(ctx: Context, room_id: str) -> list[dict[str, Any]]:
    client = ctx.logged_in_client()
    knocks = []
    for event in await client.get_room_state(room_id):
        content = event.get("content") or {}
        if event.get("type") == "m.room.member" and content.get("membership") == "knock":
            knocks.append({"user_id": event.get("state_key"), "display_name": content.get("displayname"),
                           "reason": content.get("reason"), "origin_server_ts": event.get("origin_server_ts")})
    return sorted(knocks, key=lambda k: int(k.get("origin_server_ts") or 0))


async def requests(ctx: Context, args: argparse.Namespace) -> int:
    room_id = await resolve_room(ctx, args.room)
    records = await _pending(ctx, room_id)

    def human() -> str:
        if not records:
            return "No pending requests."
        lines = []
        for r in records:
            name = f" ({r['display_name']})" if r["display_name"] else ""
            reason = f": {r['reason']}" if r["reason"] else ""
            lines.append(f"{r['user_id']}{name}{reason}")
        return "\n".join(lines)

    ctx.out.emit(records, human)
    return ExitCode.OK


async def _knocking(ctx: Context, room_id: str, user_id: str) -> None:
    if user_id not in {r["user_id"] for r in await _pending(ctx, room_id)}:
        raise CliError(ExitCode.NOT_FOUND, f"{user_id} has not asked to join {room_id}")


async def approve(ctx: Context, args: argparse.Namespace) -> int:
    room_id = await resolve_room(ctx, args.room)
    user_id = user_id_for(ctx, args.user)
    await _knocking(ctx, room_id, user_id)
    # spec: "Knocking on rooms" — a knock is accepted by inviting the user.
    await ctx.logged_in_client().invite(room_id, user_id)
    ctx.out.emit({"room_id": room_id, "user_id": user_id, "action": "approve"},
                 f"Approved {user_id}: invited to {room_id}")
    return ExitCode.OK


async def refuse(ctx: Context, args: argparse.Namespace) -> int:
    room_id = await resolve_room(ctx, args.room)
    user_id = user_id_for(ctx, args.user)
    await _knocking(ctx, room_id, user_id)
    # A knock is rejected by kicking it (membership leave); they may knock again unless banned.
    await ctx.logged_in_client().kick(room_id, user_id, args.reason)
    ctx.out.emit({"room_id": room_id, "user_id": user_id, "action": "refuse", "reason": args.reason},
                 f"Refused {user_id}'s request to join {room_id}")
    return ExitCode.OK


async def role(ctx: Context, args: argparse.Namespace) -> int:
    room_id = await resolve_room(ctx, args.room)
    user_id = user_id_for(ctx, args.user)
    level = ROLES[args.role]
    event_id = await ctx.logged_in_client().set_power_level(room_id, user_id, level)
    ctx.out.emit({"room_id": room_id, "user_id": user_id, "role": args.role, "power_level": level,
                  "event_id": event_id}, f"{user_id} is now {args.role} ({level}) in {room_id}")
    return ExitCode.OK


async def delete(ctx: Context, args: argparse.Namespace) -> int:
    room_id = await resolve_room(ctx, args.room)
    if not args.event_id.startswith("$"):
        raise CliError(ExitCode.USAGE, f"not an event ID: {args.event_id!r} (event IDs start with $)")
    event_id = await ctx.logged_in_client().redact(room_id, args.event_id, args.reason)
    ctx.out.emit({"room_id": room_id, "redacted": args.event_id, "event_id": event_id},
                 f"Deleted {args.event_id} in {room_id}")
    return ExitCode.OK
