"""voice: participants in one room's voice channel, through the server's media focus.

For each N in ``--participants`` this registers N users, joins them to a fresh room whose
power levels let members publish call member events, and connects N WebRTC participants
(aiortc, in this process) to the focus, each sending a tone. After ``--warmup`` seconds it
measures for ``--duration`` seconds:

- server CPU per participant (needs ``--server-pid``), as % of one core;
- delivered audio: frames each participant received / frames expected (50 per second),
  the worst participant's ratio (a dropout shows as < ~0.95);
- mouth-to-ear latency: participant 0 sends a 40 ms click once a second, participant 1
  timestamps the decoded frame where it appears; both in this process, so one clock.

The clients' Opus encode/decode run in this process too: on a shared machine the client
side costs about as much CPU as the server, so the server figures are the ones to read.
Loopback only (ICE host candidates restricted to 127.0.0.1 on the client side).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import time
from fractions import Fraction

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from bench import api
from bench.http import HomeserverClient, path_segment
from bench.population import Target, join_all, register_users, scenario_client
from bench.process import cpu_seconds
from bench.report import ScenarioResult
from clients.voice.audio import ToneTrack
from clients.voice.room import CALL_MEMBER_TYPE, FocusConnection, restrict_host_addresses

log = logging.getLogger("bench.voice")

SAMPLE_RATE = 48_000
FRAME = 960
CLICK_THRESHOLD = 5000.0  # peak amplitude that marks a click (the tones underneath stay far below)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--participants", default="5,10,20",
                        help="comma-separated participant counts, one room each (default 5,10,20)")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per count (default 15)")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds after joining before measuring")


class ClickTrack(MediaStreamTrack):
    """Silence with a 40 ms 1 kHz click at the start of every second; remembers when each left."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._pts = 0
        self.clicks_sent: list[float] = []

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        in_second = self._pts % SAMPLE_RATE
        samples = np.zeros(FRAME, dtype=np.int16)
        if in_second < 2 * FRAME:
            t = (np.arange(FRAME) + self._pts) / SAMPLE_RATE
            samples = (0.5 * 32767 * np.sin(2 * math.pi * 1000 * t)).astype(np.int16)
            if in_second == 0:
                self.clicks_sent.append(time.monotonic())
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._pts += FRAME
        return frame


class Ear:
    """Counts received frames; with ``listen_for_clicks``, timestamps click onsets."""

    def __init__(self, listen_for_clicks: bool) -> None:
        self.frames = 0
        self.listen_for_clicks = listen_for_clicks
        self.onsets: list[float] = []
        self._in_click = False
        self._task: asyncio.Task[None] | None = None

    def start(self, track: MediaStreamTrack) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(track), name="bench-voice-ear")

    async def _run(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.frames += 1
            if self.listen_for_clicks and isinstance(frame, AudioFrame):
                loud = float(np.abs(frame.to_ndarray()).max()) > CLICK_THRESHOLD
                if loud and not self._in_click:
                    self.onsets.append(time.monotonic())
                self._in_click = loud

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def latencies_ms(sent: list[float], onsets: list[float]) -> list[float]:
    """Each onset matched to the latest click sent before it (clicks are 1 s apart)."""
    out = []
    for onset in onsets:
        before = [s for s in sent if s <= onset]
        if before and onset - before[-1] < 0.9:
            out.append((onset - before[-1]) * 1000.0)
    return out


async def open_room(client: HomeserverClient, owner: api.Account, name: str) -> str:
    room_id = await api.create_room(client, owner, name)
    path = f"/_matrix/client/v3/rooms/{path_segment(room_id)}/state/m.room.power_levels"
    levels = await client.request("GET", path, access_token=owner.access_token)
    levels.setdefault("events", {})[CALL_MEMBER_TYPE] = 0
    await client.request("PUT", path, access_token=owner.access_token, body=levels)
    return room_id


async def run(args: argparse.Namespace, target: Target) -> ScenarioResult:
    restrict_host_addresses(["127.0.0.1"])
    counts = [int(p) for p in args.participants.split(",") if p.strip()]
    if not counts or min(counts) < 2:
        raise ValueError("--participants needs counts of at least 2")
    result = ScenarioResult("voice", params={"participants": args.participants, "duration_s": args.duration})
    async with scenario_client(target) as client:
        for n in counts:
            users = await register_users(client, target, n, f"voice{n}")
            room_id = await open_room(client, users[0], f"bench voice {n}")
            await join_all(client, target, [(u, room_id) for u in users[1:]])
            clicks = ClickTrack()
            ears = [Ear(listen_for_clicks=(i == 1)) for i in range(n)]
            conns = []
            try:
                for i, user in enumerate(users):
                    source = clicks if i == 0 else ToneTrack(200.0 + 37.0 * i, amplitude=0.01)
                    conn = FocusConnection(target.base_url, room_id, source, on_track=ears[i].start)
                    conns.append(conn)
                    await conn.join(user.device_id, access_token=user.access_token)
                await asyncio.sleep(args.warmup)  # settle: ICE, DTLS, jitter buffers
                frames_before = [e.frames for e in ears]
                onsets_before = len(ears[1].onsets)
                cpu_before = cpu_seconds(target.server_pid)
                started = time.monotonic()
                await asyncio.sleep(args.duration)  # the measured window
                elapsed = time.monotonic() - started
                cpu_after = cpu_seconds(target.server_pid)
                ratios = [(e.frames - b) / (elapsed * 50.0) for e, b in zip(ears, frames_before, strict=True)]
                result.add(f"n{n}_worst_delivery", round(min(ratios), 3), "", headline=True)
                result.add(f"n{n}_mean_delivery", round(sum(ratios) / n, 3))
                if cpu_before is not None and cpu_after is not None:
                    core = (cpu_after - cpu_before) / elapsed
                    result.add(f"n{n}_server_core_pct", round(100 * core, 1), "%")
                    result.add(f"n{n}_server_pct_per_participant", round(100 * core / n, 2), "%", headline=True)
                lat = sorted(latencies_ms(clicks.clicks_sent, ears[1].onsets[onsets_before:]))
                if lat:
                    result.add(f"n{n}_mouth_to_ear_p50", round(lat[len(lat) // 2], 1), "ms", headline=True)
                    result.add(f"n{n}_mouth_to_ear_max", round(lat[-1], 1), "ms")
            finally:
                for conn in conns:
                    await conn.leave()
                for ear in ears:
                    await ear.stop()
        result.absorb_client(client)
    return result
