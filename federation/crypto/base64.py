"""Unpadded Base64 as Matrix uses it.

spec: appendices.md, "Unpadded Base64" and "URL-safe unpadded Base64".
Decoders SHOULD accept input with or without padding; we also accept the
URL-safe alphabet, since the two never conflict.
"""

from __future__ import annotations

import base64
import binascii

_URL_SAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


class Base64DecodeError(ValueError):
    """The input is not valid (unpadded, padded or URL-safe) base64."""


def encode_base64(data: bytes) -> str:
    """Standard-alphabet base64 without ``=`` padding."""
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def encode_base64_url_safe(data: bytes) -> str:
    """URL-safe-alphabet (``-`` and ``_``) base64 without ``=`` padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_base64(text: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise Base64DecodeError("base64 must be ASCII") from None
    raw = raw.rstrip(b"=").translate(_URL_SAFE_TO_STANDARD)
    if len(raw) % 4 == 1:
        raise Base64DecodeError("invalid base64 length")
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error as e:
        raise Base64DecodeError(f"invalid base64: {e}") from None
