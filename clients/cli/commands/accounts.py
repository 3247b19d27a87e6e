"""register, login, logout, whoami, profile."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from clients.cli.config import Credentials
from clients.cli.encryption import configured_passphrase
from clients.cli.errors import CliError, ExitCode
from clients.cli.session import Context
from clients.cli.textart import text_art
from clients.cli.users import user_id_for
from clients.sdk import AsyncClient, MatrixRequestError, api, media


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
    p.add_argument("--user", help="show this user's profile instead (bob, @bob or @bob:server)")
    p.add_argument("--displayname", "--set-name", dest="displayname", help="set your display name")
    p.add_argument("--avatar", help="set your avatar: an image file (uploaded) or an mxc:// URI")
    p.set_defaults(func=profile)
    p = sub.add_parser("password", help="change your password (asks for the old one, then the new one twice)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read two lines from stdin: the old password, then the new one")
    p.add_argument("--logout-devices", action="store_true", help="also log out your other devices")
    p.set_defaults(func=password)


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
    # End-to-end encryption is set up now, with nothing to choose: the device's keys are made,
    # published and sealed (with the passphrase if one was given, else with a new key file).
    await ctx.encrypted_client()
    assert ctx.crypto is not None
    sealed_with = "passphrase" if (ctx.passphrase or configured_passphrase()) else "key file"
    ctx.out.emit(
        {"user_id": session.user_id, "device_id": session.device_id, "homeserver": client.homeserver,
         "profile": ctx.profile, "ed25519": ctx.crypto.ed25519_fingerprint, "keys_sealed_with": sealed_with},
        f"{'Registered' if action == 'register' else 'Logged in'} as {session.user_id} "
        f"(device {session.device_id}); profile {ctx.profile!r} saved to {path}\n"
        f"End-to-end encryption is on (keys sealed with a {sealed_with}); "
        f"device fingerprint {ctx.crypto.ed25519_fingerprint}",
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


async def _avatar_uri(client: AsyncClient, avatar: str) -> str:
    """`avatar` as an mxc:// URI: used as is, or a file uploaded to the content repository."""
    if avatar.startswith("mxc://"):
        return avatar
    path = await asyncio.to_thread(Path(avatar).expanduser)
    if not await asyncio.to_thread(path.is_file):
        raise CliError(ExitCode.NOT_FOUND, f"no such file: {avatar} (give an image file or an mxc:// URI)")
    data = await asyncio.to_thread(path.read_bytes)
    described = await asyncio.to_thread(media.describe, path.name, data)
    if described.msgtype != "m.image":
        raise CliError(ExitCode.USAGE, f"{avatar} is not an image Parley can read")
    return await client.upload(data, described.mimetype, path.name)


async def _avatar_preview(client: AsyncClient, avatar_url: str) -> str | None:
    """A text-art thumbnail of the avatar, or None when it cannot be fetched or read."""
    try:
        data = await client.thumbnail(avatar_url, 64, 64)
    except (MatrixRequestError, ValueError):
        return None
    return await asyncio.to_thread(text_art, data, 24)


async def profile(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    if args.user and (args.displayname or args.avatar):
        raise CliError(ExitCode.USAGE, "you can only set your own profile")
    if args.displayname is not None:
        await client.set_displayname(args.displayname)
    if args.avatar is not None:
        await client.set_avatar_url(await _avatar_uri(client, args.avatar))
    user_id = user_id_for(ctx, args.user) if args.user else client.require_user_id()
    try:
        shown = await client.get_profile(user_id)
    except MatrixRequestError as e:
        if e.status == 404:
            raise CliError(ExitCode.NOT_FOUND, f"no such user: {user_id}") from None
        raise
    link = None
    if shown.avatar_url:
        try:
            link = api.media_http_url(client.homeserver, shown.avatar_url)
        except ValueError:
            link = None
    lines = [user_id, f"  display name: {shown.displayname or '-'}",
             f"  avatar: {shown.avatar_url or '-'}" + (f"\n          {link}" if link else "")]
    if shown.avatar_url and not ctx.out.json_mode and sys.stdout.isatty():
        preview = await _avatar_preview(client, shown.avatar_url)
        if preview:
            lines.append(preview)
    ctx.out.emit(
        {"user_id": user_id, "displayname": shown.displayname, "avatar_url": shown.avatar_url,
         "avatar_http_url": link},
        "\n".join(lines),
    )
    return ExitCode.OK


def read_password_change(from_stdin: bool) -> tuple[str, str]:
    """(old, new): two lines from stdin, or typed at the terminal (the new one twice)."""
    if from_stdin or not sys.stdin.isatty():
        old = sys.stdin.readline().rstrip("\r\n")
        new = sys.stdin.readline().rstrip("\r\n")
    else:
        old = getpass.getpass("Current password: ")
        new = getpass.getpass("New password: ")
        if new and getpass.getpass("New password again: ") != new:
            raise CliError(ExitCode.USAGE, "the new passwords do not match")
    if not old or not new:
        raise CliError(ExitCode.USAGE, "give the current password and a new one (two lines with --password-stdin)")
    return old, new


async def password(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.logged_in_client()
    old, new = read_password_change(args.password_stdin)
    try:
        await client.change_password(old, new, logout_devices=args.logout_devices)
    except MatrixRequestError as e:
        if e.errcode == "M_FORBIDDEN" and e.status == 401:
            raise CliError(ExitCode.ERROR, "the current password is wrong") from None
        if e.errcode == "M_WEAK_PASSWORD":
            raise CliError(ExitCode.ERROR, f"the new password is too weak: {e.message}") from None
        raise
    ctx.out.emit({"user_id": client.user_id, "password_changed": True}, f"Password changed for {client.user_id}")
    return ExitCode.OK
