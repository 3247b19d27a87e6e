"""Remote media over federation (spec: server-server-api.md, "Content Repository").

Two real homeservers on loopback: a user of one downloads mxc:// media of the other,
which their server fetches with a signed request, parses (multipart/mixed) and caches.
The multipart parser is also checked directly, including the Location form.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from PIL import Image

from federation.transport.errors import FederationHttpError, FederationUnreachable
from homeserver.services.media.remote import (
    MultipartError,
    filename_from_disposition,
    parse_multipart_media,
)
from tests.conftest import RunningHomeserver, start_homeserver
from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixHttp
from tests.integration.test_media import get_raw, media_files, mxc_path, png_bytes, upload


async def test_remote_media_is_fetched_over_federation_and_cached(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        png = png_bytes(64, 48, (9, 99, 199))
        uri = await upload(alice, png, filename="remote.png")
        resp, data = await get_raw(bob, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
        assert resp.status == 200 and data == png
        assert resp.headers["Content-Type"] == "image/png"
        assert resp.headers["Content-Disposition"] == 'inline; filename="remote.png"'
        assert len(media_files(hs2)) == 1  # cached on bob's server

        # Served from the cache once the origin is gone.
        await hs1.stop()
        resp, data = await get_raw(bob, f"/_matrix/client/v1/media/download/{mxc_path(uri)}")
        assert resp.status == 200 and data == png
        resp, thumb = await get_raw(bob, f"/_matrix/client/v1/media/thumbnail/{mxc_path(uri)}",
                                    params={"width": "32", "height": "32", "method": "crop"})
        assert resp.status == 200 and Image.open(io.BytesIO(thumb)).size == (32, 32)


async def test_unknown_remote_media_is_404(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        bob = await hs2.register("bob")
        resp, body = await get_raw(bob, f"/_matrix/client/v1/media/download/{hs1.server_name}/noSuchMedia")
        assert resp.status == 404 and b'"M_NOT_FOUND"' in body


async def test_allow_remote_false_does_not_fetch(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        uri = await upload(alice, b"hello", content_type="text/plain")
        resp, _ = await get_raw(bob, f"/_matrix/client/v1/media/download/{mxc_path(uri)}",
                                params={"allow_remote": "false"})
        assert resp.status == 404
        assert media_files(hs2) == []


async def test_federation_media_endpoint_requires_a_signed_request(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        alice = await hs1.register("alice")
        uri = await upload(alice, b"secret", content_type="text/plain")
        media_id = mxc_path(uri).split("/")[1]
        for kind in ("download", "thumbnail"):
            resp, body = await get_raw(alice, f"/_matrix/federation/v1/media/{kind}/{media_id}", auth=False,
                                       params={"width": "32", "height": "32"})
            assert resp.status == 401 and b'"M_UNAUTHORIZED"' in body


async def test_federation_download_answers_two_part_multipart(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        png = png_bytes(12, 12)
        uri = await upload(alice, png, filename="x.png")
        media_id = mxc_path(uri).split("/")[1]
        body, content_type = await hs2.hs.federation_client.get_bytes(
            hs1.server_name, f"/_matrix/federation/v1/media/download/{media_id}", max_bytes=1 << 20
        )
        part = parse_multipart_media(body, content_type)
        assert (part.metadata, part.content_type, part.filename, part.data) == ({}, "image/png", "x.png", png)


async def test_federation_thumbnail_answers_multipart_image(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        uri = await upload(alice, png_bytes(400, 300))
        media_id = mxc_path(uri).split("/")[1]
        body, content_type = await hs2.hs.federation_client.get_bytes(
            hs1.server_name, f"/_matrix/federation/v1/media/thumbnail/{media_id}",
            {"width": 96, "height": 96, "method": "crop"}, max_bytes=1 << 20,
        )
        part = parse_multipart_media(body, content_type)
        assert part.content_type == "image/png" and part.data is not None
        assert Image.open(io.BytesIO(part.data)).size == (96, 96)


MULTIPART_WITH_LOCATION = (
    b"--b0und\r\nContent-Type: application/json\r\n\r\n{}\r\n"
    b"--b0und\r\nLocation: https://cdn.example.org/media/abc\r\n\r\n\r\n"
    b"--b0und--\r\n"
)


def test_multipart_location_part_is_recognised() -> None:
    part = parse_multipart_media(MULTIPART_WITH_LOCATION, 'multipart/mixed; boundary="b0und"')
    assert part.location == "https://cdn.example.org/media/abc" and part.data is None


def test_multipart_binary_body_with_crlf_is_kept_exactly() -> None:
    payload = b"\r\n--not-the-boundary\r\n\x00\xff\r\n"
    body = (b"preamble\r\n--B\r\nContent-Type: application/json\r\n\r\n{\"a\": 1}\r\n--B\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename*=utf-8''na%C3%AFve.bin\r\n\r\n" + payload + b"\r\n--B--")
    part = parse_multipart_media(body, "multipart/mixed; boundary=B")
    assert part.metadata == {"a": 1} and part.data == payload and part.filename == "naïve.bin"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (MULTIPART_WITH_LOCATION, "application/json"),
        (MULTIPART_WITH_LOCATION, "multipart/mixed"),
        (b"--b0und\r\nContent-Type: application/json\r\n\r\n{}\r\n--b0und--\r\n", "multipart/mixed; boundary=b0und"),
        (b"--b0und\r\n\r\n[1]\r\n--b0und\r\n\r\nx\r\n--b0und--", "multipart/mixed; boundary=b0und"),
        (b"--b0und\r\n\r\n{}\r\n--b0und\r\n\r\nx", "multipart/mixed; boundary=b0und"),  # never closed
    ],
)
def test_malformed_multipart_is_rejected(body: bytes, content_type: str) -> None:
    with pytest.raises(MultipartError):
        parse_multipart_media(body, content_type)


@pytest.mark.parametrize(
    ("header", "filename"),
    [
        ('inline; filename="a b.png"', "a b.png"),
        ("attachment; filename=plain.txt", "plain.txt"),
        ('inline; filename="q\\"uote.txt"', 'q"uote.txt'),
        ("inline; filename=\"fallback.txt\"; filename*=UTF-8''%E2%98%83.txt", "☃.txt"),
        ("inline", None),
        (None, None),
    ],
)
def test_filename_from_content_disposition(header: str | None, filename: str | None) -> None:
    assert filename_from_disposition(header) == filename


class ScriptedOrigin:
    """Stands in for FederationClient.get_bytes: answers media requests from a script."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, str, Any]] = []

    async def get_bytes(self, destination: str, path: str, query: Any = None, *, max_bytes: int,
                        timeout: float = 60.0) -> tuple[bytes, str]:  # noqa: ASYNC109 (same signature)
        self.requests.append((destination, path, query))
        answer = self.answers[path.rsplit("/", 2)[-2] if "/v3/download/" in path else "federation"]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]


