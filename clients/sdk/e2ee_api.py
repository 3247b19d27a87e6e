"""Sans-I/O request builders for the end-to-end encryption endpoints.

spec: data/api/client-server/keys.yaml and to_device.yaml.
"""

from __future__ import annotations

from typing import Any

from clients.sdk.api import CLIENT_V3, Request, q


def keys_upload(
    device_keys: dict[str, Any] | None = None,
    one_time_keys: dict[str, Any] | None = None,
    fallback_keys: dict[str, Any] | None = None,
) -> Request:
    body: dict[str, Any] = {}
    if device_keys:
        body["device_keys"] = device_keys
    if one_time_keys:
        body["one_time_keys"] = one_time_keys
    if fallback_keys:
        body["fallback_keys"] = fallback_keys
    return Request("POST", f"{CLIENT_V3}/keys/upload", json=body)


def keys_query(user_ids: list[str], timeout_ms: int = 10_000) -> Request:
    body = {"device_keys": {user_id: [] for user_id in user_ids}, "timeout": timeout_ms}
    return Request("POST", f"{CLIENT_V3}/keys/query", json=body)


def keys_claim(wanted: dict[str, dict[str, str]], timeout_ms: int = 10_000) -> Request:
    return Request("POST", f"{CLIENT_V3}/keys/claim", json={"one_time_keys": wanted, "timeout": timeout_ms})


def send_to_device(event_type: str, txn_id: str, messages: dict[str, dict[str, Any]]) -> Request:
    return Request(
        "PUT", f"{CLIENT_V3}/sendToDevice/{q(event_type)}/{q(txn_id)}", json={"messages": messages}
    )
