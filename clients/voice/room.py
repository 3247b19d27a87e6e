"""A participant in a room's voice channel: the client of a homeserver's media focus.

Protocol (docs/voice.md): the client publishes its MatrixRTC member event
(``org.matrix.msc3401.call.member``, state key ``_{user_id}_{device_id}``) through its own
homeserver, asks that homeserver for an OpenID token, and POSTs an SDP offer (one audio
track, one data channel) with the token to the focus named by the channel's oldest
membership (or its own homeserver's focus when the channel is empty). The focus answers
with the SDP answer and a ``participant_id`` for leave and mute; the data channel brings
the roster (who is there, muted, speaking).

So that a participant that crashes or loses its network leaves the channel, it schedules
its own leave (empty member content) with its homeserver as an MSC4140 delayed event
before joining, restarts that timer every few seconds while connected, and cancels it on a
clean leave: only its own homeserver can send its state events, whichever server it is on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from clients.sdk import MatrixRequestError, TransportError
from clients.sdk.api import Request, q
from clients.sdk.client import AsyncClient

log = logging.getLogger(__name__)

CALL_MEMBER_TYPE = "org.matrix.msc3401.call.member"
FOCUS_TYPE = "parley"
FOCUS_PREFIX = "/_parley/voice/v1/rooms/"
DEFAULT_EXPIRES_MS = 4 * 3600 * 1000  # MatrixRTC clients' default membership lifetime
# MSC4140: the delayed leave fires this long after the last restart, restarted this often.
LEAVE_DELAY_MS = 10_000
LEAVE_RESTART_S = 5.0
MSC4140 = "org.matrix.msc4140"
DELAYED_EVENTS = f"/_matrix/client/unstable/{MSC4140}/delayed_events"
HTTP_TIMEOUT_S = 20.0

Roster = list[dict[str, Any]]


def member_state_key(user_id: str, device_id: str) -> str:
    return f"_{user_id}_{device_id}"


def member_content(device_id: str, focus_url: str, expires_ms: int = DEFAULT_EXPIRES_MS) -> dict[str, Any]:
    """The MatrixRTC (MSC4143) member event of one device in a room's voice channel."""
    return {
        "application": "m.call",
        "call_id": "",
        "scope": "m.room",
        "device_id": device_id,
        "expires": expires_ms,
        "focus_active": {"type": FOCUS_TYPE, "focus_selection": "oldest_membership"},
        "foci_preferred": [{"type": FOCUS_TYPE, "focus_url": focus_url}],
    }


def channel_members(state: list[dict[str, Any]], now_ms: int) -> list[dict[str, Any]]:
    """The current member events (non-empty, unexpired) of the room's voice channel, oldest first."""
    members = []
    for ev in state:
        content = ev.get("content") or {}
        if ev.get("type") != CALL_MEMBER_TYPE or not content.get("device_id"):
            continue
        expires = content.get("expires")
        sent = ev.get("origin_server_ts", 0)
        if isinstance(expires, int) and isinstance(sent, int) and sent + expires < now_ms:
            continue
        members.append(ev)
    members.sort(key=lambda ev: ev.get("origin_server_ts", 0))
    return members


def choose_focus(members: list[dict[str, Any]], own_homeserver: str) -> str:
    """MatrixRTC "oldest_membership": the focus the first member uses, else our own server's."""
    for ev in members:
        for focus in ev["content"].get("foci_preferred") or []:
            if isinstance(focus, dict) and focus.get("type") == FOCUS_TYPE and isinstance(focus.get("focus_url"), str):
                return str(focus["focus_url"]).rstrip("/")
    return own_homeserver.rstrip("/")


async def request_openid_token(client: AsyncClient) -> dict[str, Any]:
    """spec: client-server-api/modules/openid.md, POST /user/{userId}/openid/request_token."""
    user_id = client.require_user_id()
    answer = await client.request(Request("POST", f"/_matrix/client/v3/user/{q(user_id)}/openid/request_token", json={}))
    return dict(answer)


