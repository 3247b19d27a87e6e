"""Small pictures as plain text (pure): avatars and image previews for terminals.

Plain characters only (a grey ramp, no colour escape sequences), so a preview passes
through ``literal.shown`` unchanged and works in every terminal and in Textual. Decoding
is CPU work: call from a thread.
"""

from __future__ import annotations

import io

# From light to dark, for a dark-on-light reading; terminal cells are about twice as tall as wide.
RAMP = " .:-=+*#%@"
DEFAULT_WIDTH = 24


def text_art(data: bytes, width: int = DEFAULT_WIDTH) -> str | None:
    """`data` (any image Pillow reads) as lines of ``RAMP`` characters, or None if it is no image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            grey = image.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    columns = max(1, min(width, grey.width))
    rows = max(1, round(grey.height * columns / grey.width / 2))
    small = grey.resize((columns, rows))
    pixels = small.tobytes()  # one byte per pixel in mode "L"
    last = len(RAMP) - 1
    lines = []
    for row in range(rows):
        values = pixels[row * columns:(row + 1) * columns]
        lines.append("".join(RAMP[last - (int(v) * last) // 255] for v in values))
    return "\n".join(lines)
