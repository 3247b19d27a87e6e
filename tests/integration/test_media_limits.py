"""Media limits over real HTTP: upload size, streaming (no buffering), quota, retention, expiry.

spec: content_repo.md "Security considerations" (413 M_TOO_LARGE; 403 M_FORBIDDEN for
quotas); content-repo.yaml createContent (unused_expires_at, pending uploads).
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from homeserver.app.homeserver import Homeserver
from homeserver.app.web import build_app
from homeserver.clock import Clock
from homeserver.config import Config
from tests.conftest import RunningHomeserver, make_config
from tests.http_client import MatrixHttp
from tests.integration.test_media import get_raw, media_files, mxc_path, png_bytes, upload

MIB = 1024 * 1024
DAY_MS = 86_400_000
WAIT = 10.0


class ManualClock(Clock):
    """Wall-clock time the test moves by hand."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = now_ms

    def time_ms(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


@pytest.fixture
async def media_server(tmp_path: Path) -> AsyncIterator[Any]:
    """Start a homeserver with the given overrides (and clock); closes them all at the end."""
    started: list[TestServer] = []
    async with ClientSession() as session:

        async def start(clock: Clock | None = None, **overrides: Any) -> RunningHomeserver:
            config: Config = make_config(tmp_path / f"hs{len(started)}", **overrides)
            hs = Homeserver(config, clock=clock)
            server = TestServer(build_app(hs), host="127.0.0.1")
            await server.start_server()
            started.append(server)
            return RunningHomeserver(hs, server, session)

        yield start
        for server in started:
            await server.close()


async def zeros(total: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        size = min(chunk, total - sent)
        sent += size
        yield bytes(size)


async def post_stream(api: MatrixHttp, body: AsyncIterator[bytes]) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {api.access_token}", "Content-Type": "application/octet-stream"}
    async with api.session.post(api.base_url + "/_matrix/media/v3/upload", data=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_upload_larger_than_request_body_limit_is_accepted(media_server: Any) -> None:
    # client_max_size (limits.max_request_body_bytes, 1 MiB) must not apply to uploads.
    hs = await media_server(limits={"max_upload_bytes": 4 * MIB})
    alice = await hs.register("alice")
    data = bytes(range(256)) * (2 * MIB // 256)
    uri = await upload(alice, data, content_type="application/octet-stream")
    resp, got = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
    assert resp.status == 200 and got == data


async def test_streamed_oversize_upload_is_413_and_never_buffered(media_server: Any) -> None:
    limit = 16 * MIB
    hs = await media_server(limits={"max_upload_bytes": limit})
    alice = await hs.register("alice")
    tracemalloc.start()
    try:
        status, body = await post_stream(alice, zeros(3 * limit))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")
    # A server holding the body would have allocated at least the limit (16 MiB); streaming
    # costs a few socket and write buffers (about 1.6 MiB measured, client side included).
    assert peak < limit // 2, f"peak Python allocation {peak} bytes during the upload"
    assert list(hs.hs.media.files.temp_dir.iterdir()) == []
    assert media_files(hs) == []


async def test_declared_oversize_upload_is_refused_before_reading(media_server: Any) -> None:
    hs = await media_server(limits={"max_upload_bytes": 64 * 1024})
    alice = await hs.register("alice")
    status, body = await alice.status_of("POST", "/_matrix/media/v3/upload", raw=bytes(64 * 1024 + 1))
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")
    await upload(alice, bytes(64 * 1024), content_type="application/octet-stream")


async def test_upload_quota_is_enforced_per_user(media_server: Any) -> None:
    hs = await media_server(media={"user_quota_bytes": 10_000})
    alice = await hs.register("alice")
    bob = await hs.register("bob")
    await upload(alice, bytes(6000), content_type="application/octet-stream")
    status, body = await alice.status_of("POST", "/_matrix/media/v3/upload", raw=b"\x01" * 6000)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    # Without a Content-Length the quota is enforced while streaming.
    status, body = await post_stream(alice, zeros(6000, chunk=1000))
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    await upload(alice, bytes(4000), content_type="application/octet-stream")
    status, body = await alice.status_of("POST", "/_matrix/media/v3/upload", raw=b"x")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    await upload(bob, b"\x02" * 6000, content_type="application/octet-stream")
    assert list(hs.hs.media.files.temp_dir.iterdir()) == []


async def test_media_not_accessed_for_retention_period_is_deleted(media_server: Any) -> None:
    clock = ManualClock()
    hs = await media_server(clock=clock, media={"local_retention_days": 1})
    alice = await hs.register("alice")
    bob = await hs.register("bob")
    stale = await upload(alice, png_bytes(200, 100, (1, 1, 1)), filename="stale.png")
    fresh = await upload(alice, png_bytes(200, 100, (2, 2, 2)), filename="fresh.png")
    shared_png = png_bytes(200, 100, (3, 3, 3))
    shared_stale = await upload(alice, shared_png)
    shared_fresh = await upload(bob, shared_png)
    resp, _ = await get_raw(alice, f"/_matrix/client/v1/media/thumbnail/{mxc_path(stale)}",
                            params={"width": "32", "height": "32", "method": "crop"})
    assert resp.status == 200
    assert len(media_files(hs)) == 4  # three contents and one thumbnail

    clock.advance(DAY_MS // 2)
    for uri in (fresh, shared_fresh):
        resp, _ = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
        assert resp.status == 200
    clock.advance(DAY_MS // 2 + 60_000)
    deleted = await hs.hs.media.purge_stale()

    assert deleted == 2  # stale.png and its thumbnail; the shared content is still referenced
    assert len(media_files(hs)) == 2
    for uri, status in ((stale, 404), (shared_stale, 404), (fresh, 200), (shared_fresh, 200)):
        resp, data = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
        assert resp.status == status, uri
    resp, data = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(shared_fresh)}")
    assert data == shared_png


async def test_retention_zero_keeps_media_forever(media_server: Any) -> None:
    clock = ManualClock()
    hs = await media_server(clock=clock)
    alice = await hs.register("alice")
    uri = await upload(alice, b"keep me", content_type="text/plain")
    clock.advance(3650 * DAY_MS)
    assert await hs.hs.media.purge_stale() == 0
    resp, data = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
    assert resp.status == 200 and data == b"keep me"


async def test_retention_task_runs_and_is_cancelled_on_shutdown(media_server: Any) -> None:
    clock = ManualClock()
    hs = await media_server(clock=clock, media={"local_retention_days": 1, "retention_interval_seconds": 0.05})
    alice = await hs.register("alice")
    uri = await upload(alice, b"old", content_type="text/plain")
    swept = asyncio.Event()
    real_purge = hs.hs.media.purge_stale

    async def observed_purge() -> int:
        deleted = await real_purge()
        if deleted:
            swept.set()
        return deleted

    hs.hs.media.purge_stale = observed_purge  # type: ignore[method-assign]
    clock.advance(2 * DAY_MS)
    async with asyncio.timeout(WAIT):
        await swept.wait()
    resp, _ = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
    assert resp.status == 404
    task = hs.hs.media._retention_task
    assert task is not None and not task.done()
    await hs.server.close()
    assert task.done()


async def test_unused_created_id_expires(media_server: Any) -> None:
    clock = ManualClock()
    hs = await media_server(clock=clock, media={"unused_id_lifetime_seconds": 60})
    alice = await hs.register("alice")
    created = await alice.request("POST", "/_matrix/media/v1/create", {})
    assert created["unused_expires_at"] == clock.now_ms + 60_000
    clock.advance(61_000)
    path = f"/_matrix/media/v3/upload/{mxc_path(created['content_uri'])}"
    status, body = await alice.status_of("PUT", path, raw=b"too late")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    resp, _ = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(created['content_uri'])}",
                            params={"timeout_ms": "0"})
    assert resp.status == 404
    await hs.hs.media.purge_stale()
    media_id = mxc_path(created["content_uri"]).split("/")[1]
    assert await hs.hs.media.store.get_local(media_id) is None
