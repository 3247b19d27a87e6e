"""Media repository over real HTTP: upload, download, headers, IDs, dedup, create+upload.

spec: client-server-api/modules/content_repo.md; data/api/client-server/content-repo.yaml
and authed-content-repo.yaml.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from PIL import Image

from tests.conftest import RunningHomeserver
from tests.http_client import MatrixHttp

WAIT = 10.0


def png_bytes(width: int = 7, height: int = 5, colour: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


async def upload(api: MatrixHttp, data: bytes, content_type: str = "image/png",
                 filename: str | None = "dot.png") -> str:
    params = {"filename": filename} if filename is not None else None
    body = await api.request("POST", "/_matrix/media/v3/upload", raw=data, params=params,
                             headers={"Content-Type": content_type})
    uri = body["content_uri"]
    assert uri.startswith("mxc://")
    return str(uri)


def mxc_path(uri: str) -> str:
    return uri[len("mxc://"):]


async def get_raw(api: MatrixHttp, path: str, *, auth: bool = True,
                  params: dict[str, Any] | None = None) -> tuple[ClientResponse, bytes]:
    headers = {"Authorization": f"Bearer {api.access_token}"} if auth and api.access_token else {}
    async with api.session.get(api.base_url + path, headers=headers, params=params) as resp:
        return resp, await resp.read()


def media_files(hs: RunningHomeserver) -> list[Path]:
    return [p for p in hs.hs.media.files.content_dir.rglob("*") if p.is_file()]


async def test_uploaded_png_downloads_identical_from_both_endpoints(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    png = png_bytes()
    uri = await upload(alice, png)
    resp, data = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
    assert resp.status == 200 and data == png
    assert resp.headers["Content-Type"] == "image/png"
    resp, data = await get_raw(alice, f"/_matrix/media/v3/download/{mxc_path(uri)}", auth=False)
    assert resp.status == 200 and data == png


async def test_authenticated_download_requires_a_token(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, png_bytes())
    resp, body = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}", auth=False)
    assert resp.status == 401 and b"M_MISSING_TOKEN" in body


async def test_upload_requires_a_token(homeserver: RunningHomeserver) -> None:
    status, body = await homeserver.api().status_of("POST", "/_matrix/media/v3/upload", raw=b"x")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_download_headers_follow_the_spec(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, png_bytes(), filename="dot.png")
    resp, _ = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
    assert resp.headers["Content-Disposition"] == 'inline; filename="dot.png"'
    assert resp.headers["Content-Security-Policy"] == (
        "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf;"
        " style-src 'unsafe-inline'; object-src 'self';"
    )
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


async def test_unsafe_content_type_is_served_as_attachment(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, b"<script>alert(1)</script>", content_type="text/html", filename="x.html")
    resp, data = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
    assert data == b"<script>alert(1)</script>"
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.headers["Content-Disposition"] == 'attachment; filename="x.html"'


async def test_non_ascii_filename_uses_rfc6266_encoding(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, b"hello", content_type="text/plain", filename="naïve ☃.txt")
    resp, _ = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
    assert resp.headers["Content-Disposition"] == "inline; filename*=utf-8''na%C3%AFve%20%E2%98%83.txt"


async def test_filename_in_path_overrides_upload_name(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, png_bytes(), filename="dot.png")
    resp, data = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}/other.png")
    assert resp.status == 200 and data == png_bytes()
    assert resp.headers["Content-Disposition"] == 'inline; filename="other.png"'


async def test_upload_without_filename_or_type_is_octet_stream_without_name(
    homeserver: RunningHomeserver,
) -> None:
    alice = await homeserver.register("alice")
    async with alice.session.post(homeserver.base_url + "/_matrix/media/v3/upload", data=b"\x00\x01",
                                  headers={"Authorization": f"Bearer {alice.access_token}",
                                           "Content-Type": ""}) as resp:
        uri = (await resp.json())["content_uri"]
    resp, data = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
    assert data == b"\x00\x01"
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"] == "attachment"


async def test_unknown_media_is_404_not_found(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    for prefix in ("/_matrix/client/v1/media/download", "/_matrix/media/v3/download"):
        resp, body = await get_raw(alice, f"{prefix}/{homeserver.server_name}/doesNotExist123")
        assert resp.status == 404 and b'"M_NOT_FOUND"' in body


async def test_traversal_media_ids_are_refused(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    server = homeserver.server_name
    for media_id in ("..%2F..%2Fhomeserver.db", "a%2Fb", "..", "a.b", "%2E%2E"):
        for prefix in ("/_matrix/client/v1/media/download", "/_matrix/media/v3/download",
                       "/_matrix/client/v1/media/thumbnail"):
            resp, body = await get_raw(alice, f"{prefix}/{server}/{media_id}",
                                       params={"width": "32", "height": "32"})
            assert resp.status in (400, 404), (prefix, media_id, resp.status)
            assert b'"M_INVALID_PARAM"' in body or b'"M_NOT_FOUND"' in body or b'"M_UNRECOGNIZED"' in body
    # a/b as two path segments is the {mediaId}/{fileName} form: media "a" does not exist.
    resp, body = await get_raw(alice, f"/_matrix/client/v1/media/download/{server}/a/b")
    assert resp.status == 404 and b'"M_NOT_FOUND"' in body


async def test_invalid_server_name_is_refused(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    resp, body = await get_raw(alice, "/_matrix/client/v1/media/download/bad_server!name/abc")
    assert resp.status == 400 and b'"M_INVALID_PARAM"' in body


async def test_same_bytes_uploaded_twice_are_one_file(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    png = png_bytes(9, 9)
    first = await upload(alice, png, filename="a.png")
    second = await upload(bob, png, filename="b.png")
    assert first != second
    assert len(media_files(homeserver)) == 1
    for uri, name in ((first, "a.png"), (second, "b.png")):
        resp, data = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
        assert data == png and resp.headers["Content-Disposition"] == f'inline; filename="{name}"'
    await upload(alice, png_bytes(9, 9, (1, 2, 3)))
    assert len(media_files(homeserver)) == 2


async def test_media_config_reports_upload_limit(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    limit = homeserver.hs.config.limits.max_upload_bytes
    for path in ("/_matrix/client/v1/media/config", "/_matrix/media/v3/config"):
        assert await alice.request("GET", path) == {"m.upload.size": limit}


async def test_create_then_upload_then_download(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    created = await alice.request("POST", "/_matrix/media/v1/create", {})
    uri = created["content_uri"]
    assert created["unused_expires_at"] > 0
    server, media_id = mxc_path(uri).split("/")
    assert await alice.request("PUT", f"/_matrix/media/v3/upload/{server}/{media_id}", raw=b"later bytes",
                               params={"filename": "late.txt"}, headers={"Content-Type": "text/plain"}) == {}
    resp, data = await get_raw(alice, f"/_matrix/client/v1/media/download/{server}/{media_id}")
    assert data == b"later bytes" and resp.headers["Content-Disposition"] == 'inline; filename="late.txt"'


async def test_created_media_cannot_be_overwritten(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    server, media_id = mxc_path((await alice.request("POST", "/_matrix/media/v1/create", {}))["content_uri"]).split("/")
    path = f"/_matrix/media/v3/upload/{server}/{media_id}"
    await alice.request("PUT", path, raw=b"one")
    status, body = await alice.status_of("PUT", path, raw=b"two")
    assert (status, body["errcode"]) == (409, "M_CANNOT_OVERWRITE_MEDIA")


async def test_only_the_creator_may_upload_to_a_created_id(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    bob = await homeserver.register("bob")
    server, media_id = mxc_path((await alice.request("POST", "/_matrix/media/v1/create", {}))["content_uri"]).split("/")
    status, body = await bob.status_of("PUT", f"/_matrix/media/v3/upload/{server}/{media_id}", raw=b"x")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")


async def test_upload_to_an_id_never_created_is_404(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    for server, media_id in ((homeserver.server_name, "neverCreated"), ("other.example", "abc"),
                             (homeserver.server_name, "a.b")):
        status, body = await alice.status_of("PUT", f"/_matrix/media/v3/upload/{server}/{media_id}", raw=b"x")
        assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_download_of_pending_media_is_504_not_yet_uploaded(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = (await alice.request("POST", "/_matrix/media/v1/create", {}))["content_uri"]
    resp, body = await get_raw(alice, f"/_matrix/client/v1/media/download/{mxc_path(uri)}",
                               params={"timeout_ms": "0"})
    assert resp.status == 504 and b'"M_NOT_YET_UPLOADED"' in body


async def test_waiting_download_receives_media_once_uploaded(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = (await alice.request("POST", "/_matrix/media/v1/create", {}))["content_uri"]
    path = f"/_matrix/client/v1/media/download/{mxc_path(uri)}"
    parked = asyncio.Event()

    class SignallingWaiters(dict[str, asyncio.Event]):
        def setdefault(self, key: str, default: asyncio.Event) -> asyncio.Event:  # type: ignore[override]
            event = super().setdefault(key, default)
            parked.set()
            return event

    homeserver.hs.media._upload_waiters = SignallingWaiters()
    waiting = asyncio.create_task(get_raw(alice, path, params={"timeout_ms": "8000"}))
    # The download must be parked on the upload before we upload.
    async with asyncio.timeout(WAIT):
        await parked.wait()
    await alice.request("PUT", f"/_matrix/media/v3/upload/{mxc_path(uri)}", raw=b"arrived")
    async with asyncio.timeout(WAIT):
        resp, data = await waiting
    assert resp.status == 200 and data == b"arrived"


async def test_too_many_pending_creates_are_rate_limited(config_factory: Any) -> None:
    from tests.conftest import start_homeserver

    hs, server = await start_homeserver(config_factory(media={"max_pending_uploads": 2}))
    try:
        from aiohttp import ClientSession

        async with ClientSession() as session:
            api = MatrixHttp(session, str(server.make_url("")).rstrip("/"))
            await api.register("alice")
            await api.request("POST", "/_matrix/media/v1/create", {})
            await api.request("POST", "/_matrix/media/v1/create", {})
            status, body = await api.status_of("POST", "/_matrix/media/v1/create", body={})
            assert (status, body["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    finally:
        await server.close()


async def test_avatar_url_pointing_at_our_media_downloads(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    png = png_bytes(16, 16, (0, 128, 255))
    uri = await upload(alice, png, filename="me.png")
    await alice.request("PUT", f"/_matrix/client/v3/profile/{alice.user_id}/avatar_url", {"avatar_url": uri})
    bob = await homeserver.register("bob")
    profile = await bob.request("GET", f"/_matrix/client/v3/profile/{alice.user_id}")
    assert profile["avatar_url"] == uri
    resp, data = await get_raw(bob, f"/_matrix/client/v1/media/download/{mxc_path(profile['avatar_url'])}")
    assert resp.status == 200 and data == png
    resp, thumb = await get_raw(bob, f"/_matrix/client/v1/media/thumbnail/{mxc_path(uri)}",
                                params={"width": "32", "height": "32", "method": "crop"})
    assert resp.status == 200 and Image.open(io.BytesIO(thumb)).size == (16, 16)


async def test_media_survives_a_restart(config_factory: Any) -> None:
    from aiohttp import ClientSession

    from tests.conftest import start_homeserver

    config = config_factory()
    png = png_bytes(11, 11)
    async with ClientSession() as session:
        _hs, server = await start_homeserver(config)
        try:
            api = MatrixHttp(session, str(server.make_url("")).rstrip("/"))
            await api.register("alice")
            uri = await upload(api, png)
        finally:
            await server.close()
        _hs, server = await start_homeserver(config)
        try:
            api.base_url = str(server.make_url("")).rstrip("/")
            resp, data = await get_raw(api, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
            assert resp.status == 200 and data == png
        finally:
            await server.close()
