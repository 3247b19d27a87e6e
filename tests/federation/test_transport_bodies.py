"""The federation client reads whole response bodies, and refuses oversized ones."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from federation.transport.errors import FederationResponseTooLarge
from tests.federation.harness import federated_homeservers

CHUNK = b"x" * 65_536
CHUNKS = 40  # 2.5 MiB, written in pieces with pauses between them

routes = web.RouteTableDef()


@routes.get("/_matrix/federation/v1/test_stream")
async def stream(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    await resp.prepare(request)
    for _ in range(CHUNKS):
        await resp.write(CHUNK)
        await asyncio.sleep(0)  # let each piece go out on its own
    await resp.write_eof()
    return resp


async def test_body_sent_in_pieces_arrives_whole(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2, extra_routes=routes) as (hs1, hs2):
        body, content_type = await hs1.hs.federation_client.get_bytes(
            hs2.server_name, "/_matrix/federation/v1/test_stream", max_bytes=10 * len(CHUNK) * CHUNKS
        )
        assert len(body) == len(CHUNK) * CHUNKS
        assert content_type == "application/octet-stream"


async def test_body_over_the_limit_is_refused(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2, extra_routes=routes) as (hs1, hs2):
        with pytest.raises(FederationResponseTooLarge):
            await hs1.hs.federation_client.get_bytes(
                hs2.server_name, "/_matrix/federation/v1/test_stream", max_bytes=len(CHUNK) * 3
            )
