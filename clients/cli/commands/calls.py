"""call, answer, hangup: 1:1 voice calls from the terminal (spec: "Voice over IP").

Audio comes from the default microphone, a file (``--play``) or a test tone (``--tone``)
and goes to the default speaker or a WAV file (``--record``), so calls work headless.
Status lines go to stderr; the outcome is printed on stdout when the call ends.
A call stays until the other side hangs up, Ctrl-C (or SIGTERM), ``--duration`` seconds
after it connected, or ``parley hangup`` from another terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clients.cli.errors import CliError, ExitCode
from clients.cli.literal import one_line
from clients.cli.session import Context, resolve_room

if TYPE_CHECKING:  # aiortc, PyAV and numpy load only when a call command runs
    from clients.sdk import AsyncClient
    from clients.sdk.calls import CallHandle, CallManager
    from clients.voice.audio import AudioSink, AudioSource

SYNC_TIMEOUT_MS = 10_000
DEFAULT_ANSWER_WAIT = 90.0


def _audio_options(p: argparse.ArgumentParser) -> None:
    send = p.add_mutually_exclusive_group()
    send.add_argument("--tone", type=float, metavar="HZ", help="send a sine tone instead of the microphone")
    send.add_argument("--play", metavar="FILE", help="send an audio file (WAV, OGG, MP3) instead of the microphone")
    p.add_argument("--record", metavar="FILE.wav", help="write what you hear to a WAV file instead of the speaker")
    p.add_argument("--duration", type=float, metavar="S", help="hang up S seconds after the call connects")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("call", help="call someone: a room (ID, alias or name) or @user (your direct chat)")
    p.add_argument("target")
    _audio_options(p)
    p.set_defaults(func=call)

    p = sub.add_parser("answer", help="answer the ringing call (waits for one)")
    p.add_argument("room", nargs="?", help="only a call in this room")
    _audio_options(p)
    p.add_argument("--wait", type=float, default=DEFAULT_ANSWER_WAIT, metavar="S",
                   help=f"give up when nothing rings within S seconds (default {DEFAULT_ANSWER_WAIT:g})")
    p.set_defaults(func=answer)

    p = sub.add_parser("hangup", help="end the open call (or decline the ringing one) in a room")
    p.add_argument("room", nargs="?", help="the call's room (default: the only open call)")
    p.set_defaults(func=hangup)


def status(text: str) -> None:
    """Progress for people, on stderr (stdout carries the outcome)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


# --- audio --------------------------------------------------------------------------------
def _source(args: argparse.Namespace) -> AudioSource:
    from clients.voice.audio import AudioUnavailableError, device_source, file_source, tone_source

    try:
        if args.tone is not None:
            return tone_source(args.tone)
        if args.play is not None:
            return file_source(Path(args.play))
        return device_source()
    except ValueError as e:
        raise CliError(ExitCode.USAGE, str(e)) from None
    except FileNotFoundError as e:
        raise CliError(ExitCode.NOT_FOUND, str(e)) from None
    except AudioUnavailableError as e:
        raise CliError(ExitCode.ERROR, f"{e}; send a tone (--tone HZ) or a file (--play FILE) instead") from None


def _sink(args: argparse.Namespace) -> AudioSink:
    from clients.voice.audio import AudioUnavailableError, device_sink, null_sink, wav_sink

    if args.record is not None:
        target = Path(args.record)
        if not target.parent.is_dir():
            raise CliError(ExitCode.NOT_FOUND, f"no such directory: {target.parent}")
        return wav_sink(target)
    try:
        return device_sink()
    except AudioUnavailableError as e:
        status(f"{e}: you will not hear the other side (use --record FILE.wav)")
        return null_sink()


def _check_duration(args: argparse.Namespace) -> None:
    if args.duration is not None and args.duration <= 0:
        raise CliError(ExitCode.USAGE, "--duration must be positive")


# --- staying in a call ------------------------------------------------------------------------
def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread / not Unix
            pass


async def _first(*events: asyncio.Event, timeout: float | None = None) -> None:
    tasks = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def _stay(manager: CallManager, handle: CallHandle, stop: asyncio.Event,
                duration: float | None) -> tuple[bool, float]:
    """Until the call ends, `stop` is set or `duration` after connecting; (connected, seconds)."""
    connected = False
    while not handle.ended.is_set() and not stop.is_set():
        peer = handle.peer
        if peer is None:  # between the calls of a glare swap
            await _first(handle.ended, stop, timeout=0.1)
            continue
        await _first(handle.ended, stop, peer.connected, peer.failed)
        if handle.ended.is_set() or stop.is_set() or handle.peer is not peer:
            continue
        if peer.connected.is_set():
            connected = True
            break
        await manager.hangup(handle, "ice_failed")
    started = time.monotonic()
    if connected:
        status("Connected")
        await _first(handle.ended, stop, timeout=duration)
    if not handle.ended.is_set():
        await manager.hangup(handle)
    return connected, (time.monotonic() - started) if connected else 0.0


