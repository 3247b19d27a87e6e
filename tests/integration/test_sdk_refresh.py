"""The SDK with refresh tokens (opt-in) against a real Parley homeserver.

spec: client-server-api/_index.md, "Refreshing access tokens" and "Soft logout".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from clients.sdk import AsyncClient, MatrixRequestError
from tests.complement.test_refresh_tokens import DEFAULT_LIFETIME_MS, ShiftedClock, shift_auth_clock
from tests.conftest import RunningHomeserver


@pytest.fixture
async def alice(homeserver: RunningHomeserver) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(homeserver.base_url, use_refresh_tokens=True)
    await client.register("alice", "correct horse")
    yield client
    await client.close()


def expire_tokens(homeserver: RunningHomeserver) -> ShiftedClock:
    clock = shift_auth_clock(homeserver)
    clock.shift_ms = DEFAULT_LIFETIME_MS
    return clock


async def test_refresh_tokens_are_opt_in(homeserver: RunningHomeserver) -> None:
    async with AsyncClient(homeserver.base_url) as plain:
        session = await plain.register("plain", "correct horse")
        assert session.refresh_token is None and plain.refresh_token is None
    async with AsyncClient(homeserver.base_url, use_refresh_tokens=True) as opted_in:
        session = await opted_in.login("plain", "correct horse")
        assert session.refresh_token is not None and opted_in.refresh_token == session.refresh_token
        assert session.expires_in_ms == DEFAULT_LIFETIME_MS


async def test_expired_access_token_is_refreshed_and_the_request_retried(
    homeserver: RunningHomeserver, alice: AsyncClient
) -> None:
    old_access, old_refresh = alice.access_token, alice.refresh_token
    refreshed: list[tuple[str, str | None]] = []
    alice.on_tokens_refreshed = lambda access, refresh: refreshed.append((access, refresh))
    expire_tokens(homeserver)
    me = await alice.whoami()
    assert me.user_id == "@alice:localhost"
    assert alice.access_token != old_access and alice.refresh_token != old_refresh
    assert refreshed == [(alice.access_token, alice.refresh_token)]


async def test_concurrent_requests_refresh_once(homeserver: RunningHomeserver, alice: AsyncClient) -> None:
    refreshed: list[str] = []
    alice.on_tokens_refreshed = lambda access, refresh: refreshed.append(access)
    room_id = await alice.create_room(name="refreshing")
    expire_tokens(homeserver)
    whoamis = [alice.whoami() for _ in range(5)]
    *mes, sync = await asyncio.gather(*whoamis, alice.sync_once())
    assert all(me.user_id == "@alice:localhost" for me in mes)  # type: ignore[attr-defined]
    assert room_id in sync["rooms"]["join"]  # type: ignore[index]
    assert len(refreshed) == 1


async def test_refreshed_session_keeps_syncing_and_sending(
    homeserver: RunningHomeserver, alice: AsyncClient
) -> None:
    room_id = await alice.create_room(name="refreshing")
    await alice.sync_once()
    clock = expire_tokens(homeserver)
    event_id = await alice.send_text(room_id, "after the first refresh")
    clock.shift_ms += DEFAULT_LIFETIME_MS
    sync = await alice.sync_once()
    timeline = sync["rooms"]["join"][room_id]["timeline"]["events"]
    assert event_id in [e["event_id"] for e in timeline]


async def test_restored_session_with_refresh_token_refreshes(
    homeserver: RunningHomeserver, alice: AsyncClient
) -> None:
    assert alice.user_id and alice.device_id and alice.access_token and alice.refresh_token
    async with AsyncClient(homeserver.base_url) as restored:
        restored.restore_session(alice.user_id, alice.device_id, alice.access_token, alice.refresh_token)
        expire_tokens(homeserver)
        assert (await restored.whoami()).device_id == alice.device_id


async def test_a_revoked_session_is_not_refreshed(homeserver: RunningHomeserver, alice: AsyncClient) -> None:
    refreshed: list[str] = []
    alice.on_tokens_refreshed = lambda access, refresh: refreshed.append(access)
    async with AsyncClient(homeserver.base_url) as other:
        await other.login("alice", "correct horse")
        await other.logout_all()
    with pytest.raises(MatrixRequestError) as raised:
        await alice.whoami()
    assert raised.value.errcode == "M_UNKNOWN_TOKEN" and raised.value.body["soft_logout"] is False
    assert refreshed == []


async def test_refresh_with_a_revoked_refresh_token_raises(
    homeserver: RunningHomeserver, alice: AsyncClient
) -> None:
    assert alice.refresh_token is not None
    stale_refresh = alice.refresh_token
    await alice.refresh_access_token()
    await alice.whoami()  # the new access token is used: the old refresh token ends
    alice.refresh_token = stale_refresh
    with pytest.raises(MatrixRequestError) as raised:
        await alice.refresh_access_token()
    assert raised.value.errcode == "M_UNKNOWN_TOKEN"

