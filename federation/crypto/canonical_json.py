"""Canonical JSON, the byte encoding that Matrix signs and hashes.

spec: appendices.md, "Canonical JSON": the shortest UTF-8 JSON encoding with
object keys sorted by Unicode codepoint; numbers are integers in
[-(2**53)+1, (2**53)-1]; floats are not permitted.

We encode with orjson because this runs several times for every event sent.
orjson's output was checked against the spec's reference encoder
(``json.dumps(ensure_ascii=False, separators=(",", ":"), sort_keys=True)``):
both escape only ``"``, ``\\`` and U+0000..U+001F (using ``\\b \\t \\n \\f \\r``
where they exist and lowercase ``\\u00XX`` otherwise), and orjson sorts keys by
UTF-8 bytes, which is the same order as by codepoint. The tests compare the two
encoders on tricky strings so a change in orjson would be caught.

orjson itself rejects non-string keys, lone surrogates and (with
``OPT_STRICT_INTEGER``) integers outside the spec's range. It happily encodes
floats, though (and NaN as ``null``), and some non-JSON Python types, so a
cheap type walk runs first.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

CANONICAL_JSON_MAX_INT = 2**53 - 1
CANONICAL_JSON_MIN_INT = -CANONICAL_JSON_MAX_INT

_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER
    # Make orjson refuse (instead of silently encode) these non-JSON types.
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


class CanonicalJsonError(ValueError):
    """The value cannot be represented in canonical JSON."""


def encode_canonical_json(value: Any, *, strict: bool = True) -> bytes:
    """Encode ``value`` as canonical JSON bytes, or raise ``CanonicalJsonError``.

    ``strict=False`` is the encoding of room versions 1-5, where servers "MUST NOT
    strictly enforce" the number rules (spec: rooms/fragments/v1-canonical-json.md):
    floats and integers beyond ±(2**53 - 1) are encoded as Python's ``json`` writes
    them (``50.5``, ``1e+100``), which is what Synapse's canonicaljson signs and
    hashes. NaN and infinities are refused either way.
    """
    try:
        _reject_non_json_values(value)
        return orjson.dumps(value, option=_ORJSON_OPTIONS)
    except CanonicalJsonError:
        if strict:
            raise
    except TypeError as e:  # orjson.JSONEncodeError is a TypeError
        if strict:
            raise CanonicalJsonError(f"cannot encode as canonical JSON: {e}") from None
    return _encode_lenient(value)


def _encode_lenient(value: Any) -> bytes:
    try:
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError) as e:  # UnicodeEncodeError (lone surrogates) is a ValueError
        raise CanonicalJsonError(f"cannot encode as JSON: {e}") from None


def _reject_non_json_values(value: Any) -> None:
    """Raise for floats and other non-JSON scalars anywhere inside ``value``.

    Integers are range-checked here too so that the error names the value;
    orjson's OPT_STRICT_INTEGER is a second line of defence. The common
    scalar types are tested inline to keep this walk cheap.
    """
    value_type = type(value)
    if value_type is dict:
        for item in value.values():
            item_type = type(item)
            if item_type is str or item_type is bool or item is None:
                continue
            if item_type is int:
                if not CANONICAL_JSON_MIN_INT <= item <= CANONICAL_JSON_MAX_INT:
                    raise CanonicalJsonError(f"integer out of canonical JSON range: {item}")
                continue
            _reject_non_json_values(item)
    elif value_type is list or value_type is tuple:
        for item in value:
            item_type = type(item)
            if item_type is str or item_type is bool or item is None:
                continue
            if item_type is int:
                if not CANONICAL_JSON_MIN_INT <= item <= CANONICAL_JSON_MAX_INT:
                    raise CanonicalJsonError(f"integer out of canonical JSON range: {item}")
                continue
            _reject_non_json_values(item)
    elif value_type is str or value_type is bool or value is None:
        return
    elif value_type is int:
        if not CANONICAL_JSON_MIN_INT <= value <= CANONICAL_JSON_MAX_INT:
            raise CanonicalJsonError(f"integer out of canonical JSON range: {value}")
    elif isinstance(value, float):
        raise CanonicalJsonError(f"floats are not allowed in canonical JSON: {value!r}")
    # Subclasses of the JSON types (a StrEnum member, an OrderedDict) are encoded
    # as their base type, which is what orjson does with them.
    elif isinstance(value, dict):
        _reject_non_json_values(dict(value))
    elif isinstance(value, (list, tuple)):
        _reject_non_json_values(list(value))
    elif isinstance(value, int):  # includes IntEnum; bool was handled above
        _reject_non_json_values(int(value))
    elif isinstance(value, str):
        return
    else:
        # Anything else (UUID, Enum, datetime, bytes ...) has no canonical form.
        raise CanonicalJsonError(
            f"type {value_type.__name__} cannot be encoded as canonical JSON"
        )
