"""Sans-I/O response handling: decode bodies, turn error answers into exceptions,
and parse the answers the SDK relies on into typed objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from clients.sdk.errors import MatrixRequestError
from clients.sdk.jsonutil import as_dict


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", self.headers.get("Content-Type", ""))


def decode_json(body: bytes) -> Any:
    if not body:
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def error_from(response: Response) -> MatrixRequestError:
    """The exception for a non-2xx answer (spec: "Standard error response")."""
    data = decode_json(response.body)
    if isinstance(data, dict):
        errcode = str(data.get("errcode") or f"HTTP_{response.status}")
        message = str(data.get("error") or "")
        retry = data.get("retry_after_ms")
    else:
        errcode = f"HTTP_{response.status}"
        message = response.body[:200].decode("utf-8", "replace")
        retry = None
    if not isinstance(retry, int):
        retry = None
        header = {k.lower(): v for k, v in response.headers.items()}.get("retry-after")
        if header is not None and header.strip().isdigit():
            retry = int(header.strip()) * 1000
    return MatrixRequestError(response.status, errcode, message, retry, data)


def json_body(response: Response) -> Any:
    """The decoded JSON of a 2xx answer; raise MatrixRequestError otherwise."""
    if not 200 <= response.status < 300:
        raise error_from(response)
    data = decode_json(response.body)
    if data is None:
        raise MatrixRequestError(response.status, "M_NOT_JSON", "response is not JSON")
    return data


def _require(data: Any, key: str, kind: type) -> Any:
    if not isinstance(data, dict) or not isinstance(data.get(key), kind):
        raise MatrixRequestError(200, "M_BAD_RESPONSE", f"response lacks {key!r}", body=data)
    return data[key]


# --- accounts ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Session:
    """Credentials from /login or /register."""

    user_id: str
    access_token: str
    device_id: str
    # Only when refresh tokens were asked for (spec: "Refreshing access tokens").
    refresh_token: str | None = None
    expires_in_ms: int | None = None


def _optional(data: Any, key: str, kind: type) -> Any:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def parse_session(data: Any) -> Session:
    return Session(
        user_id=_require(data, "user_id", str),
        access_token=_require(data, "access_token", str),
        device_id=_require(data, "device_id", str),
        refresh_token=_optional(data, "refresh_token", str),
        expires_in_ms=_optional(data, "expires_in_ms", int),
    )


@dataclass(frozen=True, slots=True)
class RefreshedTokens:
    """The answer of POST /refresh; ``refresh_token`` absent means keep the old one."""

    access_token: str
    refresh_token: str | None
    expires_in_ms: int | None


def parse_refreshed_tokens(data: Any) -> RefreshedTokens:
    return RefreshedTokens(
        access_token=_require(data, "access_token", str),
        refresh_token=_optional(data, "refresh_token", str),
        expires_in_ms=_optional(data, "expires_in_ms", int),
    )


def is_soft_logout(response: Response) -> bool:
    """An expired access token: 401 M_UNKNOWN_TOKEN with soft_logout true (spec: "Soft logout")."""
    if response.status != 401:
        return False
    data = decode_json(response.body)
    return isinstance(data, dict) and data.get("errcode") == "M_UNKNOWN_TOKEN" and data.get("soft_logout") is True


@dataclass(frozen=True, slots=True)
class AuthChallenge:
    """A 401 user-interactive auth answer (spec: "User-Interactive Authentication API")."""

    session: str | None
    flows: list[list[str]]
    params: dict[str, Any] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    errcode: str | None = None
    error: str | None = None

    def next_stage(self, supported: set[str]) -> tuple[list[str], str] | None:
        """(flow, stage) to attempt next: the first flow made only of supported stages
        whose completed prefix matches, and its first uncompleted stage."""
        for flow in self.flows:
            if not set(flow) <= supported:
                continue
            if flow[: len(self.completed)] != self.completed or len(flow) <= len(self.completed):
                continue
            return flow, flow[len(self.completed)]
        return None


def parse_auth_challenge(error: MatrixRequestError) -> AuthChallenge | None:
    """The UIA challenge carried by a 401, or None for an ordinary 401."""
    data = error.body
    if error.status != 401 or not isinstance(data, dict) or not isinstance(data.get("flows"), list):
        return None
    flows = [
        [str(s) for s in f.get("stages", [])]
        for f in data["flows"]
        if isinstance(f, dict) and isinstance(f.get("stages"), list)
    ]
    return AuthChallenge(
        session=data.get("session") if isinstance(data.get("session"), str) else None,
        flows=flows,
        params=as_dict(data.get("params")),
        completed=[str(s) for s in data.get("completed", []) if isinstance(s, str)],
        errcode=data.get("errcode"),
        error=data.get("error"),
    )


@dataclass(frozen=True, slots=True)
class Whoami:
    user_id: str
    device_id: str | None


def parse_whoami(data: Any) -> Whoami:
    device = data.get("device_id") if isinstance(data, dict) else None
    return Whoami(_require(data, "user_id", str), device if isinstance(device, str) else None)


# --- rooms and events ------------------------------------------------------------------------
def parse_event_id(data: Any) -> str:
    return str(_require(data, "event_id", str))


def parse_room_id(data: Any) -> str:
    return str(_require(data, "room_id", str))


@dataclass(frozen=True, slots=True)
class MessagesPage:
    """One page of /messages: events in the direction asked, and where to continue."""

    chunk: list[dict[str, Any]]
    start: str
    end: str | None
    state: list[dict[str, Any]]


def parse_messages(data: Any) -> MessagesPage:
    chunk = [e for e in _require(data, "chunk", list) if isinstance(e, dict)]
    end = data.get("end")
    state = data.get("state")
    return MessagesPage(
        chunk=chunk,
        start=str(data.get("start", "")),
        end=end if isinstance(end, str) else None,
        state=[e for e in state if isinstance(e, dict)] if isinstance(state, list) else [],
    )


@dataclass(frozen=True, slots=True)
class UserSearchResult:
    user_id: str
    display_name: str | None
    avatar_url: str | None


def parse_user_search(data: Any) -> tuple[list[UserSearchResult], bool]:
    results = []
    for item in _require(data, "results", list):
        if isinstance(item, dict) and isinstance(item.get("user_id"), str):
            results.append(
                UserSearchResult(item["user_id"], item.get("display_name"), item.get("avatar_url"))
            )
    return results, bool(data.get("limited", False))


@dataclass(frozen=True, slots=True)
class MessageSearchResult:
    room_id: str
    event: dict[str, Any]
    rank: float | None


def parse_message_search(data: Any) -> tuple[list[MessageSearchResult], str | None]:
    """(results, next_batch) of a POST /search answer."""
    category = _require(_require(data, "search_categories", dict), "room_events", dict)
    results = []
    for item in category.get("results", []):
        event = item.get("result") if isinstance(item, dict) else None
        if isinstance(event, dict) and isinstance(event.get("room_id"), str):
            rank = item.get("rank")
            results.append(MessageSearchResult(
                event["room_id"], event, float(rank) if isinstance(rank, int | float) else None
            ))
    token = category.get("next_batch")
    return results, token if isinstance(token, str) else None


@dataclass(frozen=True, slots=True)
class Profile:
    displayname: str | None
    avatar_url: str | None


def parse_profile(data: Any) -> Profile:
    if not isinstance(data, dict):
        return Profile(None, None)
    name = data.get("displayname")
    avatar = data.get("avatar_url")
    return Profile(name if isinstance(name, str) else None, avatar if isinstance(avatar, str) else None)


@dataclass(frozen=True, slots=True)
class Presence:
    presence: str
    last_active_ago: int | None
    status_msg: str | None
    currently_active: bool


def parse_presence(data: Any) -> Presence:
    return Presence(
        presence=str(_require(data, "presence", str)),
        last_active_ago=data.get("last_active_ago"),
        status_msg=data.get("status_msg"),
        currently_active=bool(data.get("currently_active", False)),
    )


def parse_content_uri(data: Any) -> str:
    return str(_require(data, "content_uri", str))
