"""Signed key objects of end-to-end encryption (pure): who signed them, with which key.

spec: client-server-api, "Signing JSON" as used by device keys, one-time keys and
cross-signing keys.
"""

from __future__ import annotations

from typing import Any

from federation.crypto.signing import SignatureError, decode_verify_key, verify_json_signature
from homeserver.errors import MatrixError

JsonObject = dict[str, Any]


def invalid_signature(message: str) -> MatrixError:
    return MatrixError("M_INVALID_SIGNATURE", 400, message)


def check_signed(obj: JsonObject, user_id: str, key_id: str, public_key_base64: str) -> None:
    """Raise M_INVALID_SIGNATURE unless ``obj`` is signed by ``user_id`` with ``key_id``."""
    try:
        verify_json_signature(obj, user_id, key_id, decode_verify_key(public_key_base64))
    except (SignatureError, ValueError) as e:
        raise invalid_signature(f"Invalid signature by {user_id} {key_id}: {e}") from None


def signatures_of(obj: JsonObject) -> dict[str, dict[str, str]]:
    """A copy of ``obj``'s well-formed signatures (other entries are dropped)."""
    raw = obj.get("signatures")
    if not isinstance(raw, dict):
        return {}
    return {
        signer: {k: v for k, v in sigs.items() if isinstance(v, str)}
        for signer, sigs in raw.items()
        if isinstance(sigs, dict)
    }


def device_ed25519_key(device_keys: JsonObject, device_id: str) -> str | None:
    keys = device_keys.get("keys")
    key = keys.get(f"ed25519:{device_id}") if isinstance(keys, dict) else None
    return key if isinstance(key, str) else None
