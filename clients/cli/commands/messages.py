"""send, upload, download, history, tail."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from clients.cli.errors import CliError, ExitCode, not_found_as
from clients.cli.output import format_message, message_record
from clients.cli.session import Context, resolve_room
from clients.cli.users import user_id_for
from clients.crypto.errors import AttachmentError, AttachmentHashMismatchError
from clients.sdk import EncryptionUnavailableError, MatrixRequestError, api, content, media
from clients.sdk.crypto_machine import UNDECRYPTABLE
from clients.sdk.encryption import UnsupportedAlgorithmError

# m.room.encrypted too: in encrypted rooms messages arrive as ciphertext and are decrypted here.
MESSAGE_FILTER = {"types": ["m.room.message", "m.room.encrypted"]}


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("send", help="send a message ('-' reads it from stdin)")
    p.add_argument("room", help="a room (ID, alias or name), or @user to message them directly")
    p.add_argument("text")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--notice", action="store_true")
    kind.add_argument("--emote", action="store_true")
    p.add_argument("--reply-to", metavar="EVENT_ID")
    p.set_defaults(func=send)

    p = sub.add_parser("upload", help="send a file (images, audio and video get their msgtype)")
    p.add_argument("room")
    p.add_argument("file")
    p.set_defaults(func=upload)

    p = sub.add_parser("download", help="download an mxc:// URI, or the file of a message (decrypted in encrypted rooms)")
    p.add_argument("mxc", metavar="MXC|ROOM", help="an mxc:// URI, or the room of EVENT")
    p.add_argument("event", nargs="?", metavar="EVENT",
                   help="the event ID of a file message in ROOM (needed for encrypted files: the key is in the event)")
    p.add_argument("-o", "--output",
                   help="file to write ('-' for stdout); default: the file name the server gives (else the media ID), in this directory or the one given")
    p.set_defaults(func=download)

    p = sub.add_parser("history", help="show a room's recent messages")
    p.add_argument("room")
    p.add_argument("-n", type=int, default=20, help="how many messages (default 20)")
    p.set_defaults(func=history)

    p = sub.add_parser("tail", help="follow new messages in a room")
    p.add_argument("room")
    p.add_argument("--count", type=int, help="exit after this many messages")
    p.add_argument("--timeout", type=float, help="exit after this many seconds")
    p.set_defaults(func=tail)


async def send(ctx: Context, args: argparse.Namespace) -> int:
    client = await ctx.encrypted_client()
    text = sys.stdin.read().rstrip("\n") if args.text == "-" else args.text
    if not text:
        raise CliError(ExitCode.USAGE, "nothing to send")
    if args.room.startswith("@"):
        room_id = await _direct_room(ctx, args.room)
    else:
        room_id = await resolve_room(ctx, args.room)
    msgtype = "m.notice" if args.notice else "m.emote" if args.emote else "m.text"
    body = content.reply(args.reply_to, text, msgtype) if args.reply_to else content.text(text, msgtype)
    try:
        event_id = await client.send_event(room_id, "m.room.message", body)
    except UnsupportedAlgorithmError:
        raise
    except EncryptionUnavailableError:
        raise CliError(ExitCode.ERROR, f"{args.room} is end-to-end encrypted and this device has no encryption keys loaded") from None
    ctx.out.emit({"room_id": room_id, "event_id": event_id}, event_id)
    return ExitCode.OK


async def _direct_room(ctx: Context, reference: str) -> str:
    """The DM room with a user, created (a friend request) when there is none yet."""
    client = ctx.logged_in_client()
    user_id = user_id_for(ctx, reference)
    await ctx.synced_state()
    try:
        return await client.add_friend(user_id)
    except MatrixRequestError as e:
        if e.errcode == "M_NOT_FOUND":
            raise CliError(ExitCode.NOT_FOUND, f"no such user: {user_id}") from None
        if e.errcode == "M_INVALID_PARAM":
            raise CliError(ExitCode.USAGE, e.message) from None
        raise


async def upload(ctx: Context, args: argparse.Namespace) -> int:
    client = await ctx.encrypted_client()
    path = Path(args.file)
    if not await asyncio.to_thread(path.is_file):
        raise CliError(ExitCode.NOT_FOUND, f"no such file: {path}")
    room_id = await resolve_room(ctx, args.room)
    encrypted = await client.room_is_encrypted(room_id)
    event_id, uri = await client.send_file(room_id, path)
    ctx.out.emit({"room_id": room_id, "event_id": event_id, "content_uri": uri, "encrypted": encrypted},
                 f"{uri}\n{event_id}" + (f"\nencrypted: parley download {room_id} '{event_id}'" if encrypted else ""))
    return ExitCode.OK


async def download(ctx: Context, args: argparse.Namespace) -> int:
    if args.event is not None:
        return await _download_event_file(ctx, args)
    client = ctx.logged_in_client()
    try:
        _, media_id = api.parse_mxc(args.mxc)
    except ValueError as e:
        raise CliError(ExitCode.USAGE, f"{e} (or give a ROOM and the EVENT of a file message)") from None
    data, content_type, filename = await client.download_named(args.mxc)
    await _save(ctx, args, data, content_type, filename or media_id)
    return ExitCode.OK


async def _download_event_file(ctx: Context, args: argparse.Namespace) -> int:
    """The file of a message: fetched, decrypted (the event, then the file) and saved."""
    client = await ctx.encrypted_client()
    room_id = await resolve_room(ctx, args.mxc)
    with not_found_as(f"no event {args.event} in {args.mxc}"):
        event = await client.request(api.room_get_event(room_id, args.event))
    if event.get("type") == "m.room.encrypted":
        await ctx.synced_state()  # the room key may be waiting as a to-device message
        event = await client.crypto.decrypt(room_id, event)
        if event.get("type") == "m.room.encrypted":
            reason = event.get(UNDECRYPTABLE) or "no key"
            raise CliError(ExitCode.ERROR, f"cannot decrypt {args.event}: {reason}")
    body: dict[str, Any] = event["content"] if isinstance(event.get("content"), dict) else {}
    source = media.media_source(body)
    if source is None:
        raise CliError(ExitCode.NOT_FOUND, f"{args.event} is not a file message")
    try:
        data = await client.download_media(source)
    except AttachmentHashMismatchError:
        raise CliError(ExitCode.ERROR, (
            f"the file of {args.event} does not match the SHA-256 hash in the message: it was altered "
            "on the server or on the way; refusing to decrypt it, nothing was saved"
        )) from None
    except AttachmentError as e:
        raise CliError(ExitCode.ERROR, f"cannot decrypt the file of {args.event}: {e}") from None
    info: dict[str, Any] = body["info"] if isinstance(body.get("info"), dict) else {}
    mimetype = str(info.get("mimetype") or "application/octet-stream")
    raw_name = body.get("filename") or body.get("body")
    name = media.safe_filename(str(raw_name)) if raw_name else None  # the sender chose it: no paths
    await _save(ctx, args, data, mimetype, name or api.parse_mxc(source.url)[1])
    return ExitCode.OK


async def _save(ctx: Context, args: argparse.Namespace, data: bytes, content_type: str, name: str) -> None:
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    # The name is reduced to a bare file name (no directories), so it lands here.
    target = Path(args.output or name)
    if args.output and await asyncio.to_thread(target.is_dir):
        target = target / name
    await asyncio.to_thread(target.write_bytes, data)
    ctx.out.emit({"path": str(target), "size": len(data), "content_type": content_type},
                 f"Saved {len(data)} bytes ({content_type}) to {target}")


async def history(ctx: Context, args: argparse.Namespace) -> int:
    if args.n < 1:
        raise CliError(ExitCode.USAGE, "-n must be at least 1")
    client = await ctx.encrypted_client()
    room_id = await resolve_room(ctx, args.room)
    state = await ctx.synced_state()  # also receives room keys waiting as to-device messages
    room = state.rooms.get(room_id)
    page = await client.request(api.room_messages(room_id, limit=args.n, filter=MESSAGE_FILTER))
    chunk = [
        await client.crypto.decrypt(room_id, e) if e.get("type") == "m.room.encrypted" else e
        for e in page.get("chunk", [])
    ]
    undecryptable = sum(1 for e in chunk if e.get("type") == "m.room.encrypted")
    if undecryptable:
        sys.stderr.write(f"parley: {undecryptable} encrypted message(s) could not be decrypted (no key)\n")
    events = [e for e in chunk if e.get("type") == "m.room.message"]
    events.reverse()  # oldest first, as a conversation reads
    records = [message_record(e, room_id) for e in events]
    ctx.out.emit(records, lambda: "\n".join(format_message(e, room) for e in events))
    return ExitCode.OK


async def tail(ctx: Context, args: argparse.Namespace) -> int:
    client = await ctx.encrypted_client()
    room_id = await resolve_room(ctx, args.room)
    await ctx.synced_state()  # the position to follow from, and member names
    assert client.state is not None
    room = client.state.room(room_id)
    seen = 0
    done = asyncio.Event()

    def on_message(msg_room: object, event: dict[str, object]) -> None:
        nonlocal seen
        if getattr(msg_room, "room_id", None) != room_id or done.is_set():
            return
        seen += 1
        ctx.out.line(message_record(event, room_id), format_message(event, room))  # type: ignore[arg-type]
        if args.count is not None and seen >= args.count:
            done.set()

    client.callbacks.on_message(on_message)
    if ctx.crypto is not None:
        # Messages whose room key came late are shown once they decrypt.
        ctx.crypto.late_decryption_handlers.append(
            lambda late_room_id, event: (
                on_message(client.state.room(late_room_id), event)  # type: ignore[union-attr]
                if event.get("type") == "m.room.message" else None
            )
        )
    # On stderr, so scripts reading stdout see only messages but can wait for this line.
    sys.stderr.write(f"Following {room.display_name} ({room_id})\n")
    sys.stderr.flush()
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    loop = asyncio.create_task(client.sync_forever(timeout_ms=10_000, stop=done))
    try:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        await asyncio.wait_for(asyncio.shield(loop), remaining)
    except TimeoutError:
        done.set()
        await loop
        if args.count is not None and seen < args.count:
            return ExitCode.ERROR  # the script asked for more messages than arrived
    return ExitCode.OK
