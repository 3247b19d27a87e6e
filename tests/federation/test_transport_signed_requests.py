"""Signed requests between two in-process servers: the FederationClient signs,
``require_origin`` verifies against the raw URI and body (spec: "Request Authentication")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from yarl import URL

from federation.crypto.signing import generate_signing_key
from federation.transport.errors import FederationHttpError, FederationUnreachable
from federation.transport.x_matrix import sign_request
from homeserver.api.federation.request import require_origin
from homeserver.api.request import read_json_object
from tests.federation.harness import FederatedHomeserver, federated_homeservers

ECHO = "/_matrix/federation/unstable/org.parley.test/echo"
echo_routes = web.RouteTableDef()


@echo_routes.route("*", ECHO + "/{thing}")
async def echo(request: web.Request) -> web.Response:
    """Test-only endpoint: who signed this request, and what did it carry."""
    origin = await require_origin(request)
    body = await read_json_object(request, allow_empty=True)
    return web.json_response(
        {"origin": origin, "thing": request.match_info["thing"], "query": dict(request.query), "body": body}
    )


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[FederatedHomeserver, FederatedHomeserver]]:
    async with federated_homeservers(tmp_path, 2, extra_routes=echo_routes) as (hs1, hs2):
        yield hs1, hs2


async def test_signed_get_with_encoded_path_and_query_is_accepted(
    pair: tuple[FederatedHomeserver, FederatedHomeserver],
) -> None:
    hs1, hs2 = pair
    user_id = f"@alice:{hs1.server_name}"
    answer = await hs1.hs.federation_client.get_json(
        hs2.server_name, f"{ECHO}/{quote(user_id, safe='')}", {"user_id": user_id, "ver": ["10", "12"]}
    )
    assert answer == {"origin": hs1.server_name, "thing": user_id, "query": {"user_id": user_id, "ver": "10"}, "body": {}}


@pytest.mark.parametrize("method", ["put", "post"])
async def test_signed_bodies_are_accepted(
    pair: tuple[FederatedHomeserver, FederatedHomeserver], method: str
) -> None:
    hs1, hs2 = pair
    body = {"pdus": [], "nested": {"text": "héllo ☃", "n": 1}}
    send = getattr(hs1.hs.federation_client, f"{method}_json")
    answer = await send(hs2.server_name, f"{ECHO}/txn1", body)
    assert answer["origin"] == hs1.server_name
    assert answer["body"] == body


async def test_both_directions_fetch_each_others_keys(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    assert (await hs2.hs.federation_client.get_json(hs1.server_name, f"{ECHO}/x"))["origin"] == hs2.server_name
    assert (await hs1.hs.federation_client.get_json(hs2.server_name, f"{ECHO}/x"))["origin"] == hs1.server_name


async def _raw(
    server: FederatedHomeserver, method: str, uri: str, authorization: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": authorization} if authorization else {}
    async with server.session.request(
        method, URL(server.base_url + uri, encoded=True), json=body, headers=headers
    ) as resp:
        return resp.status, await resp.json()


def _sign(hs1: FederatedHomeserver, hs2: FederatedHomeserver, method: str, uri: str, body: Any = None) -> str:
    return sign_request(hs1.hs.signing_key, hs1.server_name, hs2.server_name, method, uri, body)


async def _assert_unauthorized(result: tuple[int, Any], fragment: str) -> None:
    status, body = result
    assert status == 401, body
    assert body["errcode"] == "M_UNAUTHORIZED"
    assert fragment in body["error"]


async def test_unsigned_request_is_401(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    _, hs2 = pair
    await _assert_unauthorized(await _raw(hs2, "GET", f"{ECHO}/x", None), "Missing X-Matrix")


async def test_tampered_body_is_401(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    auth = _sign(hs1, hs2, "PUT", f"{ECHO}/x", {"a": 1})
    await _assert_unauthorized(await _raw(hs2, "PUT", f"{ECHO}/x", auth, {"a": 2}), "signature")


async def test_tampered_path_is_401(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    auth = _sign(hs1, hs2, "GET", f"{ECHO}/x")
    await _assert_unauthorized(await _raw(hs2, "GET", f"{ECHO}/y", auth), "signature")


async def test_signature_over_decoded_path_does_not_match_raw_path(
    pair: tuple[FederatedHomeserver, FederatedHomeserver],
) -> None:
    hs1, hs2 = pair
    auth = _sign(hs1, hs2, "GET", f"{ECHO}/@a:b")
    await _assert_unauthorized(await _raw(hs2, "GET", f"{ECHO}/%40a%3Ab", auth), "signature")


async def test_tampered_method_is_401(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    auth = _sign(hs1, hs2, "PUT", f"{ECHO}/x", {})
    await _assert_unauthorized(await _raw(hs2, "POST", f"{ECHO}/x", auth, {}), "signature")


async def test_request_for_another_destination_is_401(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    auth = sign_request(hs1.hs.signing_key, hs1.server_name, "elsewhere.example", "GET", f"{ECHO}/x")
    await _assert_unauthorized(await _raw(hs2, "GET", f"{ECHO}/x", auth), "addressed to elsewhere.example")


async def test_signature_by_unpublished_key_is_401(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    rogue = generate_signing_key("rogue")
    auth = sign_request(rogue, hs1.server_name, hs2.server_name, "GET", f"{ECHO}/x")
    await _assert_unauthorized(await _raw(hs2, "GET", f"{ECHO}/x", auth), "unknown key ed25519:rogue")


async def test_unreachable_origin_is_401(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    _, hs2 = pair
    key = generate_signing_key()
    auth = sign_request(key, "127.0.0.1:1", hs2.server_name, "GET", f"{ECHO}/x")
    await _assert_unauthorized(await _raw(hs2, "GET", f"{ECHO}/x", auth), "127.0.0.1:1")


async def test_malformed_header_is_401(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    _, hs2 = pair
    await _assert_unauthorized(await _raw(hs2, "GET", f"{ECHO}/x", 'X-Matrix origin="a.example"'), "no key")


async def test_error_answers_become_federation_http_errors(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    with pytest.raises(FederationHttpError) as caught:
        await hs1.hs.federation_client.get_json(hs2.server_name, "/_matrix/federation/v1/no_such_endpoint")
    assert caught.value.status == 404
    assert caught.value.errcode == "M_UNRECOGNIZED"


async def test_stopped_server_is_unreachable(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    await hs2.stop()
    with pytest.raises(FederationUnreachable) as caught:
        await hs1.hs.federation_client.get_json(hs2.server_name, f"{ECHO}/x", timeout=5)
    assert caught.value.destination == hs2.server_name


async def test_get_bytes_enforces_max_bytes(pair: tuple[FederatedHomeserver, FederatedHomeserver]) -> None:
    from federation.transport.errors import FederationBadResponse

    hs1, hs2 = pair
    raw, content_type = await hs1.hs.federation_client.get_bytes(hs2.server_name, "/_matrix/key/v2/server", max_bytes=100_000)
    assert content_type.startswith("application/json") and raw.startswith(b"{")
    with pytest.raises(FederationBadResponse):
        await hs1.hs.federation_client.get_bytes(hs2.server_name, "/_matrix/key/v2/server", max_bytes=10)
