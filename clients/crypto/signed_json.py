"""Matrix signed JSON for device keys and one-time keys.

spec: appendices.md, "Signing JSON" — the signature covers the canonical JSON
of the object without its `signatures` and `unsigned` members. The canonical
encoding is shared with the server side (`federation.crypto`), as the
architecture allows for signing helpers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from clients.crypto.encoding import decode_base64
from clients.crypto.errors import DecodeError, SignatureError
from clients.crypto.primitives import ed25519_verify
from federation.crypto.signing import encode_json_for_signing

JsonObject = dict[str, Any]


def signing_bytes(obj: JsonObject) -> bytes:
    """The bytes that a signature of `obj` covers."""
    return encode_json_for_signing(obj)


def add_signature(
    obj: JsonObject, signer: str, key_id: str, sign: Callable[[bytes], str]
) -> JsonObject:
    """Return a copy of `obj` with `signatures[signer][key_id]` set to `sign(signing_bytes)`."""
    signed = copy.deepcopy(obj)
    signature = sign(signing_bytes(obj))
    signed.setdefault("signatures", {}).setdefault(signer, {})[key_id] = signature
    return signed


def verify_signature(obj: JsonObject, signer: str, key_id: str, ed25519_key: str) -> None:
    """Raise SignatureError unless `obj` carries a valid signature by `signer`/`key_id`
    made with the base64 Ed25519 public key `ed25519_key`."""
    try:
        signature = obj["signatures"][signer][key_id]
    except (KeyError, TypeError) as exc:
        raise SignatureError(f"no signature by {signer} with {key_id}") from exc
    if not isinstance(signature, str):
        raise SignatureError("signature is not a string")
    try:
        public, raw_signature = decode_base64(ed25519_key), decode_base64(signature)
    except DecodeError as exc:
        raise SignatureError(f"malformed key or signature: {exc}") from exc
    ed25519_verify(public, signing_bytes(obj), raw_signature)
