"""Thumbnails over real HTTP (spec: content_repo.md "Thumbnails"; thumbnail responses in
authed-content-repo.yaml): sizes, crop vs scale, originals, non-images, bombs, cache."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession
from PIL import Image

from tests.conftest import RunningHomeserver, start_homeserver
from tests.http_client import MatrixHttp
from tests.integration.test_media import get_raw, media_files, mxc_path, upload

THUMBNAIL = "/_matrix/client/v1/media/thumbnail/"


def image_bytes(width: int, height: int, fmt: str = "PNG", mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    image = Image.new(mode, (width, height), (30, 90, 150))
    # A left half of a different colour shows what a crop keeps.
    image.paste((250, 250, 0), (0, 0, width // 2, height))
    image.save(buffer, format=fmt)
    return buffer.getvalue()


async def thumbnail(api: MatrixHttp, uri: str, width: int, height: int, method: str | None = None,
                    **extra: str) -> tuple[int, Any, bytes]:
    params = {"width": str(width), "height": str(height), **extra}
    if method is not None:
        params["method"] = method
    resp, data = await get_raw(api, THUMBNAIL + mxc_path(uri), params=params)
    return resp.status, resp.headers, data


def size_of(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


async def test_standard_crop_size_has_exactly_that_size(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, image_bytes(1000, 800))
    status, headers, data = await thumbnail(alice, uri, 96, 96, "crop")
    assert status == 200 and size_of(data) == (96, 96)
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"].startswith("inline")
    assert headers["Content-Security-Policy"].startswith("sandbox;")


async def test_scale_keeps_aspect_ratio_within_the_box(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, image_bytes(1000, 800))
    status, _, data = await thumbnail(alice, uri, 320, 240, "scale")
    assert status == 200 and size_of(data) == (300, 240)
    status, _, data = await thumbnail(alice, uri, 640, 480)  # scale is the default method
    assert status == 200 and size_of(data) == (600, 480)


async def test_crop_fills_the_requested_aspect_ratio(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, image_bytes(1000, 400))
    status, _, data = await thumbnail(alice, uri, 100, 50, "crop")
    assert status == 200 and size_of(data) == (100, 50)
    status, _, scaled = await thumbnail(alice, uri, 100, 50, "scale")
    assert status == 200 and size_of(scaled) == (320, 128)  # scale: the 320x240 box, aspect kept
    # Crop keeps the centre: both halves' colours are present on either side of the middle.
    cropped = Image.open(io.BytesIO(data)).convert("RGB")
    assert cropped.getpixel((2, 25)) == (250, 250, 0) and cropped.getpixel((97, 25))[2] > 100


async def test_request_below_a_standard_size_gets_the_standard_size(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, image_bytes(1000, 800))
    status, _, data = await thumbnail(alice, uri, 50, 50, "crop")
    assert status == 200 and size_of(data) == (96, 96)  # never smaller than asked for


async def test_image_smaller_than_request_is_served_unchanged(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    original = image_bytes(20, 10)
    uri = await upload(alice, original)
    status, headers, data = await thumbnail(alice, uri, 96, 96, "crop")
    assert status == 200 and data == original  # spec: no upscaling; return the original
    assert headers["Content-Disposition"].startswith("inline")


async def test_jpeg_source_gives_jpeg_thumbnail(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, image_bytes(900, 900, "JPEG"), content_type="image/jpeg", filename="p.jpg")
    status, headers, data = await thumbnail(alice, uri, 32, 32, "crop")
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and size_of(data) == (32, 32)


async def test_animated_thumbnail_only_when_asked(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    frames = [Image.new("RGB", (400, 400), (i * 60, 0, 0)) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    uri = await upload(alice, buffer.getvalue(), content_type="image/gif", filename="a.gif")
    status, headers, data = await thumbnail(alice, uri, 96, 96, "crop", animated="true")
    assert status == 200 and headers["Content-Type"] == "image/webp"
    animated = Image.open(io.BytesIO(data))
    assert animated.size == (96, 96) and animated.n_frames == 3
    status, headers, data = await thumbnail(alice, uri, 96, 96, "crop", animated="false")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 1


async def test_thumbnail_of_non_image_is_400(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, b"just some text", content_type="text/plain", filename="a.txt")
    status, _, body = await thumbnail(alice, uri, 32, 32, "crop")
    assert status == 400 and b'"M_UNKNOWN"' in body


async def test_bad_thumbnail_parameters_are_400(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, image_bytes(100, 100))
    for params, errcode in (({"height": "32"}, b"M_MISSING_PARAM"),
                            ({"width": "x", "height": "32"}, b"M_INVALID_PARAM"),
                            ({"width": "-5", "height": "32"}, b"M_INVALID_PARAM"),
                            ({"width": "32", "height": "32", "method": "stretch"}, b"M_INVALID_PARAM"),
                            ({"width": "32", "height": "32", "animated": "maybe"}, b"M_INVALID_PARAM")):
        resp, body = await get_raw(alice, THUMBNAIL + mxc_path(uri), params=params)
        assert resp.status == 400 and errcode in body, params


async def test_thumbnail_of_unknown_media_is_404(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    resp, body = await get_raw(alice, f"{THUMBNAIL}{homeserver.server_name}/nothingHere",
                               params={"width": "32", "height": "32"})
    assert resp.status == 404 and b'"M_NOT_FOUND"' in body


@pytest.fixture
async def one_megapixel_server(config_factory: Any) -> AsyncIterator[RunningHomeserver]:
    hs, server = await start_homeserver(config_factory(media={"max_image_pixels": 1_000_000}))
    async with ClientSession() as session:
        yield RunningHomeserver(hs, server, session)
    await server.close()


async def test_decompression_bomb_is_refused_413(one_megapixel_server: RunningHomeserver) -> None:
    alice = await one_megapixel_server.register("alice")
    # 4000x4000 one-colour PNG: a few KiB on the wire, 16 megapixels decoded.
    buffer = io.BytesIO()
    Image.new("L", (4000, 4000), 0).save(buffer, format="PNG", optimize=True)
    assert len(buffer.getvalue()) < 100_000
    uri = await upload(alice, buffer.getvalue())
    status, _, body = await thumbnail(alice, uri, 32, 32, "crop")
    assert status == 413 and b'"M_TOO_LARGE"' in body


async def test_thumbnails_are_cached_once_per_size(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, image_bytes(1000, 800))
    first = await thumbnail(alice, uri, 96, 96, "crop")
    files_after_first = len(media_files(homeserver))
    second = await thumbnail(alice, uri, 90, 90, "crop")  # same standard size
    assert first[2] == second[2] and len(media_files(homeserver)) == files_after_first == 2


async def test_legacy_thumbnail_needs_no_token(homeserver: RunningHomeserver) -> None:
    alice = await homeserver.register("alice")
    uri = await upload(alice, image_bytes(1000, 800))
    resp, data = await get_raw(alice, f"/_matrix/media/v3/thumbnail/{mxc_path(uri)}", auth=False,
                               params={"width": "32", "height": "32", "method": "crop"})
    assert resp.status == 200 and size_of(data) == (32, 32)
    resp, _ = await get_raw(alice, THUMBNAIL + mxc_path(uri), auth=False,
                            params={"width": "32", "height": "32", "method": "crop"})
    assert resp.status == 401
