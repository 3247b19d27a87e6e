"""X-Matrix request signing and header parsing (spec: "Request Authentication")."""

from __future__ import annotations

import pytest

from federation.crypto.signing import SignatureError, generate_signing_key
from federation.transport.x_matrix import (
    XMatrixHeaderError,
    parse_x_matrix_header,
    sign_request,
    verify_request,
)

ORIGIN = "origin.example:8448"
DESTINATION = "127.0.0.1:9000"
KEY = generate_signing_key("k1")
URI = "/_matrix/federation/v1/query/profile?user_id=%40alice%3A127.0.0.1%3A9000&field=displayname"
BODY = {"pdus": [], "origin": ORIGIN}


def _signed(method: str = "PUT", uri: str = URI, body: object = BODY) -> str:
    return sign_request(KEY, ORIGIN, DESTINATION, method, uri, body)


def test_signature_round_trip_verifies() -> None:
    auth = parse_x_matrix_header(_signed())
    assert (auth.origin, auth.key_id, auth.destination) == (ORIGIN, "ed25519:k1", DESTINATION)
    verify_request(auth, "PUT", URI, DESTINATION, BODY, KEY.verify_key_bytes)


def test_request_without_body_verifies_without_content() -> None:
    auth = parse_x_matrix_header(_signed("GET", URI, None))
    verify_request(auth, "GET", URI, DESTINATION, None, KEY.verify_key_bytes)


@pytest.mark.parametrize(
    ("method", "uri", "body"),
    [
        ("PUT", URI, {"pdus": [], "origin": "evil.example"}),  # tampered body
        ("PUT", URI.replace("displayname", "avatar_url"), BODY),  # tampered query
        ("PUT", URI.replace("%40", "@").replace("%3A", ":"), BODY),  # decoded instead of raw
        ("POST", URI, BODY),  # tampered method
        ("PUT", URI, None),  # body dropped
    ],
)
def test_tampered_request_does_not_verify(method: str, uri: str, body: object) -> None:
    auth = parse_x_matrix_header(_signed())
    with pytest.raises(SignatureError):
        verify_request(auth, method, uri, DESTINATION, body, KEY.verify_key_bytes)


def test_request_for_another_destination_is_refused() -> None:
    auth = parse_x_matrix_header(_signed())
    with pytest.raises(SignatureError, match="addressed to"):
        verify_request(auth, "PUT", URI, "other.example", BODY, KEY.verify_key_bytes)


def test_signature_by_another_key_does_not_verify() -> None:
    auth = parse_x_matrix_header(_signed())
    with pytest.raises(SignatureError):
        verify_request(auth, "PUT", URI, DESTINATION, BODY, generate_signing_key("k1").verify_key_bytes)


def test_header_without_destination_is_accepted_for_older_servers() -> None:
    header = _signed().replace(f',destination="{DESTINATION}"', "")
    auth = parse_x_matrix_header(header)
    assert auth.destination is None
    verify_request(auth, "PUT", URI, DESTINATION, BODY, KEY.verify_key_bytes)


@pytest.mark.parametrize(
    "header",
    [
        'X-Matrix origin="a.example:8448",key="ed25519:k1",sig="c2ln",destination="b.example"',
        'x-matrix  Origin="a.example:8448" , KEY="ed25519:k1",\tsig="c2ln" ,destination=b.example',
        'X-Matrix origin=a.example:8448,key=ed25519:k1,sig=c2ln,destination="b.example"',
        'X-Matrix sig="c2ln",unknown="x, y=z",key="ed25519:k1",origin="a.example:8448",destination="b.example"',
        'X-Matrix origin="a.example:8448",key="ed25519:k1",sig="c2ln",destination="b\\.example"',
    ],
)
def test_header_parsing_follows_rfc9110_parameters(header: str) -> None:
    auth = parse_x_matrix_header(header)
    assert auth.origin == "a.example:8448"
    assert auth.key_id == "ed25519:k1"
    assert auth.signature == "c2ln"
    assert auth.destination == "b.example"


@pytest.mark.parametrize(
    "header",
    [
        'Bearer abc',
        'X-Matrix',
        'X-Matrix key="ed25519:k1",sig="c2ln"',  # no origin
        'X-Matrix origin="a.example",sig="c2ln"',  # no key
        'X-Matrix origin="a.example",key="ed25519:k1"',  # no sig
        'X-Matrix origin="not a server",key="ed25519:k1",sig="c2ln"',
        'X-Matrix origin="a.example,key="ed25519:k1",sig="c2ln"',  # unbalanced quote
    ],
)
def test_malformed_headers_are_rejected(header: str) -> None:
    with pytest.raises(XMatrixHeaderError):
        parse_x_matrix_header(header)
