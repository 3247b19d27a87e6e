"""Sans-I/O request builders for the Client-Server API.

Each function returns a :class:`Request` (method, path, query, body) and never
touches the network; :mod:`clients.sdk.transport` sends them. Paths follow
data/api/client-server/*.yaml; every path parameter is percent-encoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

CLIENT_V3 = "/_matrix/client/v3"
CLIENT_V1 = "/_matrix/client/v1"
MEDIA_V3 = "/_matrix/media/v3"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: bytes | None = None
    content_type: str | None = None
    requires_auth: bool = True
    # Seconds to wait for the answer; None means the transport's default.
    timeout: float | None = None


def q(part: str) -> str:
    """Percent-encode one path segment (user IDs, room IDs, event IDs all contain reserved bytes)."""
    return quote(part, safe="")


def _query(**params: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict | list):
            out[key] = orjson.dumps(value).decode()
        else:
            out[key] = str(value)
    return out


# --- accounts ------------------------------------------------------------------------
def register(
    username: str,
    password: str,
    *,
    auth: dict[str, Any] | None = None,
    device_name: str | None = None,
    device_id: str | None = None,
    refresh_token: bool = False,
) -> Request:
    body: dict[str, Any] = {"username": username, "password": password}
    if refresh_token:
        body["refresh_token"] = True
    if auth is not None:
        body["auth"] = auth
    if device_name is not None:
        body["initial_device_display_name"] = device_name
    if device_id is not None:
        body["device_id"] = device_id
    return Request("POST", f"{CLIENT_V3}/register", json=body, requires_auth=False)


def login_password(
    user: str,
    password: str,
    *,
    device_name: str | None = None,
    device_id: str | None = None,
    refresh_token: bool = False,
) -> Request:
    body: dict[str, Any] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    }
    if refresh_token:
        body["refresh_token"] = True
    if device_name is not None:
        body["initial_device_display_name"] = device_name
    if device_id is not None:
        body["device_id"] = device_id
    return Request("POST", f"{CLIENT_V3}/login", json=body, requires_auth=False)


def change_password(
    new_password: str, *, auth: dict[str, Any] | None = None, logout_devices: bool = False
) -> Request:
    """spec: password_management.yaml, POST /account/password (User-Interactive Authentication)."""
    body: dict[str, Any] = {"new_password": new_password, "logout_devices": logout_devices}
    if auth is not None:
        body["auth"] = auth
    return Request("POST", f"{CLIENT_V3}/account/password", json=body)


def refresh(refresh_token: str) -> Request:
    """spec: refresh.yaml — sent without the (possibly expired) access token."""
    return Request("POST", f"{CLIENT_V3}/refresh", json={"refresh_token": refresh_token}, requires_auth=False)


def logout() -> Request:
    return Request("POST", f"{CLIENT_V3}/logout", json={})


def logout_all() -> Request:
    return Request("POST", f"{CLIENT_V3}/logout/all", json={})


def whoami() -> Request:
    return Request("GET", f"{CLIENT_V3}/account/whoami")


def versions() -> Request:
    return Request("GET", "/_matrix/client/versions", requires_auth=False)


# --- sync ----------------------------------------------------------------------------
def sync(
    since: str | None = None,
    *,
    timeout_ms: int = 0,
    filter: dict[str, Any] | str | None = None,
    set_presence: str | None = None,
    full_state: bool = False,
) -> Request:
    query = _query(
        since=since,
        timeout=timeout_ms,
        filter=filter,
        set_presence=set_presence,
        full_state=True if full_state else None,
    )
    # The long-poll itself lasts timeout_ms; give the answer some slack on top.
    return Request("GET", f"{CLIENT_V3}/sync", query=query, timeout=timeout_ms / 1000 + 30)


# --- room events ---------------------------------------------------------------------
def room_send(room_id: str, event_type: str, content: dict[str, Any], txn_id: str) -> Request:
    return Request(
        "PUT", f"{CLIENT_V3}/rooms/{q(room_id)}/send/{q(event_type)}/{q(txn_id)}", json=content
    )


def room_put_state(
    room_id: str, event_type: str, content: dict[str, Any], state_key: str = ""
) -> Request:
    return Request(
        "PUT", f"{CLIENT_V3}/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}", json=content
    )


def room_get_state_event(room_id: str, event_type: str, state_key: str = "") -> Request:
    return Request("GET", f"{CLIENT_V3}/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}")


def room_get_state(room_id: str) -> Request:
    return Request("GET", f"{CLIENT_V3}/rooms/{q(room_id)}/state")


def room_redact(room_id: str, event_id: str, txn_id: str, reason: str | None = None) -> Request:
    body: dict[str, Any] = {} if reason is None else {"reason": reason}
    return Request(
        "PUT", f"{CLIENT_V3}/rooms/{q(room_id)}/redact/{q(event_id)}/{q(txn_id)}", json=body
    )


def room_messages(
    room_id: str,
    *,
    start: str | None = None,
    direction: str = "b",
    limit: int = 10,
    end: str | None = None,
    filter: dict[str, Any] | None = None,
) -> Request:
    query = _query(**{"from": start}, dir=direction, limit=limit, to=end, filter=filter)
    return Request("GET", f"{CLIENT_V3}/rooms/{q(room_id)}/messages", query=query)


def room_get_event(room_id: str, event_id: str) -> Request:
    return Request("GET", f"{CLIENT_V3}/rooms/{q(room_id)}/event/{q(event_id)}")


def room_members(room_id: str) -> Request:
    return Request("GET", f"{CLIENT_V3}/rooms/{q(room_id)}/members")


def joined_members(room_id: str) -> Request:
    return Request("GET", f"{CLIENT_V3}/rooms/{q(room_id)}/joined_members")


# --- membership ------------------------------------------------------------------------
def create_room(body: dict[str, Any]) -> Request:
    return Request("POST", f"{CLIENT_V3}/createRoom", json=body)


def join(room_id_or_alias: str, *, via: list[str] | None = None, reason: str | None = None) -> Request:
    body: dict[str, Any] = {} if reason is None else {"reason": reason}
    # spec: `via` (v1.12) replaces `server_name`; send both for older servers.
    query = {"via": via[0], "server_name": via[0]} if via else {}
    return Request("POST", f"{CLIENT_V3}/join/{q(room_id_or_alias)}", query=query, json=body)


def knock(room_id_or_alias: str, *, reason: str | None = None) -> Request:
    body: dict[str, Any] = {} if reason is None else {"reason": reason}
    return Request("POST", f"{CLIENT_V3}/knock/{q(room_id_or_alias)}", json=body)


def leave(room_id: str, reason: str | None = None) -> Request:
    body: dict[str, Any] = {} if reason is None else {"reason": reason}
    return Request("POST", f"{CLIENT_V3}/rooms/{q(room_id)}/leave", json=body)


def forget(room_id: str) -> Request:
    return Request("POST", f"{CLIENT_V3}/rooms/{q(room_id)}/forget", json={})


def _membership(action: str, room_id: str, user_id: str, reason: str | None) -> Request:
    body: dict[str, Any] = {"user_id": user_id}
    if reason is not None:
        body["reason"] = reason
    return Request("POST", f"{CLIENT_V3}/rooms/{q(room_id)}/{action}", json=body)


def invite(room_id: str, user_id: str, reason: str | None = None) -> Request:
    return _membership("invite", room_id, user_id, reason)


def kick(room_id: str, user_id: str, reason: str | None = None) -> Request:
    return _membership("kick", room_id, user_id, reason)


def ban(room_id: str, user_id: str, reason: str | None = None) -> Request:
    return _membership("ban", room_id, user_id, reason)


def unban(room_id: str, user_id: str, reason: str | None = None) -> Request:
    return _membership("unban", room_id, user_id, reason)


def joined_rooms() -> Request:
    return Request("GET", f"{CLIENT_V3}/joined_rooms")


def resolve_alias(alias: str) -> Request:
    return Request("GET", f"{CLIENT_V3}/directory/room/{q(alias)}")


# --- ephemeral: typing, receipts, presence -------------------------------------------------
def typing(room_id: str, user_id: str, typing: bool, timeout_ms: int = 30000) -> Request:
    body: dict[str, Any] = {"typing": typing}
    if typing:
        body["timeout"] = timeout_ms
    return Request("PUT", f"{CLIENT_V3}/rooms/{q(room_id)}/typing/{q(user_id)}", json=body)


def receipt(room_id: str, event_id: str, receipt_type: str = "m.read") -> Request:
    return Request(
        "POST", f"{CLIENT_V3}/rooms/{q(room_id)}/receipt/{q(receipt_type)}/{q(event_id)}", json={}
    )


def read_markers(room_id: str, fully_read: str, read: str | None = None) -> Request:
    body: dict[str, Any] = {"m.fully_read": fully_read}
    if read is not None:
        body["m.read"] = read
    return Request("POST", f"{CLIENT_V3}/rooms/{q(room_id)}/read_markers", json=body)


def set_presence(user_id: str, presence: str, status_msg: str | None = None) -> Request:
    body: dict[str, Any] = {"presence": presence}
    if status_msg is not None:
        body["status_msg"] = status_msg
    return Request("PUT", f"{CLIENT_V3}/presence/{q(user_id)}/status", json=body)


def get_presence(user_id: str) -> Request:
    return Request("GET", f"{CLIENT_V3}/presence/{q(user_id)}/status")


# --- profile and user directory --------------------------------------------------------
def get_profile(user_id: str) -> Request:
    return Request("GET", f"{CLIENT_V3}/profile/{q(user_id)}")


def set_displayname(user_id: str, displayname: str) -> Request:
    return Request(
        "PUT", f"{CLIENT_V3}/profile/{q(user_id)}/displayname", json={"displayname": displayname}
    )


def set_avatar_url(user_id: str, avatar_url: str) -> Request:
    return Request(
        "PUT", f"{CLIENT_V3}/profile/{q(user_id)}/avatar_url", json={"avatar_url": avatar_url}
    )


def search_users(term: str, limit: int = 10) -> Request:
    return Request(
        "POST", f"{CLIENT_V3}/user_directory/search", json={"search_term": term, "limit": limit}
    )


def search_messages(
    term: str, *, rooms: list[str] | None = None, order_by: str = "rank", limit: int = 10,
    next_batch: str | None = None,
) -> Request:
    """spec: POST /search, the room_events category."""
    room_filter: dict[str, Any] = {"limit": limit}
    if rooms is not None:
        room_filter["rooms"] = rooms
    criteria = {"search_term": term, "order_by": order_by, "filter": room_filter}
    query = {"next_batch": next_batch} if next_batch else {}
    return Request("POST", f"{CLIENT_V3}/search", query=query,
                   json={"search_categories": {"room_events": criteria}})


def space_hierarchy(
    room_id: str, *, limit: int | None = None, max_depth: int | None = None,
    suggested_only: bool = False, from_token: str | None = None,
) -> Request:
    query: dict[str, str] = {}
    if limit is not None:
        query["limit"] = str(limit)
    if max_depth is not None:
        query["max_depth"] = str(max_depth)
    if suggested_only:
        query["suggested_only"] = "true"
    if from_token:
        query["from"] = from_token
    return Request("GET", f"/_matrix/client/v1/rooms/{q(room_id)}/hierarchy", query=query)


# --- account data -----------------------------------------------------------------------
def get_account_data(user_id: str, event_type: str) -> Request:
    return Request("GET", f"{CLIENT_V3}/user/{q(user_id)}/account_data/{q(event_type)}")


def set_account_data(user_id: str, event_type: str, content: dict[str, Any]) -> Request:
    return Request(
        "PUT", f"{CLIENT_V3}/user/{q(user_id)}/account_data/{q(event_type)}", json=content
    )


def upload_filter(user_id: str, filter: dict[str, Any]) -> Request:
    return Request("POST", f"{CLIENT_V3}/user/{q(user_id)}/filter", json=filter)


# --- media ----------------------------------------------------------------------------
def upload(data: bytes, content_type: str, filename: str | None = None) -> Request:
    query = {"filename": filename} if filename else {}
    return Request(
        "POST", f"{MEDIA_V3}/upload", query=query, data=data, content_type=content_type, timeout=300
    )


def parse_mxc(uri: str) -> tuple[str, str]:
    """('server', 'media_id') of an mxc:// URI; ValueError if it is not one."""
    if not uri.startswith("mxc://"):
        raise ValueError(f"not an mxc:// URI: {uri!r}")
    server, _, media_id = uri[len("mxc://"):].partition("/")
    if not server or not media_id or "/" in media_id:
        raise ValueError(f"malformed mxc:// URI: {uri!r}")
    return server, media_id


def download(mxc_uri: str) -> Request:
    # spec: authenticated media (v1.11), client-server-api "Content repository".
    server, media_id = parse_mxc(mxc_uri)
    return Request("GET", f"{CLIENT_V1}/media/download/{q(server)}/{q(media_id)}", timeout=300)


def thumbnail(mxc_uri: str, width: int, height: int, method: str = "scale") -> Request:
    server, media_id = parse_mxc(mxc_uri)
    return Request(
        "GET", f"{CLIENT_V1}/media/thumbnail/{q(server)}/{q(media_id)}",
        query=_query(width=width, height=height, method=method), timeout=60,
    )


def media_http_url(homeserver: str, mxc_uri: str) -> str:
    """A plain HTTP link for an mxc:// URI (the unauthenticated v3 download path, for a browser)."""
    server, media_id = parse_mxc(mxc_uri)
    return f"{homeserver.rstrip('/')}{MEDIA_V3}/download/{q(server)}/{q(media_id)}"
