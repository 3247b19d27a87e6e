"""Thumbnail sizing and rendering, pure (spec: content_repo.md, "Thumbnails")."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from homeserver.core.thumbnails import (
    CannotThumbnail,
    ImageTooLarge,
    ThumbnailTarget,
    choose_target,
    crop_size,
    render,
    scaled_size,
)


@pytest.mark.parametrize(
    ("request_size", "method", "target"),
    [
        ((32, 32), "crop", (32, 32)),
        ((1, 1), "crop", (32, 32)),
        ((33, 33), "crop", (96, 96)),
        ((96, 96), "crop", (96, 96)),
        ((97, 97), "crop", (97, 97)),  # beyond the standard crops: exactly as asked
        ((64, 32), "crop", (64, 32)),  # crop keeps the requested aspect: no square standard size
        ((320, 240), "scale", (320, 240)),
        ((100, 100), "scale", (320, 240)),
        ((321, 100), "scale", (640, 480)),
        ((700, 500), "scale", (800, 600)),
        ((801, 600), "scale", (801, 600)),
        ((32, 32), "scale", (320, 240)),  # scale requests use scale sizes only
    ],
)
def test_choose_target_picks_smallest_standard_size_not_smaller_than_request(
    request_size: tuple[int, int], method: str, target: tuple[int, int]
) -> None:
    chosen = choose_target(request_size[0], request_size[1], method)  # type: ignore[arg-type]
    assert (chosen.width, chosen.height, chosen.method) == (*target, method)


@pytest.mark.parametrize(
    ("source", "box", "expected"),
    [
        ((1000, 800), (320, 240), (300, 240)),
        ((800, 1000), (320, 240), (192, 240)),
        ((1000, 400), (320, 240), (320, 128)),
        ((100, 50), (320, 240), (100, 50)),  # never upscaled
        ((5000, 1), (320, 240), (320, 1)),  # never zero
    ],
)
def test_scaled_size_fits_the_box_keeping_aspect(
    source: tuple[int, int], box: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert scaled_size(*source, *box) == expected


@pytest.mark.parametrize(
    ("source", "box", "expected"),
    [
        ((1000, 800), (96, 96), (96, 96)),
        ((100, 20), (96, 96), (20, 20)),  # smaller source: the largest square inside it
        ((20, 100), (64, 32), (20, 10)),
        ((96, 96), (96, 96), (96, 96)),
    ],
)
def test_crop_size_is_the_box_or_its_aspect_inside_a_small_source(
    source: tuple[int, int], box: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert crop_size(*source, *box) == expected


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_render_crop_and_scale_sizes() -> None:
    data = png(500, 250)
    crop = render(data, ThumbnailTarget(96, 96, "crop"), animated=False, max_pixels=10**7)
    scale = render(data, ThumbnailTarget(320, 240, "scale"), animated=False, max_pixels=10**7)
    assert crop is not None and (crop.width, crop.height) == (96, 96)
    assert scale is not None and (scale.width, scale.height) == (320, 160)
    assert Image.open(io.BytesIO(scale.data)).size == (320, 160)


def test_render_keeps_transparency_as_png() -> None:
    result = render(png(200, 200, "RGBA"), ThumbnailTarget(32, 32, "crop"), animated=False, max_pixels=10**7)
    assert result is not None and result.content_type == "image/png"
    assert Image.open(io.BytesIO(result.data)).mode == "RGBA"


def test_render_returns_none_when_the_original_is_small_enough() -> None:
    assert render(png(20, 20), ThumbnailTarget(32, 32, "crop"), animated=False, max_pixels=10**7) is None


def test_small_bmp_is_reencoded_not_served_as_is() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, format="BMP")
    result = render(buffer.getvalue(), ThumbnailTarget(32, 32, "crop"), animated=False, max_pixels=10**7)
    assert result is not None and result.content_type == "image/png" and (result.width, result.height) == (10, 10)


def test_too_many_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLarge):
        render(png(2000, 2000, "L"), ThumbnailTarget(32, 32, "crop"), animated=False, max_pixels=1_000_000)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"<svg></svg>"])
def test_non_images_cannot_be_thumbnailed(data: bytes) -> None:
    with pytest.raises(CannotThumbnail):
        render(data, ThumbnailTarget(32, 32, "crop"), animated=False, max_pixels=10**7)


def test_truncated_image_cannot_be_thumbnailed() -> None:
    data = png(300, 300)
    with pytest.raises(CannotThumbnail):
        render(data[: len(data) // 2], ThumbnailTarget(32, 32, "crop"), animated=False, max_pixels=10**7)
