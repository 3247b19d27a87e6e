"""register, login, logout, whoami, profile."""

from __future__ import annotations

import argparse
import getpass
import sys

from clients.cli.config import Credentials
from clients.cli.errors import CliError, ExitCode
from clients.cli.session import Context
from clients.sdk import AsyncClient


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for name, helptext in (("register", "create an account and log in"), ("login", "log in")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("user", help="user name (or full @user:server for login)")
        p.add_argument("--homeserver", "-H", help="homeserver URL, e.g. http://127.0.0.1:8008")
        p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        p.add_argument("--device-name", default="parley CLI")
        if name == "register":
            p.add_argument("--registration-token", help="token for servers with closed registration")
        p.set_defaults(func=register if name == "register" else login)
    sub.add_parser("logout", help="log out and forget this profile's token").set_defaults(func=logout)
    sub.add_parser("whoami", help="show the logged-in user").set_defaults(func=whoami)
    p = sub.add_parser("profile", help="show or set your (or someone's) profile")
    p.add_argument("--user", help="show this user's profile instead")
    p.add_argument("--displayname", "--set-name", dest="displayname", help="set your display name")
    p.add_argument("--avatar", help="set your avatar (an mxc:// URI)")
    p.set_defaults(func=profile)


def read_password(from_stdin: bool, *, confirm: bool = False) -> str:
    """The password from stdin, or typed at a prompt (twice when ``confirm``: a new password)."""
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if password and confirm and getpass.getpass("Password again: ") != password:
            raise CliError(ExitCode.USAGE, "the passwords do not match")
    if not password:
        raise CliError(ExitCode.USAGE, "empty password")
    return password


def homeserver_for(ctx: Context, args: argparse.Namespace) -> str:
    if args.homeserver:
        return str(args.homeserver)
    existing = ctx.profiles.load(ctx.profile)
    if existing is not None:
        return existing.homeserver
    raise CliError(ExitCode.USAGE, "--homeserver is needed for a new profile")


async def _start(ctx: Context, args: argparse.Namespace, action: str) -> int:
    client = AsyncClient(homeserver_for(ctx, args), device_name=args.device_name)
    ctx.client = client
    password = read_password(args.password_stdin, confirm=action == "register")
    if action == "register":
        session = await client.register(args.user, password, registration_token=args.registration_token)
    else:
        session = await client.login(args.user, password)
    path = ctx.profiles.save(
        ctx.profile, Credentials(client.homeserver, session.user_id, session.device_id, session.access_token)
    )
    ctx.out.emit(
        {"user_id": session.user_id, "device_id": session.device_id, "homeserver": client.homeserver,
         "profile": ctx.profile},
        f"{'Registered' if action == 'register' else 'Logged in'} as {session.user_id} "
        f"(device {session.device_id}); profile {ctx.profile!r} saved to {path}",
    )
    return ExitCode.OK


async def register(ctx: Context, args: argparse.Namespace) -> int:
    return await _start(ctx, args, "register")


async def login(ctx: Context, args: argparse.Namespace) -> int:
    return await _start(ctx, args, "login")


async def logout(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    user = client.user_id
    await client.logout()
    ctx.profiles.delete(ctx.profile)
    ctx.out.emit({"logged_out": user, "profile": ctx.profile}, f"Logged out {user}")
    return ExitCode.OK


async def whoami(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    me = await client.whoami()
    ctx.out.emit(
        {"user_id": me.user_id, "device_id": me.device_id, "homeserver": client.homeserver},
        f"{me.user_id} (device {me.device_id}) on {client.homeserver}",
    )
    return ExitCode.OK


async def profile(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    if args.user and (args.displayname or args.avatar):
        raise CliError(ExitCode.USAGE, "you can only set your own profile")
    if args.displayname is not None:
        await client.set_displayname(args.displayname)
    if args.avatar is not None:
        await client.set_avatar_url(args.avatar)
    user_id = args.user or client.user_id
    shown = await client.get_profile(user_id)
    ctx.out.emit(
        {"user_id": user_id, "displayname": shown.displayname, "avatar_url": shown.avatar_url},
        f"{user_id}\n  display name: {shown.displayname or '-'}\n  avatar: {shown.avatar_url or '-'}",
    )
    return ExitCode.OK
