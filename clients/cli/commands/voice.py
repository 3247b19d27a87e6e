"""voice: join a room's voice channel, show who is there and who speaks (docs/voice.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from typing import Any

from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack

from clients.cli.errors import CliError, ExitCode
from clients.cli.session import Context, resolve_room
from clients.voice._focus_audio import WavRecorder
from clients.voice.audio import (
    AudioSink,
    AudioSource,
    AudioUnavailableError,
    TrackSource,
    device_sink,
    device_source,
    file_source,
    tone_source,
)
from clients.voice.room import (
    HOST_ADDRESSES_ENV,
    FocusConnection,
    FocusError,
    VoiceRoom,
    restrict_host_addresses,
)

log = logging.getLogger(__name__)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("voice", help="join a room's voice channel (Ctrl-C leaves)")
    p.add_argument("room", help="room ID, alias or name")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--tone", type=float, metavar="HZ", help="send a sine tone instead of the microphone")
    source.add_argument("--play", metavar="FILE", help="send an audio file")
    p.add_argument("--record", metavar="FILE.wav",
                   help="write what you hear to a WAV file (instead of the speaker)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="leave after this long")
    p.add_argument("--muted", action="store_true", help="join muted")
    p.set_defaults(func=voice)


def _source(ctx: Context, args: argparse.Namespace) -> AudioSource:
    try:
        if args.tone is not None:
            return tone_source(args.tone)
        if args.play is not None:
            return file_source(args.play)
    except (ValueError, FileNotFoundError, AudioUnavailableError) as e:
        raise CliError(ExitCode.ERROR, str(e)) from None
    try:
        return device_source()
    except AudioUnavailableError as e:
        # Listening still works: silence keeps the session alive.
        ctx.out.line({"microphone": None, "reason": str(e)}, f"{e}: sending silence")
        return TrackSource(AudioStreamTrack())


def _speaker(ctx: Context) -> AudioSink | None:
    """The default speaker, or None (said once) when there is none."""
    try:
        return device_sink()
    except AudioUnavailableError as e:
        ctx.out.line({"speaker": None, "reason": str(e)}, f"{e}: you will not hear the channel")
        return None


def _describe(roster: list[dict[str, Any]]) -> str:
    people = [e["user_id"] + (" (muted)" if e.get("muted") else "") for e in roster]
    speaking = [e["user_id"] for e in roster if e.get("speaking")]
    text = "in the channel: " + (", ".join(people) or "nobody")
    return text + ("; speaking: " + ", ".join(speaking) if speaking else "")


async def voice(ctx: Context, args: argparse.Namespace) -> int:
    if HOST_ADDRESSES_ENV in os.environ:
        restrict_host_addresses(os.environ[HOST_ADDRESSES_ENV].split(","))
    client = ctx.logged_in_client()
    room_id = await resolve_room(ctx, args.room)
    recorder = WavRecorder(args.record) if args.record else None
    speaker = None if recorder else _speaker(ctx)
    speaker_started: list[asyncio.Task[None]] = []

    def play(track: MediaStreamTrack) -> None:
        assert speaker is not None
        if not speaker_started:
            speaker.addTrack(track)
            speaker_started.append(asyncio.get_running_loop().create_task(speaker.start()))

    on_track = recorder.start if recorder else play if speaker else None
    last: list[str] = []

    def on_roster(roster: list[dict[str, Any]]) -> None:
        line = _describe(roster)
        if [line] != last:
            last[:] = [line]
            ctx.out.line({"room_id": room_id, "participants": roster}, line)

    source = _source(ctx, args)

    def connection(focus_url: str) -> FocusConnection:
        return FocusConnection(focus_url, room_id, source.track,
                               on_track=on_track, on_roster=on_roster)

    room = VoiceRoom(client, room_id, connection)
    try:
        conn = await room.join(now_ms=int(time.time() * 1000))
    except FocusError as e:
        raise CliError(ExitCode.ERROR, f"could not join the voice channel: {e}") from None
    try:
        if args.muted:
            await conn.set_muted(True)
        waits = [asyncio.ensure_future(conn.closed.wait())]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.duration):
                await asyncio.wait(waits)
        if conn.closed.is_set():
            ctx.out.line({"room_id": room_id, "disconnected": True}, "disconnected from the voice channel")
        for w in waits:
            w.cancel()
    finally:  # also on Ctrl-C (the run is cancelled)
        await room.leave()
        if recorder is not None:
            await recorder.stop()
        if speaker is not None:
            await speaker.stop()
        source.close()
        ctx.out.line({"room_id": room_id, "left": True}, "left the voice channel")
    return ExitCode.OK
