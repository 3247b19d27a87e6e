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
    return safe_filename(name) if name else None


def safe_filename(name: str) -> str | None:
    """`name` reduced to a bare file name: no directories, no leading dots, no control characters."""
    name = PurePosixPath(name.replace("\\", "/")).name
    name = re.sub(r"[\x00-\x1f\x7f]", "_", name).lstrip(".")
    return name or None


THUMBNAIL_MAX = (320, 240)
"""The box a client-made thumbnail fits in (encrypted rooms: the server cannot make one)."""


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    mimetype: str
    width: int
    height: int

    def info(self) -> dict[str, Any]:
        """spec: ThumbnailInfo."""
        return {"w": self.width, "h": self.height, "mimetype": self.mimetype, "size": len(self.data)}


def make_thumbnail(data: bytes, box: tuple[int, int] = THUMBNAIL_MAX) -> Thumbnail | None:
    """A PNG (with transparency) or JPEG thumbnail of an image fitting in `box`, else None.
    CPU-bound: call in a thread."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail(box)
            keep_alpha = image.mode in ("RGBA", "LA", "P")
            converted = image.convert("RGBA" if keep_alpha else "RGB")
            out = io.BytesIO()
            converted.save(out, format="PNG" if keep_alpha else "JPEG", quality=80)
            return Thumbnail(out.getvalue(), "image/png" if keep_alpha else "image/jpeg",
                             int(converted.width), int(converted.height))
    except (UnidentifiedImageError, OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class MediaSource:
    """Where a media event's bytes are: an mxc:// URI, and the EncryptedFile object
    (key, IV, hash) when they are encrypted (spec: "Sending encrypted attachments")."""

    url: str
    file: dict[str, Any] | None = None

    @property
    def encrypted(self) -> bool:
        return self.file is not None


def media_source(content: dict[str, Any]) -> MediaSource | None:
    """The file of an m.image/m.file/m.audio/m.video content: `file` in encrypted rooms, else `url`."""
    return _source(content.get("file"), content.get("url"))


def thumbnail_source(content: dict[str, Any]) -> MediaSource | None:
    """The thumbnail an image's sender attached (`info.thumbnail_file` or `thumbnail_url`), if any."""
    info = content.get("info")
    if not isinstance(info, dict):
        return None
    return _source(info.get("thumbnail_file"), info.get("thumbnail_url"))


def _source(file: Any, url: Any) -> MediaSource | None:
    if isinstance(file, dict) and isinstance(file.get("url"), str) and file["url"].startswith("mxc://"):
        return MediaSource(file["url"], file)
    if isinstance(url, str) and url.startswith("mxc://"):
        return MediaSource(url)
    return None
