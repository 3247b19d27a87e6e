"""Client-Server API calls the scenarios need, over :class:`HomeserverClient`.

spec: data/api/client-server/{registration,create_room,joining,room_send,filter,
sync,message_pagination}.yaml
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson

from bench.http import HomeserverClient, HomeserverError, JsonDict, path_segment

CS = "/_matrix/client/v3"

# UIA stages this tool knows how to complete on /register.
DUMMY = "m.login.dummy"
REGISTRATION_TOKEN = "m.login.registration_token"

MARKER_KEY = "org.parley.bench.marker"
SENT_TS_KEY = "org.parley.bench.sent_ts"

_txn_counter = itertools.count()


@dataclass(frozen=True)
class Account:
    user_id: str
    access_token: str
    device_id: str


def next_uia_stage(
    flows: list[JsonDict], completed: list[str], have_token: bool
) -> str | None:
    """Pick the next stage of the first flow this tool can finish, or None.

    spec: client-server-api "User-interactive authentication API": a flow is a
    list of stages; ``completed`` lists those already done in this session.
    """
    supported = {DUMMY} | ({REGISTRATION_TOKEN} if have_token else set())
    for flow in flows:
        stages = list(flow.get("stages", []))
        if not set(stages) <= supported:
            continue
        if stages[: len(completed)] != completed:
            continue
        remaining = stages[len(completed):]
        if remaining:
            return remaining[0]
    return None


async def register(
    client: HomeserverClient,
    username: str,
    password: str,
    registration_token: str | None = None,
) -> Account:
    """Register with the user-interactive auth dance (dummy / registration token)."""
    body: JsonDict = {
        "username": username,
        "password": password,
        "initial_device_display_name": "parley-bench",
    }
    path = f"{CS}/register"
    status, data, _ = await client.request_raw("POST", path, body=body)
    for _stage in range(5):
        if status == 200:
            return Account(data["user_id"], data["access_token"], data.get("device_id", ""))
        if status != 401 or "flows" not in data:
            break
        stage = next_uia_stage(
            data.get("flows", []), list(data.get("completed", [])), registration_token is not None
        )
        if stage is None:
            raise HomeserverError(
                "POST", path, status, "BENCH_NO_FLOW",
                f"no completable flow in {data.get('flows')} (try --registration-token)",
            )
        auth: JsonDict = {"type": stage}
        if "session" in data:
            auth["session"] = data["session"]
        if stage == REGISTRATION_TOKEN:
            auth["token"] = registration_token
        status, data, _ = await client.request_raw("POST", path, body={**body, "auth": auth})
    errcode = str(data.get("errcode", f"HTTP_{status}"))
    client.errors[errcode] += 1
    raise HomeserverError("POST", path, status, errcode, str(data.get("error", "")))


def random_username(run_id: str, index: int) -> str:
    return f"bench_{run_id}_{index}"


def new_run_id() -> str:
    return secrets.token_hex(4)


async def create_room(client: HomeserverClient, account: Account, name: str) -> str:
    # A nonce in the create event: room versions 12+ derive the room id from its hash,
    # so two identical creates by one user in the same millisecond would collide.
    body = {"preset": "public_chat", "name": name, "visibility": "private",
            "creation_content": {"org.parley.bench.nonce": secrets.token_hex(8)}}
    data = await client.request("POST", f"{CS}/createRoom", access_token=account.access_token,
                                body=body)
    return str(data["room_id"])


async def join_room(client: HomeserverClient, account: Account, room_id: str) -> None:
    await client.request("POST", f"{CS}/join/{path_segment(room_id)}",
                         access_token=account.access_token, body={})


def new_txn_id() -> str:
    return f"b{time.time_ns()}.{next(_txn_counter)}"


def bench_content(marker: str | None = None, body: str = "bench") -> JsonDict:
    content: JsonDict = {"msgtype": "m.text", "body": body}
    if marker is not None:
        content[MARKER_KEY] = marker
        content[SENT_TS_KEY] = int(time.time() * 1000)
        content["body"] = f"{body} {marker}"
    return content


async def send_message(
    client: HomeserverClient, account: Account, room_id: str, content: JsonDict
) -> str:
    path = f"{CS}/rooms/{path_segment(room_id)}/send/m.room.message/{new_txn_id()}"
    data = await client.request("PUT", path, access_token=account.access_token, body=content)
    return str(data.get("event_id", ""))


def sync_filter(timeline_limit: int) -> JsonDict:
    """A small sync filter: short timeline, no presence or account data noise."""
    return {
        "room": {
            "timeline": {"limit": timeline_limit},
            "state": {"lazy_load_members": True},
            "account_data": {"not_types": ["*"]},
        },
        "presence": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    }


async def upload_filter(client: HomeserverClient, account: Account, filter_json: JsonDict) -> str:
    """Upload a filter (spec recommends ids for long polls); fall back to inline JSON."""
    path = f"{CS}/user/{path_segment(account.user_id)}/filter"
    try:
        data = await client.request("POST", path, access_token=account.access_token,
                                    body=filter_json)
        return str(data["filter_id"])
    except (HomeserverError, KeyError):
        return orjson.dumps(filter_json).decode()


@dataclass
class SyncResponse:
    body: JsonDict
    size: int

    @property
    def next_batch(self) -> str:
        return str(self.body["next_batch"])

    def timeline_events(self) -> list[tuple[str, JsonDict]]:
        """(room_id, event) for every joined-room timeline event."""
        out: list[tuple[str, JsonDict]] = []
        joined = self.body.get("rooms", {}).get("join", {})
        for room_id, room in joined.items():
            for event in room.get("timeline", {}).get("events", []):
                out.append((room_id, event))
        return out

    def limited_rooms(self) -> int:
        joined = self.body.get("rooms", {}).get("join", {})
        return sum(1 for room in joined.values() if room.get("timeline", {}).get("limited"))


async def sync(
    client: HomeserverClient,
    account: Account,
    *,
    since: str | None = None,
    timeout_ms: int = 0,
    filter_param: str | None = None,
    slack_s: float = 30.0,
) -> SyncResponse:
    params: dict[str, Any] = {"timeout": timeout_ms}
    if since is not None:
        params["since"] = since
    if filter_param is not None:
        params["filter"] = filter_param
    status, body, size = await client.request_raw(
        "GET", f"{CS}/sync", access_token=account.access_token, params=params,
        timeout_s=timeout_ms / 1000.0 + slack_s,
    )
    if status != 200 or "next_batch" not in body:
        errcode = str(body.get("errcode", f"HTTP_{status}"))
        client.errors[errcode] += 1
        raise HomeserverError("GET", "/sync", status, errcode, str(body.get("error", "")))
    return SyncResponse(body, size)


def marker_of(event: JsonDict) -> str | None:
    content = event.get("content")
    if isinstance(content, dict):
        marker = content.get(MARKER_KEY)
        if isinstance(marker, str):
            return marker
    return None


async def room_messages(
    client: HomeserverClient,
    account: Account,
    room_id: str,
    *,
    from_token: str | None,
    limit: int,
    direction: str = "b",
) -> JsonDict:
    params: dict[str, Any] = {"dir": direction, "limit": limit}
    if from_token is not None:
        params["from"] = from_token
    return await client.request(
        "GET", f"{CS}/rooms/{path_segment(room_id)}/messages",
        access_token=account.access_token, params=params,
    )
