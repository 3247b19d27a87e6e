"""``ClientCore``: session, requests with retries, the sync loop, and the plain endpoint
calls. Protocol logic lives in the sans-I/O modules (api, responses, state, content);
``clients.sdk.client.AsyncClient`` adds messaging, rooms, media and social calls on top."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from clients.sdk import api, responses
from clients.sdk.api import Request
from clients.sdk.backoff import Backoff
from clients.sdk.callbacks import Callbacks
from clients.sdk.encryption import EventCrypto, NoEncryption
from clients.sdk.errors import (
    MatrixRequestError,
    NotLoggedInError,
    TransportError,
    UnsupportedAuthFlowError,
)
from clients.sdk.responses import Response, Session
from clients.sdk.state import ClientState
from clients.sdk.store import MemorySyncStore, SyncStore
from clients.sdk.transport import HttpTransport

log = logging.getLogger(__name__)

T = TypeVar("T")

# UIA stages this client can complete on its own (spec: "Authentication types").
SUPPORTED_REGISTRATION_STAGES = {"m.login.dummy", "m.login.registration_token"}
DEFAULT_SYNC_TIMEOUT_MS = 30_000


class ClientCore:
    """One account on one homeserver: session, transport, sync loop and model."""

    def __init__(
        self,
        homeserver: str,
        *,
        store: SyncStore | None = None,
        transport: HttpTransport | None = None,
        crypto: EventCrypto | None = None,
        backoff: Backoff | None = None,
        send_retry_seconds: float = 120.0,
        sync_filter: dict[str, Any] | None = None,
        set_presence: str | None = None,
        device_name: str = "parley",
        use_refresh_tokens: bool = False,
    ) -> None:
        self.homeserver = homeserver.rstrip("/")
        self.transport = transport or HttpTransport(self.homeserver)
        self.store: SyncStore = store or MemorySyncStore()
        self.crypto: EventCrypto = crypto or NoEncryption()
        self.backoff = backoff or Backoff(initial=0.5, maximum=30.0, jitter=0.2)
        self.send_retry_seconds = send_retry_seconds
        self.sync_filter = sync_filter
        self.set_presence = set_presence
        self.device_name = device_name
        self.callbacks = Callbacks()
        self.user_id: str | None = None
        self.device_id: str | None = None
        self.state: ClientState | None = None
        # Opt-in: ask /login and /register for a refresh token, and refresh an expired
        # access token on the first soft logout (spec: "Refreshing access tokens").
        self.use_refresh_tokens = use_refresh_tokens
        self.refresh_token: str | None = None
        # Called with (access_token, refresh_token) after each refresh, to persist them.
        self.on_tokens_refreshed: Callable[[str, str | None], None] | None = None
        self._refresh_lock = asyncio.Lock()
        self._txn_counter = itertools.count()
        self._txn_prefix = f"p{time.time_ns():x}"
        # Signalled after every sync response is applied; waiters re-check their condition.
        self._synced = asyncio.Condition()

    # --- session ------------------------------------------------------------------------
    @property
    def access_token(self) -> str | None:
        return self.transport.access_token

    @property
    def logged_in(self) -> bool:
        return self.transport.access_token is not None and self.user_id is not None

    def restore_session(
        self, user_id: str, device_id: str, access_token: str, refresh_token: str | None = None
    ) -> None:
        """Use stored credentials (from an earlier login) instead of logging in."""
        self._start_session(Session(user_id, access_token, device_id, refresh_token))

    def _start_session(self, session: Session) -> None:
        self.transport.access_token = session.access_token
        self.refresh_token = session.refresh_token
        self.user_id = session.user_id
        self.device_id = session.device_id
        if self.state is None or self.state.user_id != session.user_id:
            self.state = ClientState(session.user_id)

    def require_user_id(self) -> str:
        if self.user_id is None:
            raise NotLoggedInError("not logged in")
        return self.user_id

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- requests -------------------------------------------------------------------------
    async def request(self, request: Request) -> Any:
        """Send once; the decoded JSON answer or MatrixRequestError / TransportError."""
        return responses.json_body(await self.send_raw(request))

    async def send_raw(self, request: Request) -> Response:
        """Send once and return the raw answer. With a refresh token, an access token the
        server reports expired (soft logout) is refreshed and the request sent once more."""
        sent_with = self.transport.access_token
        response = await self.transport.send(request)
        if request.requires_auth and self.refresh_token is not None and responses.is_soft_logout(response):
            await self._refresh_after_soft_logout(sent_with)
            response = await self.transport.send(request)
        return response

    async def _refresh_after_soft_logout(self, expired_token: str | None) -> None:
        async with self._refresh_lock:
            # Concurrent requests that failed with the same token refresh it only once.
            if self.transport.access_token == expired_token:
                await self.refresh_access_token()

    async def refresh_access_token(self) -> None:
        """POST /refresh: a new access token (and refresh token, which rotates).

        An M_UNKNOWN_TOKEN answer means the session is over: log in again.
        """
        if self.refresh_token is None:
            raise NotLoggedInError("no refresh token")
        tokens = responses.parse_refreshed_tokens(
            responses.json_body(await self.transport.send(api.refresh(self.refresh_token)))
        )
        self.transport.access_token = tokens.access_token
        if tokens.refresh_token is not None:
            self.refresh_token = tokens.refresh_token
        log.info("access token refreshed for %s", self.user_id)
        if self.on_tokens_refreshed is not None:
            self.on_tokens_refreshed(tokens.access_token, self.refresh_token)

    async def request_with_retry(self, request: Request, *, deadline: float | None = None) -> Any:
        """Send until answered, retrying connection failures, 5xx and 429 with backoff.

        Only for idempotent requests: a PUT with a transaction ID is, so a send
        retried after the server went away is stored once (spec: "Transaction identifiers").
        """
        give_up = time.monotonic() + (self.send_retry_seconds if deadline is None else deadline)
        for attempt in itertools.count():
            try:
                return await self.request(request)
            except TransportError:
                retry_after = None
                if time.monotonic() >= give_up:
                    raise
            except MatrixRequestError as e:
                if not e.is_transient or time.monotonic() >= give_up:
                    raise
                retry_after = e.retry_after_ms
            delay = self.backoff.delay(attempt, retry_after_ms=retry_after)
            delay = min(delay, max(0.0, give_up - time.monotonic()))
            log.info("retrying %s %s in %.1fs", request.method, request.path, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def new_txn_id(self) -> str:
        return f"{self._txn_prefix}.{next(self._txn_counter)}"

    # --- accounts ---------------------------------------------------------------------------
    async def register(
        self,
        username: str,
        password: str,
        *,
        registration_token: str | None = None,
        device_name: str | None = None,
    ) -> Session:
        """Register and log in, completing the user-interactive auth stages
        (m.login.dummy, m.login.registration_token) the server asks for."""
        name = device_name or self.device_name
        auth: dict[str, Any] | None = None
        supported = set(SUPPORTED_REGISTRATION_STAGES)
        if registration_token is None:
            supported.discard("m.login.registration_token")
        for _ in range(8):  # a flow has a handful of stages at most
            try:
                data = await self.request(
                    api.register(
                        username, password, auth=auth, device_name=name,
                        refresh_token=self.use_refresh_tokens,
                    )
                )
            except MatrixRequestError as e:
                challenge = responses.parse_auth_challenge(e)
                if challenge is None:
                    raise
                step = challenge.next_stage(supported)
                if step is None:
                    if challenge.errcode:
                        raise
                    raise UnsupportedAuthFlowError(challenge.flows) from e
                auth = {"type": step[1]}
                if challenge.session is not None:
                    auth["session"] = challenge.session
                if step[1] == "m.login.registration_token":
                    auth["token"] = registration_token
                continue
            session = responses.parse_session(data)
            self._start_session(session)
            return session
        raise MatrixRequestError(401, "M_UNAUTHORIZED", "registration auth did not complete")

    async def login(self, user: str, password: str, *, device_name: str | None = None) -> Session:
        data = await self.request(
            api.login_password(
                user, password, device_name=device_name or self.device_name,
                refresh_token=self.use_refresh_tokens,
            )
        )
        session = responses.parse_session(data)
        self._start_session(session)
        return session

    async def change_password(self, old_password: str, new_password: str, *, logout_devices: bool = False) -> None:
        """POST /account/password, completing its m.login.password stage with `old_password`."""
        user_id = self.require_user_id()
        try:
            await self.request(api.change_password(new_password, logout_devices=logout_devices))
            return
        except MatrixRequestError as e:
            challenge = responses.parse_auth_challenge(e)
            if challenge is None:
                raise
            session = challenge.session
        auth: dict[str, Any] = {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id},
            "password": old_password,
        }
        if session is not None:
            auth["session"] = session
        await self.request(api.change_password(new_password, auth=auth, logout_devices=logout_devices))

    async def logout(self) -> None:
        await self.request(api.logout())
        self.transport.access_token = None
        self.refresh_token = None

    async def logout_all(self) -> None:
        """End every session of this user, this one included (spec: logout.yaml)."""
        await self.request(api.logout_all())
        self.transport.access_token = None
        self.refresh_token = None

    async def whoami(self) -> responses.Whoami:
        return responses.parse_whoami(await self.request(api.whoami()))

    # --- sync -------------------------------------------------------------------------------
    async def sync_once(self, timeout_ms: int = 0, *, since: str | None = None) -> dict[str, Any]:
        """One /sync from the stored token (or `since`); the model and callbacks see it."""
        self.require_user_id()
        assert self.state is not None
        token = since if since is not None else (self.state.next_batch or self.store.load_token())
        response = await self.request(
            api.sync(token, timeout_ms=timeout_ms, filter=self.sync_filter, set_presence=self.set_presence)
        )
        await self._process_sync(response)
        return response

    async def _process_sync(self, response: dict[str, Any]) -> None:
        assert self.state is not None
        await self._decrypt_sync(response)
        updates = self.state.apply_sync(response)
        await self.callbacks.dispatch(updates, response)
        # Persist only after callbacks ran: a crash before this replays the batch
        # rather than losing it.
        if self.state.next_batch is not None:
            self.store.save_token(self.state.next_batch)
        async with self._synced:
            self._synced.notify_all()

    async def _decrypt_sync(self, response: dict[str, Any]) -> None:
        await self.crypto.receive_sync(response)
        to_device = (response.get("to_device") or {}).get("events")
        if isinstance(to_device, list) and to_device:
            await self.crypto.receive_to_device(to_device)
        joined = ((response.get("rooms") or {}).get("join")) or {}
        for room_id, section in joined.items():
            events = ((section or {}).get("timeline") or {}).get("events")
            if isinstance(events, list):
                for index, event in enumerate(events):
                    if isinstance(event, dict) and event.get("type") == "m.room.encrypted":
                        events[index] = await self.crypto.decrypt(room_id, event)

    async def sync_forever(
        self, timeout_ms: int = DEFAULT_SYNC_TIMEOUT_MS, *, stop: asyncio.Event | None = None
    ) -> None:
        """Long-poll /sync until `stop` is set (or the task is cancelled).

        Connection failures, 5xx and 429 are retried with capped exponential backoff,
        resuming from the last token, so a server restart loses nothing. Errors that
        retrying cannot fix (M_UNKNOWN_TOKEN, 4xx) are raised.
        """
        failures = 0
        while stop is None or not stop.is_set():
            try:
                if stop is None:
                    await self.sync_once(timeout_ms)
                else:
                    await _until_stopped(self.sync_once(timeout_ms), stop)
                failures = 0
            except (TransportError, MatrixRequestError) as e:
                if isinstance(e, MatrixRequestError) and not e.is_transient:
                    raise
                retry_after = e.retry_after_ms if isinstance(e, MatrixRequestError) else None
                delay = self.backoff.delay(failures, retry_after_ms=retry_after)
                failures += 1
                log.warning("sync failed (%s); retrying in %.1fs", e, delay)
                if stop is None:
                    await asyncio.sleep(delay)
                else:
                    try:
                        await asyncio.wait_for(stop.wait(), delay)
                    except TimeoutError:
                        pass

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Wait until `predicate()` holds after some sync (another task must be syncing)."""
        async with asyncio.timeout(timeout):
            async with self._synced:
                await self._synced.wait_for(predicate)

    # --- sending -------------------------------------------------------------------------
    async def send_event(
        self, room_id: str, event_type: str, content: dict[str, Any], *, txn_id: str | None = None
    ) -> str:
        """Send a room event; retried with the same transaction ID until the server answers."""
        encrypted = await self.room_is_encrypted(room_id)
        event_type, content = await self.crypto.encrypt(room_id, event_type, content, room_encrypted=encrypted)
        request = api.room_send(room_id, event_type, content, txn_id or self.new_txn_id())
        return responses.parse_event_id(await self.request_with_retry(request))

    async def room_is_encrypted(self, room_id: str) -> bool:
        """Whether the room has m.room.encryption: from the synced model, else asked of the server."""
        room = self.state.rooms.get(room_id) if self.state else None
        return room.encrypted if room is not None else await self._room_is_encrypted(room_id)

    async def _room_is_encrypted(self, room_id: str) -> bool:
        """For a room not synced yet: ask the server, so plaintext never goes to an encrypted room.

        Retried like the send it precedes, so a send during an outage still waits for the server.
        """
        try:
            await self.request_with_retry(api.room_get_state_event(room_id, "m.room.encryption"))
        except MatrixRequestError as e:
            if e.errcode == "M_NOT_FOUND":
                return False
            raise
        return True

    async def send_state(
        self, room_id: str, event_type: str, content: dict[str, Any], state_key: str = ""
    ) -> str:
        data = await self.request(api.room_put_state(room_id, event_type, content, state_key))
        return responses.parse_event_id(data)

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        request = api.room_redact(room_id, event_id, self.new_txn_id(), reason)
        return responses.parse_event_id(await self.request_with_retry(request))

    async def room_messages(
        self, room_id: str, *, start: str | None = None, limit: int = 20, direction: str = "b"
    ) -> responses.MessagesPage:
        data = await self.request(api.room_messages(room_id, start=start, limit=limit, direction=direction))
        return responses.parse_messages(data)

    async def paginate_back(self, room_id: str, limit: int = 20) -> responses.MessagesPage:
        """Load older events into the room's timeline, continuing from where we were."""
        assert self.state is not None
        room = self.state.room(room_id)
        page = await self.room_messages(room_id, start=room.prev_batch, limit=limit)
        room.timeline.prepend(page.chunk)
        for event in page.state:
            room.apply_state(event)
        if page.end is not None:
            room.prev_batch = page.end
        return page

    async def get_state_event(self, room_id: str, event_type: str, state_key: str = "") -> dict[str, Any]:
        data = await self.request(api.room_get_state_event(room_id, event_type, state_key))
        return data if isinstance(data, dict) else {}

    async def get_room_state(self, room_id: str) -> list[dict[str, Any]]:
        data = await self.request(api.room_get_state(room_id))
        return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []

    async def joined_members(self, room_id: str) -> dict[str, dict[str, Any]]:
        data = await self.request(api.joined_members(room_id))
        joined = data.get("joined") if isinstance(data, dict) else None
        return joined if isinstance(joined, dict) else {}

    async def room_members(self, room_id: str) -> list[dict[str, Any]]:
        data = await self.request(api.room_members(room_id))
        chunk = data.get("chunk") if isinstance(data, dict) else None
        return [e for e in chunk if isinstance(e, dict)] if isinstance(chunk, list) else []

    # --- ephemeral --------------------------------------------------------------------------
    async def set_typing(self, room_id: str, typing: bool = True, timeout_ms: int = 30000) -> None:
        await self.request(api.typing(room_id, self.require_user_id(), typing, timeout_ms))

    async def send_receipt(self, room_id: str, event_id: str, receipt_type: str = "m.read") -> None:
        await self.request(api.receipt(room_id, event_id, receipt_type))

    async def set_presence_status(self, presence: str, status_msg: str | None = None) -> None:
        await self.request(api.set_presence(self.require_user_id(), presence, status_msg))

    async def get_presence(self, user_id: str) -> responses.Presence:
        return responses.parse_presence(await self.request(api.get_presence(user_id)))

    # --- profile and directory ------------------------------------------------------------------
    async def get_profile(self, user_id: str | None = None) -> responses.Profile:
        return responses.parse_profile(await self.request(api.get_profile(user_id or self.require_user_id())))

    async def set_displayname(self, name: str) -> None:
        await self.request(api.set_displayname(self.require_user_id(), name))

    async def set_avatar_url(self, mxc_uri: str) -> None:
        await self.request(api.set_avatar_url(self.require_user_id(), mxc_uri))

    async def search_users(self, term: str, limit: int = 10) -> list[responses.UserSearchResult]:
        results, _ = responses.parse_user_search(await self.request(api.search_users(term, limit)))
        return results

    async def search_messages(
        self, term: str, *, rooms: list[str] | None = None, order_by: str = "rank", limit: int = 10,
        next_batch: str | None = None,
    ) -> tuple[list[responses.MessageSearchResult], str | None]:
        """Server-side search of message text in rooms we are or were in; (results, next_batch)."""
        data = await self.request(api.search_messages(
            term, rooms=rooms, order_by=order_by, limit=limit, next_batch=next_batch
        ))
        return responses.parse_message_search(data)

    async def space_hierarchy(
        self, space_id: str, *, max_depth: int | None = None, suggested_only: bool = False
    ) -> list[dict[str, Any]]:
        """Every room of a space tree the server lets us see (all pages of GET /hierarchy)."""
        rooms: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            data = await self.request(api.space_hierarchy(
                space_id, max_depth=max_depth, suggested_only=suggested_only, from_token=token
            ))
            rooms += [r for r in data.get("rooms", []) if isinstance(r, dict)]
            token = data.get("next_batch")
            if not isinstance(token, str) or not token:
                return rooms

    # --- account data -----------------------------------------------------------------------
    async def get_account_data(self, event_type: str) -> dict[str, Any] | None:
        try:
            data = await self.request(api.get_account_data(self.require_user_id(), event_type))
        except MatrixRequestError as e:
            if e.errcode == "M_NOT_FOUND":
                return None
            raise
        return data if isinstance(data, dict) else None

    async def set_account_data(self, event_type: str, content: dict[str, Any]) -> None:
        await self.request(api.set_account_data(self.require_user_id(), event_type, content))
        if self.state is not None:
            self.state.account_data[event_type] = content


async def _until_stopped(awaitable: Awaitable[T], stop: asyncio.Event) -> T | None:
    """Run `awaitable` unless `stop` is set first (then cancel it and return None)."""
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()  # cancelled from outside: the request must not outlive us
        raise
    finally:
        stopper.cancel()
    if task in done:
        return task.result()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return None