async def _run_call(ctx: Context, client: AsyncClient, manager: CallManager, handle: CallHandle,
                    stop: asyncio.Event, duration: float | None) -> int:
    connected, seconds = await _stay(manager, handle, stop, duration)
    reason = handle.end_reason or "user_hangup"
    who = "them" if handle.call.ended_by_remote else "you"
    record: dict[str, Any] = {
        "room_id": handle.room_id, "call_id": handle.call_id, "connected": connected,
        "seconds": round(seconds, 1), "end_reason": reason, "ended_by_remote": handle.call.ended_by_remote,
    }
    text = f"Call ended ({one_line(reason)}, by {who})" + (f" after {seconds:.0f}s" if connected else "")
    ctx.out.emit(record, text)
    if not connected and reason in ("rejected", "invite_timeout", "answered_elsewhere", "ice_failed"):
        return ExitCode.ERROR
    return ExitCode.OK


class _Syncing:
    """The client's sync loop as an owned task for the length of a command."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _Syncing:
        self.task = asyncio.create_task(self.client.sync_forever(SYNC_TIMEOUT_MS, stop=self.stop),
                                        name="parley-call-sync")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task


# --- commands -----------------------------------------------------------------------------------
async def _call_target(ctx: Context, client: AsyncClient, target: str) -> tuple[str, str | None]:
    """(room ID, invitee): a user's direct chat (accepting their pending request) or a room."""
    if not target.startswith("@"):
        return await resolve_room(ctx, target), None
    if ":" not in target:
        raise CliError(ExitCode.USAGE, "give a full user ID, e.g. @bob:example.org")
    await ctx.synced_state()
    for friend in client.friends():
        if friend.user_id == target and friend.status in ("contact", "outgoing"):
            return friend.room_id, target
        if friend.user_id == target and friend.status == "incoming":
            return await client.accept_friend(target), target
    raise CliError(ExitCode.NOT_FOUND, f"no direct chat with {target}: run `parley friends add {target}` first")


async def call(ctx: Context, args: argparse.Namespace) -> int:
    from clients.sdk.calls import CallManager

    _check_duration(args)
    client = await ctx.encrypted_client()
    room_id, invitee = await _call_target(ctx, client, args.target)
    state = await ctx.synced_state()
    room = state.rooms.get(room_id)
    if room is not None and len(room.joined_members) > 2:
        status("Note: this room has more than two members; any of them could answer")
    source = _source(args)
    sink = _sink(args)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    manager = CallManager(client)
    try:
        async with _Syncing(client):
            handle = await manager.place_call(room_id, source, sink, invitee=invitee)
            name = one_line(room.display_name) if room is not None else room_id
            status(f"Calling {name} ({room_id}); Ctrl-C hangs up")
            return await _run_call(ctx, client, manager, handle, stop, args.duration)
    finally:
        await manager.close()


async def answer(ctx: Context, args: argparse.Namespace) -> int:
    from clients.sdk.calls import CallManager

    _check_duration(args)
    client = await ctx.encrypted_client()
    manager = CallManager(client)  # before the first sync, so a call already ringing is seen
    room_id = await resolve_room(ctx, args.room) if args.room else None
    source = _source(args)
    sink = _sink(args)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    try:
        async with _Syncing(client):
            status("Waiting for a call…" + (f" in {room_id}" if room_id else ""))
            waiting = asyncio.create_task(manager.wait_for_ringing(room_id, args.wait))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not waiting.done():
                waiting.cancel()
                source.close()
                return ExitCode.OK
            try:
                handle = waiting.result()
            except TimeoutError:
                source.close()
                raise CliError(ExitCode.NOT_FOUND, f"no call rang within {args.wait:g}s") from None
            assert client.state is not None
            room = client.state.rooms.get(handle.room_id)
            caller = room.member_name(handle.caller) if room is not None and handle.caller else handle.caller
            status(f"Answering {one_line(caller)} in {one_line(room.display_name) if room else handle.room_id}")
            await manager.answer(handle, source, sink)
            return await _run_call(ctx, client, manager, handle, stop, args.duration)
    finally:
        await manager.close()


async def hangup(ctx: Context, args: argparse.Namespace) -> int:
    from clients.sdk.calls import CallManager
    from clients.voice.call import end_observed

    client = await ctx.encrypted_client()
    manager = CallManager(client)
    room_id = await resolve_room(ctx, args.room) if args.room else None
    await ctx.synced_state()
    own = client.require_user_id()
    now = time.monotonic()
    candidates = [c for c in manager.log.open_calls(room_id, now) if end_observed(c, own) is not None]
    if not candidates:
        where = f" in {args.room}" if args.room else ""
        raise CliError(ExitCode.NOT_FOUND, f"no open call{where}")
    if room_id is None and len({c.room_id for c in candidates}) > 1:
        raise CliError(ExitCode.USAGE, "calls are open in several rooms; name the room")
    target = candidates[-1]
    ending = end_observed(target, own)
    assert ending is not None
    event_type, content = ending
    await client.send_event(target.room_id, event_type, content)
    verb = "Declined" if event_type == "m.call.reject" else "Hung up"
    ctx.out.emit({"room_id": target.room_id, "call_id": target.call_id, "sent": event_type},
                 f"{verb} the call in {target.room_id}")
    return ExitCode.OK