async def test_location_part_is_followed_and_cached(homeserver: RunningHomeserver,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    payload = png_bytes(8, 8, (5, 5, 5))

    async def cdn_file(_request: web.Request) -> web.Response:
        return web.Response(body=payload, content_type="image/png",
                            headers={"Content-Disposition": 'inline; filename="cdn.png"'})

    cdn_app = web.Application()
    cdn_app.router.add_get("/media/abc", cdn_file)
    cdn = TestServer(cdn_app, host="127.0.0.1")
    await cdn.start_server()
    try:
        body = (b"--b0und\r\nContent-Type: application/json\r\n\r\n{}\r\n--b0und\r\nLocation: "
                + str(cdn.make_url("/media/abc")).encode() + b"\r\n\r\n\r\n--b0und--\r\n")
        origin = ScriptedOrigin({"federation": (body, "multipart/mixed; boundary=b0und")})
        monkeypatch.setattr(homeserver.hs.federation_client, "get_bytes", origin.get_bytes)
        bob = await homeserver.register("bob")
        for _ in range(2):
            resp, data = await get_raw(bob, "/_matrix/client/v1/media/download/remote.example/abc")
            assert resp.status == 200 and data == payload
            assert resp.headers["Content-Disposition"] == 'inline; filename="cdn.png"'
        assert origin.requests == [("remote.example", "/_matrix/federation/v1/media/download/abc",
                                    {"timeout_ms": 20000})]  # the second download came from the cache
    finally:
        await cdn.close()


async def test_origin_without_federation_media_falls_back_to_legacy_download(
    homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch,
) -> None:
    unrecognized = FederationHttpError(404, "M_UNRECOGNIZED", "Unrecognized request", {})
    origin = ScriptedOrigin({"federation": unrecognized, "remote.example": (b"old server bytes", "text/plain")})
    monkeypatch.setattr(homeserver.hs.federation_client, "get_bytes", origin.get_bytes)
    bob = await homeserver.register("bob")
    resp, data = await get_raw(bob, "/_matrix/client/v1/media/download/remote.example/abc")
    assert resp.status == 200 and data == b"old server bytes"
    # spec: "When falling back, servers MUST be sure to set allow_remote to false."
    assert origin.requests[1] == ("remote.example", "/_matrix/media/v3/download/remote.example/abc",
                                  {"allow_remote": False})


async def test_remote_media_over_the_size_limit_is_502_too_large(
    config_factory: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    hs, server = await start_homeserver(config_factory(media={"max_remote_bytes": 1000}))
    try:
        body = (b"--B\r\nContent-Type: application/json\r\n\r\n{}\r\n--B\r\n"
                b"Content-Type: application/octet-stream\r\n\r\n" + bytes(1001) + b"\r\n--B--\r\n")
        origin = ScriptedOrigin({"federation": (body, "multipart/mixed; boundary=B")})
        monkeypatch.setattr(hs.federation_client, "get_bytes", origin.get_bytes)
        async with ClientSession() as session:
            bob = MatrixHttp(session, str(server.make_url("")).rstrip("/"))
            await bob.register("bob")
            resp, body = await get_raw(bob, "/_matrix/client/v1/media/download/remote.example/big")
            assert resp.status == 502 and b'"M_TOO_LARGE"' in body
    finally:
        await server.close()


async def test_unreachable_origin_is_502(homeserver: RunningHomeserver, monkeypatch: pytest.MonkeyPatch) -> None:
    origin = ScriptedOrigin({"federation": FederationUnreachable("remote.example", "connection refused")})
    monkeypatch.setattr(homeserver.hs.federation_client, "get_bytes", origin.get_bytes)
    bob = await homeserver.register("bob")
    resp, body = await get_raw(bob, "/_matrix/client/v1/media/download/remote.example/abc")
    assert resp.status == 502 and b'"errcode"' in body
