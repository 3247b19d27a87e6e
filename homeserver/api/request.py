"""Reading requests: the homeserver's services, JSON bodies, access tokens, path parts.

Handlers call these so that every endpoint rejects bad input the same way:
M_NOT_JSON for bytes that are not a JSON object, M_BAD_JSON (or the model's
own errcode) for the wrong shapes, M_MISSING_TOKEN / M_UNKNOWN_TOKEN for auth.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from homeserver.errors import MatrixError

if TYPE_CHECKING:
    from homeserver.api.services import Services
    from homeserver.services.accounts.auth import Requester

HOMESERVER_KEY: web.AppKey[Services] = web.AppKey("homeserver")

M = TypeVar("M", bound=BaseModel)


def get_hs(request: web.Request) -> Services:
    return request.app[HOMESERVER_KEY]


# orjson recurses on the C stack: ~100k nested objects crash the process (segfault),
# and deep values that do parse overflow Python's recursion in later walks (canonical
# JSON, redaction). No Matrix body needs more than a few levels.
MAX_JSON_DEPTH = 128
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_nesting_depth(raw: bytes) -> int:
    """How deeply the arrays and objects in raw nest (brackets inside strings ignored)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # cannot be deeper than the limit: skip the scan
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(_DEPTH_STEP[b] for b in brackets), default=0)


async def read_json_object(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object (spec: bodies are JSON objects)."""
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            return {}
        raise MatrixError("M_NOT_JSON", 400, "Request body is empty; expected a JSON object")
    if json_nesting_depth(raw) > MAX_JSON_DEPTH:
        raise MatrixError("M_NOT_JSON", 400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MatrixError("M_NOT_JSON", 400, "Content not JSON.") from None
    if not isinstance(body, dict):
        raise MatrixError("M_BAD_JSON", 400, "Request body must be a JSON object")
    return body


def validation_message(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    return f"{loc}: {first['msg']}" if loc else first["msg"]


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise MatrixError("M_BAD_JSON", 400, validation_message(e)) from None


async def read_model(request: web.Request, model: type[M], *, allow_empty: bool = False) -> M:
    return parse_model(model, await read_json_object(request, allow_empty=allow_empty))


def access_token_of(request: web.Request) -> str | None:
    # spec: client-server-api/_index.md, "Using access tokens" — header preferred,
    # query parameter still accepted (deprecated).
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MatrixError("M_MISSING_TOKEN", 401, "Invalid Authorization header")
        return token.strip()
    return request.query.get("access_token")


async def require_user(request: web.Request) -> Requester:
    token = access_token_of(request)
    if token is None:
        raise MatrixError("M_MISSING_TOKEN", 401, "Missing access token")
    return await _requester(request, token)


async def optional_user(request: web.Request) -> Requester | None:
    token = access_token_of(request)
    if token is None:
        return None
    return await _requester(request, token)


# spec: application-service-api.md, "Identity assertion"; MSC3202 names the device.
APPSERVICE_DEVICE_PARAMS = ("org.matrix.msc3202.device_id",)


async def _requester(request: web.Request, token: str) -> Requester:
    device_id = next((request.query[p] for p in APPSERVICE_DEVICE_PARAMS if p in request.query), None)
    return await get_hs(request).auth.get_requester(
        token, client_ip(request), as_user_id=request.query.get("user_id"), as_device_id=device_id
    )


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"


def query_int(
    request: web.Request, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise MatrixError("M_INVALID_PARAM", 400, f"{name} must be an integer") from None
    if value < minimum:
        raise MatrixError("M_INVALID_PARAM", 400, f"{name} must be >= {minimum}")
    if maximum is not None and value > maximum:
        value = maximum
    return value


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise MatrixError("M_INVALID_PARAM", 400, f"{name} must be true or false")
