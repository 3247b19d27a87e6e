"""Synapse 1.163.2's own key response and X-Matrix headers verify with our code.

Test vectors from /work/shared/interop/captures (SYNAPSE.md §11): hs2's key
response is self-signed, and every request hs2 (127.0.0.1:8482) sent verifies
against hs2's key over the raw path as captured, with hs1 as destination.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from federation.crypto.signing import SignatureError
from federation.keys import parse_key_response
from federation.transport.x_matrix import parse_x_matrix_header, verify_request

CAPTURES = Path("/work/shared/interop/captures")
HS1, HS2 = "127.0.0.1:8481", "127.0.0.1:8482"

pytestmark = pytest.mark.skipif(not CAPTURES.is_dir(), reason="Synapse captures not available")


def _capture(name: str) -> dict[str, Any]:
    return json.loads((CAPTURES / name).read_text())  # type: ignore[no-any-return]


def _hs2_key() -> bytes:
    [key] = parse_key_response(_capture("key_v2_server.json")["response"]["body"], HS2, 0)
    return key.key_bytes


def _requests_from_hs2() -> list[str]:
    if not CAPTURES.is_dir():
        return []
    return sorted(
        p.name for p in CAPTURES.glob("*.json")
        if f'origin="{HS2}"' in json.loads(p.read_text())["request"]["headers"].get("Authorization", "")
    )


def test_synapse_key_response_is_accepted() -> None:
    body = _capture("key_v2_server.json")["response"]["body"]
    [key] = parse_key_response(body, HS2, 0)
    assert key.key_id == "ed25519:a_4385"
    assert key.valid_until_ts == body["valid_until_ts"]


def test_synapse_key_response_for_another_name_is_refused() -> None:
    body = _capture("key_v2_server.json")["response"]["body"]
    with pytest.raises(SignatureError):
        parse_key_response(body, HS1, 0)


@pytest.mark.parametrize("name", _requests_from_hs2())
def test_synapse_request_signature_verifies_over_the_raw_path(name: str) -> None:
    request = _capture(name)["request"]
    auth = parse_x_matrix_header(request["headers"]["Authorization"])
    assert (auth.origin, auth.destination) == (HS2, HS1)
    verify_request(auth, request["method"], request["path"], HS1, request["body"], _hs2_key())


def test_synapse_request_does_not_verify_over_the_decoded_path() -> None:
    from urllib.parse import unquote

    request = _capture("make_join.json")["request"]
    auth = parse_x_matrix_header(request["headers"]["Authorization"])
    with pytest.raises(SignatureError):
        verify_request(auth, request["method"], unquote(request["path"]), HS1, request["body"], _hs2_key())
