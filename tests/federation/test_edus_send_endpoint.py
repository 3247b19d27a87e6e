"""PUT /_matrix/federation/v1/send/{txnId} over real HTTP between two servers.

spec: server-server-api.md, "Transactions" (at most 50 PDUs and 100 EDUs) and
"Request Authentication" (X-Matrix).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import ClientSession

from federation.transport.errors import FederationHttpError
from tests.federation.harness import FederatedHomeserver, federated_homeservers
from tests.integration.sync_waiting import sync_until
from tests.integration.test_to_device import to_device_events


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[list[FederatedHomeserver]]:
    async with federated_homeservers(tmp_path, 2) as servers:
        yield servers


def transaction(origin: str, pdus: list[Any] | None = None, edus: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"origin": origin, "origin_server_ts": 1795259422641, "pdus": pdus or []}
    if edus is not None:
        body["edus"] = edus
    return body


async def put_send(sender: FederatedHomeserver, to: FederatedHomeserver, txn_id: str, body: Any) -> Any:
    return await sender.hs.federation_client.put_json(
        to.server_name, f"/_matrix/federation/v1/send/{txn_id}", body
    )


async def test_unsigned_transaction_is_401(pair: list[FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    async with ClientSession() as session, session.put(
        f"{hs2.base_url}/_matrix/federation/v1/send/t1", json=transaction(hs1.server_name)
    ) as resp:
        assert resp.status == 401
        assert (await resp.json())["errcode"] == "M_UNAUTHORIZED"


async def test_more_than_50_pdus_is_400(pair: list[FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    pdus = [{"room_id": "!r:x", "type": "m.room.message"}] * 51
    with pytest.raises(FederationHttpError) as err:
        await put_send(hs1, hs2, "too-many-pdus", transaction(hs1.server_name, pdus))
    assert err.value.status == 400 and err.value.errcode == "M_BAD_JSON"


async def test_more_than_100_edus_is_400(pair: list[FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    edus = [{"edu_type": "m.test", "content": {}}] * 101
    with pytest.raises(FederationHttpError) as err:
        await put_send(hs1, hs2, "too-many-edus", transaction(hs1.server_name, edus=edus))
    assert err.value.status == 400


@pytest.mark.parametrize("body", [
    {"origin_server_ts": 1, "pdus": []},
    {"origin": "x", "origin_server_ts": "soon", "pdus": []},
    {"origin": "x", "origin_server_ts": 1, "pdus": {}},
    {"origin": "x", "origin_server_ts": 1, "pdus": [], "edus": "none"},
])
async def test_malformed_transaction_is_400(pair: list[FederatedHomeserver], body: dict[str, Any]) -> None:
    hs1, hs2 = pair
    if body.get("origin") == "x":
        body = {**body, "origin": hs1.server_name}
    with pytest.raises(FederationHttpError) as err:
        await put_send(hs1, hs2, "malformed", body)
    assert err.value.status == 400 and err.value.errcode == "M_BAD_JSON"


async def test_origin_in_body_must_be_the_signing_server(pair: list[FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    with pytest.raises(FederationHttpError) as err:
        await put_send(hs1, hs2, "spoofed", transaction("someone.else:8448"))
    assert err.value.status == 403


async def test_transaction_with_only_edus_answers_empty_pdus(pair: list[FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    assert await put_send(hs1, hs2, "edus-only", transaction(hs1.server_name, edus=[])) == {"pdus": {}}


async def test_retried_transaction_is_applied_once(pair: list[FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    bob = await hs2.register("bob")
    since = (await bob.sync())["next_batch"]
    sender = f"@alice:{hs1.server_name}"

    def edu(n: int) -> dict[str, Any]:
        # distinct message_ids: only the (origin, txnId) dedupe can stop a second copy
        return {"edu_type": "m.direct_to_device", "content": {
            "sender": sender, "type": "m.test", "message_id": f"m{n}",
            "messages": {bob.user_id: {bob.device_id: {"n": 1}}}}}

    first = await put_send(hs1, hs2, "same-txn", transaction(hs1.server_name, edus=[edu(1)]))
    again = await put_send(hs1, hs2, "same-txn", transaction(hs1.server_name, edus=[edu(2)]))
    assert first == again == {"pdus": {}}
    response, token = await sync_until(bob, since, lambda r: bool(to_device_events(r)))
    assert len(to_device_events(response)) == 1
    assert to_device_events(await bob.sync(since=token)) == []


async def test_transaction_larger_than_the_client_body_limit_is_accepted(pair: list[FederatedHomeserver]) -> None:
    hs1, hs2 = pair
    padding = "x" * 60_000
    edus = [{"edu_type": "org.example.big", "content": {"n": i, "padding": padding}} for i in range(30)]
    body = transaction(hs1.server_name, edus=edus)
    assert len(orjson.dumps(body)) > hs2.config.limits.max_request_body_bytes
    assert await put_send(hs1, hs2, "big", body) == {"pdus": {}}
