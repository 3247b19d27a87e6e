"""The chat's own seat in one room's voice channel (docs/voice.md): `/voice`, `/voice leave`.

Audio goes out from the microphone (or a test tone) and comes in to the speaker. Without a
microphone the chat joins muted — listen-only — and says so; without a speaker it still
joins (others hear us) and says so. The session publishes and clears its MatrixRTC member
event through ``VoiceRoom``, like `parley voice`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable

from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack

from clients.sdk import AsyncClient
from clients.voice.audio import (
    AudioSink,
    AudioSource,
    AudioUnavailableError,
    TrackSource,
    device_sink,
    device_source,
    null_sink,
    tone_source,
)
from clients.voice.room import (
    HOST_ADDRESSES_ENV,
    FocusConnection,
    Roster,
    VoiceRoom,
    restrict_host_addresses,
)

log = logging.getLogger(__name__)

LEAVE_TIMEOUT_S = 10.0


class ChatVoice:
    """One session in `room_id`'s voice channel. `notices` collects what the user should be told."""

    def __init__(self, client: AsyncClient, room_id: str, *, tone: float | None,
                 on_change: Callable[[], None]) -> None:
        self.client = client
        self.room_id = room_id
        self.tone = tone
        self.on_change = on_change
        self.muted = False
        self.notices: list[str] = []
        self.roster: Roster = []
        self.connection: FocusConnection | None = None
        self._source: AudioSource | None = None
        self._sink: AudioSink | None = None
        self._room: VoiceRoom | None = None
        self._left = False

    def _open_source(self) -> AudioSource:
        if self.tone is not None:
            return tone_source(self.tone)
        try:
            return device_source()
        except AudioUnavailableError as e:
            # Listening still works: silence keeps the session alive, and muted the focus leaves it out.
            self.muted = True
            self.notices.append(f"{e}: joined muted (listen-only)")
            return TrackSource(AudioStreamTrack())

    def _open_sink(self) -> AudioSink:
        try:
            return device_sink()
        except AudioUnavailableError as e:
            self.notices.append(f"{e}: you will not hear the channel")
            return null_sink()

    def _on_track(self, track: MediaStreamTrack) -> None:
        assert self._sink is not None
        self._sink.addTrack(track)
        asyncio.get_running_loop().create_task(self._sink.start())

    def _on_roster(self, roster: Roster) -> None:
        self.roster = roster
        self.on_change()

    async def join(self) -> FocusConnection:
        if HOST_ADDRESSES_ENV in os.environ:
            restrict_host_addresses(os.environ[HOST_ADDRESSES_ENV].split(","))
        self._source = self._open_source()
        self._sink = self._open_sink()
        source = self._source

        def connection(focus_url: str) -> FocusConnection:
            return FocusConnection(focus_url, self.room_id, source.track,
                                   on_track=self._on_track, on_roster=self._on_roster)

        self._room = VoiceRoom(self.client, self.room_id, connection)
        try:
            conn = await self._room.join(now_ms=int(time.time() * 1000))
            self.connection = conn
            if self.muted:
                await conn.set_muted(True)
        except BaseException:
            await self._close_media()
            raise
        return conn

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.closed.is_set() and not self._left

    async def leave(self) -> None:
        """Leave the focus and empty our member event (also after the focus dropped us)."""
        if self._left:
            return
        self._left = True
        try:
            if self._room is not None:
                async with asyncio.timeout(LEAVE_TIMEOUT_S):
                    await self._room.leave()
        finally:
            await self._close_media()
            self.roster = []

    async def _close_media(self) -> None:
        if self._source is not None:
            self._source.close()
        if self._sink is not None:
            with contextlib.suppress(Exception):  # a sink never started has nothing to stop
                await self._sink.stop()
        if self.connection is not None:
            await self.connection.close()

