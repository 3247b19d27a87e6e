"""Resolving server names (spec: server-server-api.md, "Resolving server names")."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from federation.crypto.signing import generate_signing_key
from federation.rooms.server_names import ServerNameError, parse_server_name
from federation.transport.client import FederationClient, TransportSettings, encode_query
from federation.transport.discovery import (
    WELL_KNOWN_DEFAULT_CACHE_S,
    WELL_KNOWN_MAX_CACHE_S,
    HttpWellKnownFetcher,
    ResolvedServer,
    ServerResolver,
    WellKnownResult,
    cache_seconds_from_headers,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedWellKnown:
    """A well-known fetcher answering from a table, counting lookups."""

    def __init__(self, answers: dict[str, WellKnownResult]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, hostname: str) -> WellKnownResult:
        self.lookups.append(hostname)
        return self.answers.get(hostname, WellKnownResult(None, 0.0))


@pytest.mark.parametrize(
    ("name", "host", "port"),
    [
        ("example.org", "example.org", None),
        ("example.org:8449", "example.org", 8449),
        ("127.0.0.1", "127.0.0.1", None),
        ("127.0.0.1:9000", "127.0.0.1", 9000),
        ("[::1]", "::1", None),
        ("[2001:db8::1]:8448", "2001:db8::1", 8448),
    ],
)
def test_server_names_split_into_host_and_port(name: str, host: str, port: int | None) -> None:
    address = parse_server_name(name)
    assert (address.host, address.port) == (host, port)


@pytest.mark.parametrize("name", ["", "::1", "[::1", "[example.org]:1", "a b", "host:0", "host:70000", "x/y"])
def test_invalid_server_names_are_rejected(name: str) -> None:
    with pytest.raises(ServerNameError):
        parse_server_name(name)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Step 1: IP literals, with the given port or 8448; Host is the server name.
        ("127.0.0.1:9000", ResolvedServer("127.0.0.1:9000", "127.0.0.1", 9000, "127.0.0.1:9000")),
        ("[::1]", ResolvedServer("[::1]", "::1", 8448, "[::1]")),
        ("[::1]:8000", ResolvedServer("[::1]:8000", "::1", 8000, "[::1]:8000")),
        # Step 2: a hostname with an explicit port never asks .well-known.
        ("example.org:8000", ResolvedServer("example.org:8000", "example.org", 8000, "example.org:8000")),
    ],
)
async def test_ip_literals_and_explicit_ports_need_no_lookup(name: str, expected: ResolvedServer) -> None:
    well_known = ScriptedWellKnown({})
    assert await ServerResolver(well_known).resolve(name) == expected
    assert well_known.lookups == []


async def test_ipv6_targets_are_bracketed_in_urls() -> None:
    resolved = await ServerResolver(ScriptedWellKnown({})).resolve("[::1]:8000")
    assert resolved.url_host == "[::1]"


@pytest.mark.parametrize(
    ("delegated", "connect_host", "port", "host_header"),
    [
        ("matrix.example.net:443", "matrix.example.net", 443, "matrix.example.net:443"),  # 3.2
        ("matrix.example.net", "matrix.example.net", 8448, "matrix.example.net"),  # 3.5 (no SRV)
        ("10.0.0.5", "10.0.0.5", 8448, "10.0.0.5"),  # 3.1
        ("[2001:db8::2]:9", "2001:db8::2", 9, "[2001:db8::2]:9"),  # 3.1 with port
    ],
)
async def test_well_known_delegation(delegated: str, connect_host: str, port: int, host_header: str) -> None:
    resolver = ServerResolver(ScriptedWellKnown({"example.org": WellKnownResult(delegated, 3600)}))
    resolved = await resolver.resolve("example.org")
    assert (resolved.connect_host, resolved.port, resolved.host_header) == (connect_host, port, host_header)
    assert resolved.server_name == "example.org"


async def test_without_well_known_the_hostname_is_used_on_8448() -> None:
    resolved = await ServerResolver(ScriptedWellKnown({})).resolve("example.org")
    assert resolved == ResolvedServer("example.org", "example.org", 8448, "example.org")


async def test_well_known_answers_are_cached_until_they_expire() -> None:
    clock = FakeClock()
    well_known = ScriptedWellKnown({"example.org": WellKnownResult("m.example.org:443", 600)})
    resolver = ServerResolver(well_known, monotonic=clock)
    await resolver.resolve("example.org")
    clock.now += 599
    await resolver.resolve("example.org")
    assert well_known.lookups == ["example.org"]
    clock.now += 2
    await resolver.resolve("example.org")
    assert well_known.lookups == ["example.org", "example.org"]


async def test_well_known_errors_are_cached_with_backoff_up_to_an_hour() -> None:
    clock = FakeClock()
    well_known = ScriptedWellKnown({})
    resolver = ServerResolver(well_known, monotonic=clock)
    gaps = []
    for _ in range(8):
        await resolver.resolve("example.org")
        start = clock.now
        while len(well_known.lookups) == len(gaps) + 1:
            clock.now += 30
            await resolver.resolve("example.org")
        gaps.append(clock.now - start)
    assert gaps[0] <= 150  # the first error is remembered for minutes
    assert gaps[1] > gaps[0]  # repeated failures back off
    assert max(gaps) <= 3600 + 30  # but never for more than an hour


def test_cache_control_is_respected_with_a_48_hour_cap() -> None:
    assert cache_seconds_from_headers(None) == WELL_KNOWN_DEFAULT_CACHE_S
    assert cache_seconds_from_headers("public, max-age=300") == 300
    assert cache_seconds_from_headers("max-age=999999999") == WELL_KNOWN_MAX_CACHE_S
    assert cache_seconds_from_headers("no-store") == 0


@pytest.fixture
async def well_known_server() -> AsyncIterator[tuple[TestServer, dict[str, web.Response]]]:
    """A loopback HTTP server whose /.well-known/matrix/server answers are set per test."""
    answers: dict[str, web.Response] = {}

    async def well_known(request: web.Request) -> web.Response:
        return answers["response"]

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/.well-known/matrix/server")

    app = web.Application()
    app.router.add_get("/.well-known/matrix/server", well_known)
    app.router.add_get("/moved", moved)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, answers
    await server.close()


async def test_well_known_is_fetched_over_http_and_parsed(
    well_known_server: tuple[TestServer, dict[str, web.Response]],
) -> None:
    server, answers = well_known_server
    answers["response"] = web.json_response(
        {"m.server": "delegated.example:8443"}, headers={"Cache-Control": "max-age=120"}
    )
    async with ClientSession() as session:
        fetch = HttpWellKnownFetcher(lambda: session, url_for=lambda host: str(server.make_url("/moved")))
        result = await fetch("example.org")
    assert result == WellKnownResult("delegated.example:8443", 120)  # redirect followed


@pytest.mark.parametrize(
    "response",
    [
        web.json_response({"m.server": "not a server name"}),
        web.json_response({"other": 1}),
        web.json_response(["m.server"]),
        web.Response(text="{not json", content_type="application/json"),
        web.json_response({"m.server": "ok.example"}, status=404),
    ],
)
async def test_invalid_well_known_answers_count_as_errors(
    well_known_server: tuple[TestServer, dict[str, web.Response]], response: web.Response
) -> None:
    server, answers = well_known_server
    answers["response"] = response
    async with ClientSession() as session:
        fetch = HttpWellKnownFetcher(lambda: session, url_for=lambda host: str(server.make_url("/.well-known/matrix/server")))
        assert (await fetch("example.org")).delegated_server is None


def _client(allow_plain_http: bool) -> FederationClient:
    return FederationClient("me.example", generate_signing_key(), TransportSettings(allow_plain_http=allow_plain_http))


async def test_plain_http_is_used_only_for_loopback_targets_when_allowed() -> None:
    loopback = ResolvedServer("127.0.0.1:9000", "127.0.0.1", 9000, "127.0.0.1:9000")
    loopback6 = ResolvedServer("[::1]:9000", "::1", 9000, "[::1]:9000")
    localhost = ResolvedServer("localhost:9000", "localhost", 9000, "localhost:9000")
    remote = ResolvedServer("10.1.2.3:9000", "10.1.2.3", 9000, "10.1.2.3:9000")
    allowed = _client(True)
    assert await allowed._transport_for(loopback) == ("http", "127.0.0.1")
    assert await allowed._transport_for(loopback6) == ("http", "::1")
    scheme, host = await allowed._transport_for(localhost)
    assert scheme == "http" and host in {"127.0.0.1", "::1"}  # pinned to the checked address
    # Off loopback, plain HTTP is refused: the request goes over HTTPS.
    assert await allowed._transport_for(remote) == ("https", "10.1.2.3")
    # Without the switch, even loopback is HTTPS.
    assert await _client(False)._transport_for(loopback) == ("https", "127.0.0.1")


def test_query_strings_are_percent_encoded_like_synapse() -> None:
    assert encode_query(None) == ""
    assert encode_query({"user_id": "@a:b.example", "ver": ["10", "11"], "limit": 5, "x": True}) == (
        "?user_id=%40a%3Ab.example&ver=10&ver=11&limit=5&x=true"
    )