class FocusError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        errcode = body.get("errcode") if isinstance(body, dict) else None
        message = body.get("error") if isinstance(body, dict) else str(body)
        super().__init__(f"focus answered {status} {errcode or ''}: {message}")
        self.status = status
        self.errcode = errcode


class FocusConnection:
    """One device's WebRTC session with a voice focus."""

    def __init__(
        self,
        focus_url: str,
        room_id: str,
        source: MediaStreamTrack,
        *,
        on_track: Callable[[MediaStreamTrack], None] | None = None,
        on_roster: Callable[[Roster], None] | None = None,
    ) -> None:
        self.focus_url = focus_url.rstrip("/")
        self.room_id = room_id
        self.source = source
        self.on_track = on_track
        self.on_roster = on_roster
        self.roster: Roster = []
        self.participant_id: str | None = None
        self.closed = asyncio.Event()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S))

    def _url(self, action: str) -> str:
        return f"{self.focus_url}{FOCUS_PREFIX}{quote(self.room_id, safe='')}/{action}"

    async def _post(self, action: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        async with self._http.post(self._url(action), json=body, headers=headers or {}) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise FocusError(resp.status, data)
            return data

    async def join(
        self, device_id: str, *, openid_token: dict[str, Any] | None = None, access_token: str | None = None
    ) -> None:
        pc = self.pc
        pc.addTrack(self.source)
        roster_channel = pc.createDataChannel("parley-focus")

        @roster_channel.on("message")
        def on_message(message: str | bytes) -> None:
            try:
                data = json.loads(message)
            except ValueError:
                log.warning("focus sent a message that is not JSON")
                return
            if isinstance(data, dict) and data.get("type") == "roster":
                self.roster = list(data.get("participants") or [])
                if self.on_roster is not None:
                    self.on_roster(self.roster)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if self.on_track is not None and track.kind == "audio":
                self.on_track(track)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self.closed.set()

        await pc.setLocalDescription(await pc.createOffer())
        body: dict[str, Any] = {"device_id": device_id, "sdp": pc.localDescription.sdp}
        headers = {}
        if openid_token is not None:
            body["openid_token"] = openid_token
        elif access_token is not None:
            headers["Authorization"] = f"Bearer {access_token}"
        try:
            answer = await self._post("join", body, headers)
        except BaseException:
            await self.close()
            raise
        self.participant_id = str(answer["participant_id"])
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

    async def set_muted(self, muted: bool) -> None:
        assert self.participant_id is not None
        await self._post("mute", {"participant_id": self.participant_id, "muted": muted})

    async def leave(self) -> None:
        try:
            if self.participant_id is not None and not self.closed.is_set():
                await self._post("leave", {"participant_id": self.participant_id})
        finally:
            await self.close()

    async def close(self) -> None:
        await self.pc.close()
        self.closed.set()
        await self._http.close()


async def supports_delayed_events(client: AsyncClient) -> bool:
    """Whether the homeserver advertises MSC4140; a server without it would send the event now."""
    answer = await client.request(Request("GET", "/_matrix/client/versions", requires_auth=False))
    return bool(answer.get("unstable_features", {}).get(MSC4140))


class VoiceRoom:
    """Joins a room's voice channel as the logged-in user: member state, token, focus session."""

    def __init__(
        self, client: AsyncClient, room_id: str, connection_factory: Callable[[str], FocusConnection], *,
        leave_delay_ms: int = LEAVE_DELAY_MS, leave_restart_s: float = LEAVE_RESTART_S,
    ) -> None:
        self.client = client
        self.room_id = room_id
        self._factory = connection_factory
        self.connection: FocusConnection | None = None
        self.leave_delay_ms = leave_delay_ms
        self.leave_restart_s = leave_restart_s
        # The scheduled leave (MSC4140) and the task that restarts it while connected.
        self.delayed_leave_id: str | None = None
        self._keep_alive: asyncio.Task[None] | None = None

    async def join(self, *, now_ms: int) -> FocusConnection:
        state = await self.client.get_room_state(self.room_id)
        focus_url = choose_focus(channel_members(state, now_ms), self.client.homeserver)
        user_id, device_id = self.client.require_user_id(), self.client.device_id
        assert device_id is not None
        connection = self._factory(focus_url)
        try:
            token: dict[str, Any] | None = await request_openid_token(self.client)
        except MatrixRequestError as e:
            # A homeserver without the OpenID API: only its own focus can vouch for us.
            if e.status not in (404, 405) or focus_url != self.client.homeserver.rstrip("/"):
                raise
            token = None
        await connection.join(device_id, openid_token=token,
                              access_token=None if token is not None else self.client.access_token)
        self.connection = connection
        # Leave first scheduled, then join (as Element Call): no moment in the call without it.
        await self._schedule_leave(member_state_key(user_id, device_id))
        await self.client.send_state(
            self.room_id, CALL_MEMBER_TYPE, member_content(device_id, focus_url), member_state_key(user_id, device_id)
        )
        if self.delayed_leave_id is not None:
            self._keep_alive = asyncio.get_running_loop().create_task(
                self._restart_leave(self.delayed_leave_id, connection), name=f"voice-delayed-leave {self.room_id}"
            )
        return connection

    async def _schedule_leave(self, state_key: str) -> None:
        try:
            if not await supports_delayed_events(self.client):
                log.info("voice: the homeserver has no delayed events; a crash leaves our membership behind")
                return
            path = f"/_matrix/client/v3/rooms/{q(self.room_id)}/state/{q(CALL_MEMBER_TYPE)}/{q(state_key)}"
            answer = await self.client.request(
                Request("PUT", path, query={f"{MSC4140}.delay": str(self.leave_delay_ms)}, json={})
            )
        except MatrixRequestError as e:
            log.warning("voice: could not schedule the delayed leave in %s: %s", self.room_id, e)
            return
        self.delayed_leave_id = str(answer["delay_id"])

    async def _restart_leave(self, delay_id: str, connection: FocusConnection) -> None:
        """Restart the delayed leave every ``leave_restart_s`` until the focus connection closes."""
        while True:
            try:
                await asyncio.wait_for(connection.closed.wait(), self.leave_restart_s)
                return  # disconnected: the delayed leave fires on its own
            except TimeoutError:
                pass
            try:
                await self.client.request(
                    Request("POST", f"{DELAYED_EVENTS}/{q(delay_id)}", json={"action": "restart"})
                )
            except MatrixRequestError as e:
                if e.status == 404:
                    log.info("voice: the delayed leave in %s is gone (sent or cancelled)", self.room_id)
                    return
                log.warning("voice: restarting the delayed leave in %s failed: %s", self.room_id, e)
            except TransportError as e:
                log.warning("voice: restarting the delayed leave in %s failed: %s", self.room_id, e)

    async def _cancel_leave(self) -> None:
        if self._keep_alive is not None:
            self._keep_alive.cancel()
            try:
                await self._keep_alive
            except asyncio.CancelledError:
                pass
            self._keep_alive = None
        delay_id, self.delayed_leave_id = self.delayed_leave_id, None
        if delay_id is None:
            return
        try:
            await self.client.request(Request("POST", f"{DELAYED_EVENTS}/{q(delay_id)}", json={"action": "cancel"}))
        except MatrixRequestError as e:
            if e.status != 404:  # 404: it already fired or was cancelled
                log.warning("voice: cancelling the delayed leave in %s failed: %s", self.room_id, e)

    async def leave(self) -> None:
        user_id, device_id = self.client.require_user_id(), self.client.device_id
        assert device_id is not None
        try:
            await self._cancel_leave()
            if self.connection is not None:
                await self.connection.leave()
        finally:
            await self.client.send_state(self.room_id, CALL_MEMBER_TYPE, {}, member_state_key(user_id, device_id))


HOST_ADDRESSES_ENV = "PARLEY_VOICE_HOST_ADDRESSES"


def restrict_host_addresses(addresses: list[str]) -> None:
    """Offer ICE host candidates on these addresses only (aioice otherwise offers every interface).

    For multi-homed machines and for loopback-only tests (``PARLEY_VOICE_HOST_ADDRESSES=127.0.0.1``).
    """
    import aioice.ice

    chosen = list(addresses)
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: chosen  # type: ignore[assignment]
