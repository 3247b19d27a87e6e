"""Thumbnail sizing and rendering with Pillow (no I/O; callers run ``render`` in a thread).

spec: client-server-api/modules/content_repo.md, "Thumbnails".

Which size we make: the spec's standard sizes (32x32 crop, 96x96 crop, 320x240
scale, 640x480 scale, 800x600 scale). A request gets the smallest standard size
of its method that is at least as large as the request in both dimensions (for
crop, only a standard size of the same aspect ratio, since crop must keep the
requested aspect). When no standard size fits, the exact requested size is made.
So the cache holds the five standard sizes plus the odd sizes clients really
ask for; a thumbnail is never larger than its source, so odd sizes cost no more
than the source image.

Images are never upscaled: when the original is no larger than the target in
both dimensions, the caller serves the original content (``render`` returns None)
if it is a type thumbnails may have, else a re-encoded copy at its own size.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

Method = Literal["crop", "scale"]

STANDARD_SIZES: tuple[tuple[int, int, Method], ...] = (
    (32, 32, "crop"),
    (96, 96, "crop"),
    (320, 240, "scale"),
    (640, 480, "scale"),
    (800, 600, "scale"),
)
# Formats we let Pillow decode: the common web image types, nothing exotic.
DECODABLE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
# spec: thumbnail Content-Type is one of image/jpeg, png, apng, gif, webp.
SERVABLE_AS_THUMBNAIL = ("JPEG", "PNG", "GIF", "WEBP")
MAX_ANIMATION_FRAMES = 200
JPEG_QUALITY = 85


class CannotThumbnail(Exception):
    """The content is not an image we can thumbnail (spec: 400)."""


class ImageTooLarge(Exception):
    """The image has more pixels than we agree to decode (spec: 413 local, 502 remote)."""


@dataclass(frozen=True, slots=True)
class ThumbnailTarget:
    """The size the cache is keyed on: a standard size or the exact request."""

    width: int
    height: int
    method: Method


@dataclass(frozen=True, slots=True)
class RenderedThumbnail:
    data: bytes
    content_type: str
    width: int
    height: int


def choose_target(width: int, height: int, method: Method) -> ThumbnailTarget:
    """The thumbnail size to make (and cache) for a request."""
    for std_w, std_h, std_method in STANDARD_SIZES:
        if std_method != method or std_w < width or std_h < height:
            continue
        if method == "crop" and std_w * height != std_h * width:
            continue  # crop keeps the requested aspect ratio
        return ThumbnailTarget(std_w, std_h, method)
    return ThumbnailTarget(width, height, method)


def scaled_size(src_w: int, src_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The largest size with the source's aspect ratio that fits the box (never upscaled)."""
    ratio = min(box_w / src_w, box_h / src_h, 1.0)
    return max(1, round(src_w * ratio)), max(1, round(src_h * ratio))


def crop_size(src_w: int, src_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """Output size of a crop: the box, or the largest box-shaped region of a smaller source."""
    if src_w >= box_w and src_h >= box_h:
        return box_w, box_h
    # Without upscaling, keep the requested aspect ratio inside the source.
    if src_w * box_h > src_h * box_w:
        return max(1, round(src_h * box_w / box_h)), src_h
    return src_w, max(1, round(src_w * box_h / box_w))


def open_image(source: bytes | Path, max_pixels: int) -> Image.Image:
    """Open (header only) and check the pixel count before anything is decoded."""
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source,
                           formats=DECODABLE_FORMATS)
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(str(e)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise CannotThumbnail(f"not a supported image: {e}") from None
    if image.width <= 0 or image.height <= 0:
        raise CannotThumbnail("image has no pixels")
    frames = getattr(image, "n_frames", 1)
    if image.width * image.height > max_pixels:
        raise ImageTooLarge(f"{image.width}x{image.height} is more than {max_pixels} pixels")
    if frames > 1 and image.width * image.height * min(frames, MAX_ANIMATION_FRAMES) > 4 * max_pixels:
        raise ImageTooLarge("animation has too many pixels")
    return image


def render(
    source: bytes | Path, target: ThumbnailTarget, *, animated: bool, max_pixels: int
) -> RenderedThumbnail | None:
    """Make the thumbnail; None when the original is already small enough to serve as is."""
    image = open_image(source, max_pixels)
    try:
        if image.width <= target.width and image.height <= target.height:
            # spec: "When the content is smaller than the requested dimensions, servers
            # should return the original content rather than thumbnail it."
            if image.format in SERVABLE_AS_THUMBNAIL:
                return None
            target = ThumbnailTarget(image.width, image.height, "scale")
        if animated and getattr(image, "n_frames", 1) > 1:
            return _render_animated(image, target)
        return _render_still(image, target)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise CannotThumbnail(f"cannot decode image: {e}") from None
    finally:
        image.close()


def _resize(frame: Image.Image, target: ThumbnailTarget) -> Image.Image:
    if target.method == "scale":
        return frame.resize(scaled_size(frame.width, frame.height, target.width, target.height),
                            Image.Resampling.LANCZOS)
    size = crop_size(frame.width, frame.height, target.width, target.height)
    return ImageOps.fit(frame, size, Image.Resampling.LANCZOS)


def _render_still(image: Image.Image, target: ThumbnailTarget) -> RenderedThumbnail:
    source_format = image.format
    image.seek(0)
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    frame = image.convert("RGBA" if has_alpha else "RGB")
    thumb = _resize(frame, target)
    out = io.BytesIO()
    if source_format == "JPEG" and not has_alpha:
        thumb.save(out, format="JPEG", quality=JPEG_QUALITY)
        content_type = "image/jpeg"
    else:
        thumb.save(out, format="PNG", optimize=True)
        content_type = "image/png"
    return RenderedThumbnail(out.getvalue(), content_type, thumb.width, thumb.height)


def _render_animated(image: Image.Image, target: ThumbnailTarget) -> RenderedThumbnail:
    # spec: "Servers SHOULD prefer to return image/webp thumbnails when supporting animation."
    frames: list[Image.Image] = []
    durations: list[int] = []
    for index, frame in enumerate(ImageSequence.Iterator(image)):
        if index >= MAX_ANIMATION_FRAMES:
            break
        frames.append(_resize(frame.convert("RGBA"), target))
        durations.append(int(frame.info.get("duration", 100)) or 100)
    out = io.BytesIO()
    frames[0].save(
        out, format="WEBP", save_all=True, append_images=frames[1:], duration=durations,
        loop=int(image.info.get("loop", 0)), quality=80,
    )
    return RenderedThumbnail(out.getvalue(), "image/webp", frames[0].width, frames[0].height)
