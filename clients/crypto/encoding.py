"""Byte-level encodings shared by Olm and Megolm.

* Matrix's unpadded base64 (appendices.md, "Unpadded Base64"); decoding also
  accepts padded input, as the spec recommends.
* The protobuf-like key/value payload of olm.md, "The Olm Message Format":
  varint tags whose low 3 bits give the type (0 = varint, 2 = length-prefixed
  string), little-endian base-128 varints.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from clients.crypto.errors import DecodeError

WIRE_VARINT = 0
WIRE_STRING = 2

Field = tuple[int, int | bytes]
"""One decoded payload entry: (tag, value); value is int for varints, bytes for strings."""


def encode_base64(data: bytes) -> str:
    """Standard-alphabet base64 without '=' padding."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def decode_base64(text: str | bytes) -> bytes:
    """Decode unpadded (or padded) standard base64; raise DecodeError on bad input."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecodeError("base64 input is not ASCII") from exc
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1:
        raise DecodeError("invalid base64 length")
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"invalid base64: {exc}") from exc


def encode_varint(value: int) -> bytes:
    """Base-128 varint, least significant group first, high bit = continuation."""
    if value < 0:
        raise ValueError("varints encode non-negative integers only")
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read a varint at `pos`; return (value, position after it)."""
    value = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def encode_fields(fields: Iterable[Field]) -> bytes:
    """Encode (tag, value) pairs; the tag's low 3 bits must match the value's type."""
    out = bytearray()
    for tag, value in fields:
        wire_type = tag & 0x07
        out += encode_varint(tag)
        if isinstance(value, int):
            if wire_type != WIRE_VARINT:
                raise ValueError(f"tag {tag:#x} is not an integer tag")
            out += encode_varint(value)
        else:
            if wire_type != WIRE_STRING:
                raise ValueError(f"tag {tag:#x} is not a string tag")
            out += encode_varint(len(value))
            out += value
    return bytes(out)


def decode_fields(payload: bytes) -> dict[int, int | bytes]:
    """Decode a key/value payload into {tag: value}.

    Unknown tags are kept (the caller ignores what it does not need); a later
    occurrence of a tag overrides an earlier one, as in protobuf.
    """
    fields: dict[int, int | bytes] = {}
    pos = 0
    while pos < len(payload):
        tag, pos = decode_varint(payload, pos)
        wire_type = tag & 0x07
        if wire_type == WIRE_VARINT:
            value, pos = decode_varint(payload, pos)
            fields[tag] = value
        elif wire_type == WIRE_STRING:
            length, pos = decode_varint(payload, pos)
            if pos + length > len(payload):
                raise DecodeError("truncated string field")
            fields[tag] = payload[pos : pos + length]
            pos += length
        else:
            raise DecodeError(f"unsupported field type {wire_type} in tag {tag:#x}")
    return fields


def require_bytes(fields: dict[int, int | bytes], tag: int, name: str, length: int | None = None) -> bytes:
    """Fetch a mandatory string field, optionally checking its length."""
    value = fields.get(tag)
    if not isinstance(value, bytes):
        raise DecodeError(f"missing {name}")
    if length is not None and len(value) != length:
        raise DecodeError(f"{name} must be {length} bytes, got {len(value)}")
    return value


def require_int(fields: dict[int, int | bytes], tag: int, name: str) -> int:
    """Fetch a mandatory integer field."""
    value = fields.get(tag)
    if not isinstance(value, int):
        raise DecodeError(f"missing {name}")
    return value
