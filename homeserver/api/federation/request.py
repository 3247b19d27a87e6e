"""Inbound federation request checks: X-Matrix origin and server ACLs.

``origin = await require_origin(request)`` verifies the X-Matrix
Authorization header against the *raw* request target (path and query as
received, never the decoded path), the receiver's own name as destination,
and the JSON body (spec: server-server-api.md, "Request Authentication").
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from federation.keys import SignatureError
from federation.transport.x_matrix import XMatrixHeaderError, parse_x_matrix_header, verify_request
from homeserver.api.request import MAX_JSON_DEPTH, get_hs, json_nesting_depth
from homeserver.errors import MatrixError

logger = logging.getLogger(__name__)

_ORIGIN_KEY = "parley.federation_origin"


def _unauthorized(message: str) -> MatrixError:
    return MatrixError("M_UNAUTHORIZED", 401, message)


async def _signed_content(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    if json_nesting_depth(raw) > MAX_JSON_DEPTH:
        raise MatrixError("M_NOT_JSON", 400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MatrixError("M_NOT_JSON", 400, "Content not JSON.") from None


async def require_origin(request: web.Request) -> str:
    """The verified origin server of a federation request, or 401 M_UNAUTHORIZED."""
    cached = request.get(_ORIGIN_KEY)
    if isinstance(cached, str):
        return cached
    hs = get_hs(request)
    if not hs.config.federation.enabled:
        raise MatrixError("M_FORBIDDEN", 403, "Federation is disabled on this server")
    headers = [h for h in request.headers.getall("Authorization", []) if h.strip()[:8].lower() == "x-matrix"]
    if not headers:
        raise _unauthorized("Missing X-Matrix Authorization header")
    content = await _signed_content(request)
    problems: list[str] = []
    for header in headers:
        try:
            auth = parse_x_matrix_header(header)
        except XMatrixHeaderError as e:
            problems.append(str(e))
            continue
        try:
            key = await hs.keyring.get_verify_key(auth.origin, auth.key_id)
            verify_request(auth, request.method, request.raw_path, hs.server_name, content, key)
        except SignatureError as e:
            problems.append(f"{auth.origin} {auth.key_id}: {e}")
            continue
        request[_ORIGIN_KEY] = auth.origin
        return auth.origin
    logger.info("refused federation request %s %s: %s", request.method, request.raw_path, "; ".join(problems))
    raise _unauthorized("Invalid X-Matrix signature: " + "; ".join(problems))
