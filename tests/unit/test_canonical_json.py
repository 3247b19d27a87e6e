"""Canonical JSON per spec appendices.md, "Canonical JSON", plus base64 helpers."""

from __future__ import annotations

import collections
import enum
import json
import uuid
from typing import Any

import pytest

from federation.crypto.base64 import (
    Base64DecodeError,
    decode_base64,
    encode_base64,
    encode_base64_url_safe,
)
from federation.crypto.canonical_json import CanonicalJsonError, encode_canonical_json


def spec_reference_encoding(value: Any) -> bytes:
    # The reference encoder given in the spec appendix.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(
        "UTF-8"
    )


# spec: appendices.md, "Canonical JSON" > "Examples" (numbers already parsed as ints).
SPEC_EXAMPLES: list[tuple[Any, bytes]] = [
    ({}, b"{}"),
    ({"one": 1, "two": "Two"}, b'{"one":1,"two":"Two"}'),
    ({"b": "2", "a": "1"}, b'{"a":"1","b":"2"}'),
    (
        {
            "auth": {
                "success": True,
                "mxid": "@john.doe:example.com",
                "profile": {
                    "display_name": "John Doe",
                    "three_pids": [
                        {"medium": "email", "address": "john.doe@example.org"},
                        {"medium": "msisdn", "address": "123456789"},
                    ],
                },
            }
        },
        b'{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",'
        b'"three_pids":[{"address":"john.doe@example.org","medium":"email"},'
        b'{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ),
    ({"a": "日本語"}, '{"a":"日本語"}'.encode()),
    ({"本": 2, "日": 1}, '{"日":1,"本":2}'.encode()),
    ({"a": "\u65e5"}, '{"a":"日"}'.encode()),
    ({"a": None}, b'{"a":null}'),
    ({"a": -0, "b": 10000000000}, b'{"a":0,"b":10000000000}'),
]


@pytest.mark.parametrize(("value", "expected"), SPEC_EXAMPLES)
def test_spec_examples_encode_as_given(value: Any, expected: bytes) -> None:
    assert encode_canonical_json(value) == expected


def test_spec_example_parsed_from_json_text_with_exponent() -> None:
    # The spec's "1e10" example: a JSON parser gives a float here, which is not
    # allowed, but once parsed as an integer it encodes without exponent.
    parsed = json.loads('{"a": -0, "b": 1e10}', parse_float=lambda s: int(float(s)))
    assert encode_canonical_json(parsed) == b'{"a":0,"b":10000000000}'


TRICKY_STRINGS = [
    "".join(chr(c) for c in range(0x00, 0x80)),  # every ASCII char, incl. controls and DEL
    "quote \" backslash \\ slash / ",
    "\u2028\u2029 line/paragraph separators",
    "\ufeff BOM and \ufffe\uffff noncharacters",
    "astral \U0001f600 \U0010ffff",
    "\u0080\u009f C1 controls",
    "combining e\u0301 and é",
    "",
]


@pytest.mark.parametrize("text", TRICKY_STRINGS)
def test_string_escaping_matches_spec_reference_encoder(text: str) -> None:
    value = {text: text, "list": [text, {text: [text]}]}
    assert encode_canonical_json(value) == spec_reference_encoding(value)


def test_only_control_characters_quote_and_backslash_are_escaped() -> None:
    encoded = encode_canonical_json(["\x7f\u2028é/"])
    assert encoded == '["\x7f\u2028é/"]'.encode()
    assert encode_canonical_json(["\x01\x1f\b"]) == b'["\\u0001\\u001f\\b"]'


def test_keys_sort_by_codepoint_not_utf16() -> None:
    # U+FFFF sorts before U+10000 by codepoint; UTF-16 code units would put
    # the astral character (surrogate 0xD800) first.
    value = {"\U00010000": 2, "\uffff": 1, "\ue000": 0}
    assert encode_canonical_json(value) == spec_reference_encoding(value)
    assert encode_canonical_json(value).index("\uffff".encode()) < encode_canonical_json(
        value
    ).index("\U00010000".encode())


def test_nested_objects_have_sorted_keys() -> None:
    assert encode_canonical_json({"z": {"b": 1, "a": [{"d": 1, "c": 2}]}}) == (
        b'{"z":{"a":[{"c":2,"d":1}],"b":1}}'
    )


def test_integer_range_limits_are_inclusive() -> None:
    assert encode_canonical_json([2**53 - 1, -(2**53) + 1]) == (
        b"[9007199254740991,-9007199254740991]"
    )


@pytest.mark.parametrize("number", [2**53, -(2**53), 2**64, -(2**70)])
def test_integers_outside_range_are_rejected(number: int) -> None:
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json({"n": number})
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json([number])
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json(number)


@pytest.mark.parametrize("number", [1.0, 0.5, -0.0, float("nan"), float("inf"), 1e10])
def test_floats_are_rejected_anywhere(number: float) -> None:
    for value in (number, {"a": number}, [number], {"a": [{"b": number}]}):
        with pytest.raises(CanonicalJsonError):
            encode_canonical_json(value)


def test_lone_surrogates_are_rejected() -> None:
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json({"a": "\ud800"})
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json({"\udfff": 1})


@pytest.mark.parametrize("key", [1, None, True, (1, 2)])
def test_non_string_keys_are_rejected(key: Any) -> None:
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json({key: 1})


@pytest.mark.parametrize("value", [uuid.uuid4(), b"bytes", {1, 2}, object()])
def test_non_json_types_are_rejected(value: Any) -> None:
    with pytest.raises(CanonicalJsonError):
        encode_canonical_json({"a": value})


def test_canonical_json_error_is_a_value_error() -> None:
    assert issubclass(CanonicalJsonError, ValueError)


def test_subclasses_of_json_types_encode_as_their_base_type() -> None:
    class Membership(enum.StrEnum):
        JOIN = "join"

    class Level(enum.IntEnum):
        MOD = 50

    value = {"m": Membership.JOIN, "p": Level.MOD, "o": collections.OrderedDict(b=1, a=2)}
    assert encode_canonical_json(value) == b'{"m":"join","o":{"a":2,"b":1},"p":50}'


def test_int_enum_out_of_range_is_rejected() -> None:
    class Huge(enum.IntEnum):
        BIG = 2**60

    with pytest.raises(CanonicalJsonError):
        encode_canonical_json([Huge.BIG])


def test_booleans_are_not_mistaken_for_integers() -> None:
    assert encode_canonical_json({"t": True, "f": False}) == b'{"f":false,"t":true}'


def test_tuples_encode_as_arrays() -> None:
    assert encode_canonical_json({"a": (1, "x")}) == b'{"a":[1,"x"]}'


# --- base64 -------------------------------------------------------------

# spec: appendices.md, "Unpadded Base64".
UNPADDED_EXAMPLES = [
    (b"", ""),
    (b"f", "Zg"),
    (b"fo", "Zm8"),
    (b"foo", "Zm9v"),
    (b"foob", "Zm9vYg"),
    (b"fooba", "Zm9vYmE"),
    (b"foobar", "Zm9vYmFy"),
]


@pytest.mark.parametrize(("raw", "encoded"), UNPADDED_EXAMPLES)
def test_unpadded_base64_matches_spec_examples(raw: bytes, encoded: str) -> None:
    assert encode_base64(raw) == encoded
    assert decode_base64(encoded) == raw


@pytest.mark.parametrize(("raw", "encoded"), UNPADDED_EXAMPLES)
def test_decode_accepts_padded_input(raw: bytes, encoded: str) -> None:
    padded = encoded + "=" * (-len(encoded) % 4)
    assert decode_base64(padded) == raw


def test_url_safe_encoding_uses_minus_and_underscore_without_padding() -> None:
    raw = bytes([0xFB, 0xFF, 0xBF])
    assert encode_base64(raw) == "+/+/"
    assert encode_base64_url_safe(raw) == "-_-_"
    assert encode_base64_url_safe(b"\xff") == "_w"


def test_decode_accepts_url_safe_alphabet() -> None:
    assert decode_base64("-_-_") == bytes([0xFB, 0xFF, 0xBF])
    assert decode_base64("_w") == b"\xff"


@pytest.mark.parametrize("bad", ["Z", "Zm9v!", "Zm 9v", "日本", "Zm9vY"])
def test_decode_rejects_invalid_input(bad: str) -> None:
    with pytest.raises(Base64DecodeError):
        decode_base64(bad)
