"""X-Matrix request authentication (pure).

spec: server-server-api.md, "Request Authentication". The signed object is
``{method, uri, origin, destination[, content]}``; ``uri`` is the path and
query exactly as they travel on the wire (SYNAPSE.md §5: percent-encoding
included), so the receiver must verify against the *raw* request target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from federation.crypto.signing import (
    SignatureError,
    SigningKey,
    get_signature,
    sign_json,
    verify_json_signature,
)
from schemas.identifiers import is_valid_server_name

X_MATRIX_SCHEME = "X-Matrix"


class XMatrixHeaderError(ValueError):
    """The Authorization header is not a well-formed X-Matrix header."""


@dataclass(frozen=True, slots=True)
class XMatrixAuth:
    origin: str
    key_id: str
    signature: str
    destination: str | None


def request_json(
    method: str, uri: str, origin: str, destination: str, content: Any = None
) -> dict[str, Any]:
    """The object whose signature authenticates a request (step 1 of the spec)."""
    obj: dict[str, Any] = {
        "method": method.upper(),
        "uri": uri,
        "origin": origin,
        "destination": destination,
    }
    if content is not None:
        obj["content"] = content
    return obj


def sign_request(
    key: SigningKey, origin: str, destination: str, method: str, uri: str, content: Any = None
) -> str:
    """The ``Authorization`` header value for a request (step 2 of the spec)."""
    signed = sign_json(request_json(method, uri, origin, destination, content), origin, key)
    sig = get_signature(signed, origin, key.key_id)
    # Lower-case names, no spaces, quoted values: what older servers parse.
    return (
        f'{X_MATRIX_SCHEME} origin="{origin}",destination="{destination}",'
        f'key="{key.key_id}",sig="{sig}"'
    )


# RFC 9110 §5.6.2 token characters; values that are not tokens must be quoted.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# name = ( quoted-string | token | anything without comma, for colons in old servers )
_PARAM = re.compile(
    r'[ \t]*(' + _TOKEN + r')[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^,"]*?))[ \t]*(?:,|$)',
    re.DOTALL,
)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


def parse_x_matrix_header(value: str) -> XMatrixAuth:
    """Parse ``X-Matrix origin=...,key=...,sig=...[,destination=...]``.

    Names are case-insensitive; values may be quoted (with backslash escapes,
    commas allowed inside) or bare tokens; bare values may contain colons.
    Unknown parameters are ignored.
    """
    scheme, sep, rest = value.strip().partition(" ")
    if scheme.lower() != X_MATRIX_SCHEME.lower() or not sep:
        raise XMatrixHeaderError("Authorization scheme is not X-Matrix")
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            raise XMatrixHeaderError(f"malformed X-Matrix parameter near {rest[position:position + 20]!r}")
        name = match.group(1).lower()
        quoted, bare = match.group(2), match.group(3)
        params[name] = _UNESCAPE.sub(r"\1", quoted) if quoted is not None else bare.strip()
        position = match.end()
    for required in ("origin", "key", "sig"):
        if not params.get(required):
            raise XMatrixHeaderError(f"X-Matrix header has no {required}")
    if not is_valid_server_name(params["origin"]):
        raise XMatrixHeaderError("X-Matrix origin is not a valid server name")
    return XMatrixAuth(
        origin=params["origin"],
        key_id=params["key"],
        signature=params["sig"],
        destination=params.get("destination") or None,
    )


def verify_request(
    auth: XMatrixAuth,
    method: str,
    uri: str,
    my_server_name: str,
    content: Any,
    verify_key_bytes: bytes,
) -> None:
    """Check the signature of an inbound request; raise ``SignatureError``.

    The destination we sign over is always our own name: a header naming a
    different destination is refused before any signature work.
    """
    if auth.destination is not None and auth.destination != my_server_name:
        raise SignatureError(
            f"request is addressed to {auth.destination}, not to this server ({my_server_name})"
        )
    obj = request_json(method, uri, auth.origin, my_server_name, content)
    obj["signatures"] = {auth.origin: {auth.key_id: auth.signature}}
    verify_json_signature(obj, auth.origin, auth.key_id, verify_key_bytes)
