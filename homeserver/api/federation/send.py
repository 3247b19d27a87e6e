"""PUT /_matrix/federation/v1/send/{txnId} — spec: server-server-api.md, "Transactions"."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from homeserver.api.federation.request import require_origin
from homeserver.api.request import get_hs, parse_model, read_json_object
from homeserver.errors import MatrixError

routes = web.RouteTableDef()

MAX_PDUS = 50  # spec: "Transactions are limited in size; they can have at most 50 PDUs and 100 EDUs."
MAX_EDUS = 100


class TransactionBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    origin: str
    origin_server_ts: int
    pdus: list[dict[str, Any]] = Field(max_length=MAX_PDUS)
    # EDUs are checked one by one: a malformed EDU is dropped, not the transaction.
    edus: list[Any] = Field(default_factory=list, max_length=MAX_EDUS)


# 50 PDUs of up to 64 KiB each plus 100 EDUs: a full transaction from Synapse is bigger
# than the client API's body limit, and a 413 would make the sender retry it forever.
MAX_TRANSACTION_BYTES = 16 * 1024 * 1024


@routes.put("/_matrix/federation/v1/send/{txn_id}")
async def send_transaction(request: web.Request) -> web.Response:
    hs = get_hs(request)
    limit = max(MAX_TRANSACTION_BYTES, hs.config.limits.max_request_body_bytes)
    request = request.clone(client_max_size=limit)
    origin = await require_origin(request)  # reads and verifies the body too
    body = parse_model(TransactionBody, await read_json_object(request))
    if body.origin != origin:
        raise MatrixError("M_FORBIDDEN", 403, "Transaction origin does not match the signing server")
    # A valid request from the origin means it is up: retry anything we owe it now.
    hs.federation_sender.wake_destination(origin)
    answer = await hs.federation_receiver.receive(origin, request.match_info["txn_id"], body.pdus, body.edus)
    return web.json_response(answer)
