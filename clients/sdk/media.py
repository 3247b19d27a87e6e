"""What to say about a file when sending it: msgtype and info (size, mimetype, w/h)."""

from __future__ import annotations

import io
import mimetypes
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import PurePosixPath
from typing import Any


@dataclass(frozen=True, slots=True)
class MediaDescription:
    msgtype: str
    mimetype: str
    info: dict[str, Any]


def guess_mimetype(filename: str, data: bytes) -> str:
    guessed, _ = mimetypes.guess_type(filename)
    if guessed:
        return guessed
    # A few magic numbers for files without a telling extension.
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def msgtype_for(mimetype: str) -> str:
    major = mimetype.split("/", 1)[0]
    return {"image": "m.image", "audio": "m.audio", "video": "m.video"}.get(major, "m.file")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an image Pillow can read, else None. CPU-bound: call in a thread."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.width), int(image.height)
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def describe(filename: str, data: bytes, mimetype: str | None = None) -> MediaDescription:
    """spec: m.image / m.file / m.audio / m.video `info` objects."""
    mimetype = mimetype or guess_mimetype(filename, data)
    msgtype = msgtype_for(mimetype)
    info: dict[str, Any] = {"size": len(data), "mimetype": mimetype}
    if msgtype == "m.image":
        size = image_size(data)
        if size is None:
            msgtype = "m.file"  # not an image we can read after all
        else:
            info["w"], info["h"] = size
    return MediaDescription(msgtype, mimetype, info)


def filename_from_disposition(header: str | None) -> str | None:
    """The file name a Content-Disposition header gives (RFC 6266: filename* wins), reduced to
    a bare name: no directories, no leading dots, no control characters."""
    if not header:
        return None
    message = Message()
    message["content-disposition"] = header
    # The email package decodes RFC 2231/5987 `filename*` into `filename` by itself.
    raw = message.get_param("filename", header="content-disposition")
    name = collapse_rfc2231_value(raw) if raw else None
    if not name:
        return None
    name = PurePosixPath(name.replace("\\", "/")).name
    name = re.sub(r"[\x00-\x1f\x7f]", "_", name).lstrip(".")
    return name or None
