"""aiohttp middlewares: spec errors, CORS, and no tracebacks to clients."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from federation.crypto.canonical_json import CanonicalJsonError
from homeserver.api.response import json_response
from homeserver.errors import MatrixError

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# spec: client-server-api/_index.md, "Web Browser Clients"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
    "Access-Control-Max-Age": "86400",
}


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return web.Response(status=204, headers=CORS_HEADERS)
    response = await handler(request)
    if not response.prepared:
        response.headers.update(CORS_HEADERS)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except MatrixError as e:
        headers = None
        retry_after_ms = e.extra.get("retry_after_ms")
        if isinstance(retry_after_ms, int):
            # spec: 429 responses SHOULD carry Retry-After (seconds) besides retry_after_ms.
            headers = {"Retry-After": str(max(1, -(-retry_after_ms // 1000)))}
        return json_response(e.to_json(), status=e.status, headers=headers)
    except CanonicalJsonError as e:
        # Client-supplied content with floats or out-of-range integers cannot be an event.
        return json_response({"errcode": "M_BAD_JSON", "error": str(e)}, status=400)
    except web.HTTPRequestEntityTooLarge:
        return json_response(
            {"errcode": "M_TOO_LARGE", "error": "Request body too large"}, status=413
        )
    except web.HTTPNotFound:
        return json_response({"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}, 404)
    except web.HTTPMethodNotAllowed:
        return json_response(
            {"errcode": "M_UNRECOGNIZED", "error": "Method not allowed for this endpoint"}, 405
        )
    except web.HTTPException as e:
        if e.status >= 400:
            return json_response({"errcode": "M_UNKNOWN", "error": e.reason}, e.status)
        raise
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json_response({"errcode": "M_UNKNOWN", "error": "Internal server error"}, 500)
