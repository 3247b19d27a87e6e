"""Server key endpoints: our own keys, and answering as a notary.

spec: server-server-api.md, "Publishing Keys" (GET /_matrix/key/v2/server) and
"Querying Keys Through Another Server" (GET and POST /_matrix/key/v2/query).
These need no authentication: Synapse sends an X-Matrix header to them
anyway (SYNAPSE.md §4), which is ignored here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from federation.crypto.base64 import encode_base64
from federation.crypto.signing import sign_json
from homeserver.api.request import get_hs, query_int, read_json_object
from homeserver.api.services import Services
from homeserver.errors import MatrixError
from schemas.identifiers import is_valid_server_name

routes = web.RouteTableDef()

# A notary answers for at most this many servers per request.
MAX_SERVERS_PER_QUERY = 100


def own_key_response(hs: Services) -> dict[str, Any]:
    """Our self-signed key response, valid for ``federation.key_validity_hours``."""
    now = hs.clock.time_ms()
    key = hs.signing_key
    response: dict[str, Any] = {
        "server_name": hs.server_name,
        "verify_keys": {key.key_id: {"key": key.verify_key_base64}},
        "old_verify_keys": {
            old.key_id: {"key": encode_base64(old.key_bytes), "expired_ts": old.expired_ts}
            for old in hs.keyring.own_old_keys.values()
            if old.key_id != key.key_id
        },
        "valid_until_ts": now + hs.config.federation.key_validity_hours * 3600 * 1000,
    }
    return sign_json(response, hs.server_name, key)


@routes.get("/_matrix/key/v2/server")
async def get_server_keys(request: web.Request) -> web.Response:
    return web.json_response(own_key_response(get_hs(request)))


# The deprecated form with a key ID in the path (/_matrix/key/v2/server/{keyId})
# is still requested by some servers; the key ID is ignored, as the spec said.
@routes.get("/_matrix/key/v2/server/{key_id}")
async def get_server_keys_by_id(request: web.Request) -> web.Response:
    return web.json_response(own_key_response(get_hs(request)))


async def _notary_answer(
    hs: Services, criteria: dict[str, tuple[list[str], int]]
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for server_name, (key_ids, minimum_valid_until_ts) in criteria.items():
        if server_name == hs.server_name:
            results.append(own_key_response(hs))
            continue
        responses = await hs.keyring.notary_responses(server_name, key_ids, minimum_valid_until_ts)
        # The notary adds its own signature to every response it returns.
        results.extend(sign_json(r, hs.server_name, hs.signing_key) for r in responses)
    return {"server_keys": results}


@routes.post("/_matrix/key/v2/query")
async def query_keys(request: web.Request) -> web.Response:
    hs = get_hs(request)
    body = await read_json_object(request)
    server_keys = body.get("server_keys")
    if not isinstance(server_keys, dict):
        raise MatrixError("M_BAD_JSON", 400, "server_keys must be an object")
    if len(server_keys) > MAX_SERVERS_PER_QUERY:
        raise MatrixError("M_INVALID_PARAM", 400, f"at most {MAX_SERVERS_PER_QUERY} servers per query")
    now = hs.clock.time_ms()
    criteria: dict[str, tuple[list[str], int]] = {}
    for server_name, keys in server_keys.items():
        if not is_valid_server_name(server_name):
            raise MatrixError("M_INVALID_PARAM", 400, f"not a server name: {server_name!r}")
        if not isinstance(keys, dict):
            raise MatrixError("M_BAD_JSON", 400, f"server_keys.{server_name} must be an object")
        minimum = now
        for key_id, key_criteria in keys.items():
            if not isinstance(key_criteria, dict):
                raise MatrixError("M_BAD_JSON", 400, f"criteria for {key_id} must be an object")
            value = key_criteria.get("minimum_valid_until_ts")
            if value is not None:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise MatrixError("M_BAD_JSON", 400, "minimum_valid_until_ts must be an integer")
                minimum = max(minimum, value)
        criteria[server_name] = (list(keys), minimum)
    return web.json_response(await _notary_answer(hs, criteria))


@routes.get("/_matrix/key/v2/query/{server_name}")
async def query_keys_for_server(request: web.Request) -> web.Response:
    hs = get_hs(request)
    server_name = request.match_info["server_name"]
    if not is_valid_server_name(server_name):
        raise MatrixError("M_INVALID_PARAM", 400, f"not a server name: {server_name!r}")
    minimum = query_int(request, "minimum_valid_until_ts", default=hs.clock.time_ms())
    return web.json_response(await _notary_answer(hs, {server_name: ([], minimum)}))
