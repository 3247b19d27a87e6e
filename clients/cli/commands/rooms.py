"""rooms, create, join, leave, invite, kick, ban, members."""

from __future__ import annotations

import argparse
import math
from typing import Any

from clients.cli.encryption import encryption_state_event
from clients.cli.errors import ExitCode
from clients.cli.session import Context, resolve_room
from clients.cli.users import user_id_for
from clients.sdk.rooms import Room


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser("rooms", help="list joined rooms and invites").set_defaults(func=rooms)

    p = sub.add_parser("create", help="create a room (or a space)")
    p.add_argument("name")
    p.add_argument("--topic")
    p.add_argument("--alias", help="local part of an alias to publish, e.g. 'town-square'")
    access = p.add_mutually_exclusive_group()
    access.add_argument("--public", action="store_true", help="anyone may join (public_chat preset)")
    access.add_argument("--knock", action="store_true",
                        help="people ask to join (join rule knock) and a moderator approves them")
    p.add_argument("--invite", action="append", default=[], metavar="USER")
    p.add_argument("--space", action="store_true", help="create a space (room type m.space)")
    p.add_argument("--encrypted", action="store_true",
                   help="end-to-end encrypt the room (m.room.encryption, Megolm)")
    p.add_argument("--parent", help="add the new room to this space")
    p.set_defaults(func=create)

    p = sub.add_parser("join", help="join a room by ID or alias, or accept an invite by name")
    p.add_argument("room")
    p.set_defaults(func=join)

    p = sub.add_parser("leave", help="leave a room (or reject an invite)")
    p.add_argument("room")
    p.set_defaults(func=leave)

    for action in ("invite", "kick", "ban"):
        p = sub.add_parser(action, help=f"{action} a user")
        p.add_argument("room")
        p.add_argument("user")
        p.add_argument("--reason")
        p.set_defaults(func=membership, action=action)

    p = sub.add_parser("members", help="list a room's members")
    p.add_argument("room")
    p.set_defaults(func=members)


def room_record(room: Room) -> dict[str, Any]:
    return {
        "room_id": room.room_id,
        "name": room.display_name,
        "topic": room.topic,
        "membership": room.my_membership,
        "unread": room.unread,
        "members": len(room.joined_members),
        "is_direct": room.is_direct,
        "is_space": room.is_space,
        "inviter": room.inviter if room.my_membership == "invite" else None,
        "alias": room.canonical_alias,
    }


async def rooms(ctx: Context, args: argparse.Namespace) -> int:
    state = await ctx.synced_state()
    listed = sorted(state.joined_rooms, key=lambda r: -r.last_event_ts) + state.invites
    records = [room_record(r) for r in listed]

    def human() -> str:
        if not records:
            return "No rooms."
        lines = []
        for r in records:
            flags = [f for f, on in (("invite", r["membership"] == "invite"), ("DM", r["is_direct"]),
                                      ("space", r["is_space"])) if on]
            unread = f" ({r['unread']} unread)" if r["unread"] else ""
            extra = f" [{', '.join(flags)}]" if flags else ""
            by = f" from {r['inviter']}" if r["inviter"] else ""
            lines.append(f"{r['name']}{extra}{unread}{by}\n    {r['room_id']}")
        return "\n".join(lines)

    ctx.out.emit(records, human)
    return ExitCode.OK


async def create(ctx: Context, args: argparse.Namespace) -> int:
    # An encrypted room needs this device's keys: a failure to load them stops here, before the room exists.
    client = await ctx.encrypted_client() if args.encrypted else ctx.logged_in_client()
    initial_state = [encryption_state_event()] if args.encrypted else []
    if args.knock:
        # spec: client-server-api "Knocking on rooms" (room versions 7+).
        initial_state.append({"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}})
    room_id = await client.create_room(
        name=args.name,
        topic=args.topic,
        alias_localpart=args.alias,
        invite=[user_id_for(ctx, u) for u in args.invite],
        preset="public_chat" if args.public else "private_chat",
        visibility="public" if args.public else None,
        room_type="m.space" if args.space else None,
        extra={"initial_state": initial_state} if initial_state else None,
    )
    if args.parent:
        parent = await resolve_room(ctx, args.parent)
        await client.add_space_child(parent, room_id)
    ctx.out.emit({"room_id": room_id}, f"Created {'space' if args.space else 'room'} {args.name}: {room_id}")
    return ExitCode.OK


async def join(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    target = args.room
    if not target.startswith(("!", "#")):
        target = await resolve_room(ctx, target, include_invites=True)
    room_id = await client.join(target)
    ctx.out.emit({"room_id": room_id}, f"Joined {room_id}")
    return ExitCode.OK


async def leave(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    room_id = await resolve_room(ctx, args.room, include_invites=True)
    await client.leave(room_id)
    ctx.out.emit({"room_id": room_id}, f"Left {room_id}")
    return ExitCode.OK


async def membership(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    room_id = await resolve_room(ctx, args.room)
    user_id = user_id_for(ctx, args.user)
    await getattr(client, args.action)(room_id, user_id, args.reason)
    past = {"invite": "Invited", "kick": "Kicked", "ban": "Banned"}[args.action]
    ctx.out.emit({"room_id": room_id, "user_id": user_id, "action": args.action},
                 f"{past} {user_id} in {room_id}")
    return ExitCode.OK


async def members(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    room_id = await resolve_room(ctx, args.room)
    room = Room(room_id, client.require_user_id())
    # Full state events carry senders: the creator of a v11+ room is the create event's sender.
    for event in await client.get_room_state(room_id):
        room.apply_state(event)
    records = []
    for m in sorted(room.members.values(), key=lambda m: (m.membership != "join", m.user_id)):
        level = room.power_level(m.user_id)
        records.append({
            "user_id": m.user_id, "display_name": m.display_name, "membership": m.membership,
            "power_level": "creator" if level == math.inf else level,
        })

    def human() -> str:
        lines = []
        for r in records:
            name = f" ({r['display_name']})" if r["display_name"] else ""
            power = f" [{r['power_level']}]" if r["power_level"] else ""
            state = "" if r["membership"] == "join" else f" <{r['membership']}>"
            lines.append(f"{r['user_id']}{name}{power}{state}")
        return "\n".join(lines)

    ctx.out.emit(records, human)
    return ExitCode.OK
